// engine.gradients(RnnModel) on the CPU: the vanilla reference, or with
// batch.lengths the SequenceModel path (an RnnModel is one 'rnn' layer and a
// head, and equals the vanilla reference exactly without lengths).
import type { Batch, GradientResult, RnnModel } from '../types.js';
import type { Problem } from '../validate.js';
import { sequenceProblemOfRnn } from '../validate-sequence.js';
import { rnnAsSequence, rnnGradientsOf } from '../sequence-model.js';
import { cpuGradients } from './gradients.js';
import { cpuSequenceGradients } from './sequence/gradients.js';

export function cpuRnnGradients(model: RnnModel, batch: Batch, problem: Problem): GradientResult {
  if (!problem.lengths) return cpuGradients(model, batch, problem);
  const r = cpuSequenceGradients(rnnAsSequence(model), batch, sequenceProblemOfRnn(model.activation, problem, problem.lengths));
  return rnnGradientsOf(r);
}

// engine.gradients(RnnModel) on the CPU: the layer walk on the model's one-layer
// SequenceModel (rnnAsSequence: one 'rnn' layer whose single bias is bx, and a
// head), with or without lengths. Without lengths the walk runs the chapter's
// own step functions (runsChapterKernels, src/cpu/sequence/recipe.ts). The flat
// vector is the vanilla [Whx|Whh|Wqh|bh|bq] (sequenceLayoutOfRnn), as in the
// trainers and on the GPU, so the gradient norm sums its squares in that order.
import type { Batch, GradientResult, RnnModel } from '../types.js';
import type { Problem } from '../validate.js';
import { sequenceProblemOfRnn } from '../validate-sequence.js';
import { rnnAsSequence, rnnGradientsOf } from '../sequence-model.js';
import { sequenceLayoutOfRnn } from '../params.js';
import { cpuSequenceGradients } from './sequence/gradients.js';

export function cpuRnnGradients(model: RnnModel, batch: Batch, problem: Problem): GradientResult {
  const p = sequenceProblemOfRnn(model.activation, problem, problem.lengths ?? null);
  return rnnGradientsOf(cpuSequenceGradients(rnnAsSequence(model), batch, p, sequenceLayoutOfRnn(model)));
}

// engine.gradients(RnnModel) on the CPU: the vanilla reference, or with
// batch.lengths the SequenceModel path (an RnnModel is one 'rnn' layer and a
// head, and equals the vanilla reference exactly without lengths).
import type { Batch, GradientResult, RnnModel } from '../types.js';
import type { Problem } from '../validate.js';
import { sequenceProblemOfRnn } from '../validate-sequence.js';
import { rnnAsSequence } from '../sequence-model.js';
import { cpuGradients } from './gradients.js';
import { cpuSequenceGradients } from './sequence/gradients.js';

export function cpuRnnGradients(model: RnnModel, batch: Batch, problem: Problem): GradientResult {
  if (!problem.lengths) return cpuGradients(model, batch, problem);
  const r = cpuSequenceGradients(rnnAsSequence(model), batch, sequenceProblemOfRnn(model.activation, problem, problem.lengths));
  const result: GradientResult = {
    loss: r.loss,
    dWhx: r.layers[0].dWx,
    dWhh: r.layers[0].dWh,
    dWqh: r.head!.dW,
    dh0: r.dh0,
    hT: r.hT,
    gradNorm: r.gradNorm,
    clipped: r.clipped,
    nonFinite: r.nonFinite,
  };
  if (r.layers[0].dbx && r.head!.db) {
    result.dbh = r.layers[0].dbx;
    result.dbq = r.head!.db;
  }
  if (r.dx) result.dx = r.dx;
  if (r.gradNormPerStep) result.gradNormPerStep = r.gradNormPerStep;
  if (r.xi) result.xi = r.xi;
  return result;
}

// What a SequenceModel is made of, in one place: the gate count of each cell,
// the sizes of its layers, and the vanilla RnnModel as one case of it.
import type { AnyModel, CellKind, GradientResult, RnnModel, SequenceGradients, SequenceModel } from './types.js';

/** G: gate blocks per cell, stacked along the rows of Wx and Wh in PyTorch's order. */
export const GATES: Record<CellKind, number> = { rnn: 1, gru: 3, lstm: 4 };

/** Gs: values per hidden unit each forward step saves for the backward (rnn: none, it reads h_t; gru: r, z, n, gh_n; lstm: i, f, g, o). */
export const SAVED: Record<CellKind, number> = { rnn: 0, gru: 4, lstm: 4 };

export const CELLS: CellKind[] = ['rnn', 'gru', 'lstm'];

export function isSequenceModel(model: AnyModel): model is SequenceModel {
  return typeof model === 'object' && model !== null && 'cell' in model;
}

/** L, dirs and the input width of layer l (d for l = 0, dirs*h above). */
export function stackShape(model: SequenceModel): { L: number; dirs: number; G: number; inputWidth: (l: number) => number } {
  const L = model.numLayers ?? 1;
  const dirs = model.bidirectional ? 2 : 1;
  return { L, dirs, G: GATES[model.cell], inputWidth: (l) => (l === 0 ? model.inputSize : dirs * model.hiddenSize) };
}

/**
 * An RnnModel as a SequenceModel: one 'rnn' layer whose single bias bh is bx (there is no bh),
 * with the head (Wqh, bq). The arrays are shared, not copied. Internal: the public
 * validation asks for both biases or neither.
 */
export function rnnAsSequence(model: RnnModel): SequenceModel {
  const layer = model.bh ? { Wx: model.Whx, Wh: model.Whh, bx: model.bh } : { Wx: model.Whx, Wh: model.Whh };
  return {
    cell: 'rnn',
    inputSize: model.inputSize,
    hiddenSize: model.hiddenSize,
    activation: model.activation,
    layers: [layer],
    head: model.bq ? { outputSize: model.outputSize, W: model.Wqh, b: model.bq } : { outputSize: model.outputSize, W: model.Wqh },
  };
}

/** The GradientResult of an RnnModel from the gradients of its rnnAsSequence model (bx is bh, the head is Wqh, bq). */
export function rnnGradientsOf(r: SequenceGradients): GradientResult {
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

// Every parameter in one flat vector, [Whx | Whh | Wqh | bh | bq], the layout
// the optimizers, the gradient norm and the GPU parameter buffer all share.
import type { RnnModel } from './types.js';
import type { SequenceLayout } from './sequence-params.js';

export interface ParamLayout {
  Whx: number; // offsets, in elements
  Whh: number;
  Wqh: number;
  bh: number;
  bq: number;
  total: number; // with biases when the model has them
}

export function paramLayout(d: number, h: number, q: number, hasBias: boolean): ParamLayout {
  const Whx = 0;
  const Whh = Whx + h * d;
  const Wqh = Whh + h * h;
  const bh = Wqh + q * h;
  const bq = bh + h;
  return { Whx, Whh, Wqh, bh, bq, total: hasBias ? bq + q : bh };
}

export function layoutOf(model: RnnModel): ParamLayout {
  return paramLayout(model.inputSize, model.hiddenSize, model.outputSize, model.bh !== undefined);
}

/**
 * The vanilla layout seen as the layer walk's (rnnAsSequence: one 'rnn' layer whose single bias bh
 * is bx, the head Wqh, bq): the walk's kernels then read, and write gradients, in [Whx|Whh|Wqh|bh|bq].
 */
export function sequenceLayoutOfRnn(model: RnnModel): SequenceLayout {
  return rnnSequenceLayout(layoutOf(model), model.inputSize);
}

/** sequenceLayoutOfRnn from the sizes' layout (paramLayout) and the input size d. */
export function rnnSequenceLayout(L: ParamLayout, d: number): SequenceLayout {
  const bias = L.total > L.bh;
  return {
    layers: [{ Wx: L.Whx, Wh: L.Whh, bx: bias ? L.bh : -1, bh: -1, nIn: d }],
    head: { W: L.Wqh, b: bias ? L.bq : -1 },
    total: L.total,
  };
}

export function packParams(model: RnnModel): Float32Array {
  const L = layoutOf(model);
  const out = new Float32Array(L.total);
  out.set(model.Whx, L.Whx);
  out.set(model.Whh, L.Whh);
  out.set(model.Wqh, L.Wqh);
  if (model.bh && model.bq) {
    out.set(model.bh, L.bh);
    out.set(model.bq, L.bq);
  }
  return out;
}

/** A new RnnModel with the shape of `like` and the values of `flat` (copied). */
export function unpackParams(like: RnnModel, flat: Float32Array): RnnModel {
  const L = layoutOf(like);
  const model: RnnModel = {
    inputSize: like.inputSize,
    hiddenSize: like.hiddenSize,
    outputSize: like.outputSize,
    activation: like.activation,
    Whx: flat.slice(L.Whx, L.Whh),
    Whh: flat.slice(L.Whh, L.Wqh),
    Wqh: flat.slice(L.Wqh, L.bh),
  };
  if (like.bh) {
    model.bh = flat.slice(L.bh, L.bq);
    model.bq = flat.slice(L.bq, L.total);
  }
  return model;
}

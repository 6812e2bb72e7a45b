// Every parameter of a SequenceModel in one flat vector: for k = 0..L*dirs-1
// the layer-direction's Wx, Wh, bx, bh, then the head's W, b. The optimizers,
// the gradient norm and the GPU parameter buffer all share this layout.
import type { SequenceModel } from './types.js';
import { stackShape } from './sequence-model.js';

/** Parameters already on the device (a trainer's buffer) and where each tensor lies inside it. */
export interface DeviceParams {
  buffer: GPUBuffer;
  layout: SequenceLayout;
}

/** Offsets (in elements) of one layer-direction's tensors; bx, bh are -1 when absent. */
export interface LayerSlots {
  Wx: number;
  Wh: number;
  bx: number;
  bh: number;
  nIn: number; // the width of the layer's input
}

export interface SequenceLayout {
  layers: LayerSlots[];
  head: { W: number; b: number } | null; // b = -1 without a head bias
  total: number;
}

export function sequenceLayout(model: SequenceModel): SequenceLayout {
  const { L, dirs, G, inputWidth } = stackShape(model);
  const h = model.hiddenSize;
  const Gh = G * h;
  let at = 0;
  const layers: LayerSlots[] = [];
  for (let k = 0; k < L * dirs; k++) {
    const layer = model.layers[k];
    const nIn = inputWidth(Math.floor(k / dirs));
    const slots: LayerSlots = { Wx: at, Wh: at + Gh * nIn, bx: -1, bh: -1, nIn };
    at = slots.Wh + Gh * h;
    if (layer.bx) {
      slots.bx = at;
      at += Gh;
    }
    if (layer.bh) {
      slots.bh = at;
      at += Gh;
    }
    layers.push(slots);
  }
  let head: SequenceLayout['head'] = null;
  if (model.head) {
    const q = model.head.outputSize;
    head = { W: at, b: -1 };
    at += q * dirs * h;
    if (model.head.b) {
      head.b = at;
      at += q;
    }
  }
  return { layers, head, total: at };
}

/** The model's parameters in the flat layout. */
export function packSequence(model: SequenceModel, layout = sequenceLayout(model)): Float32Array {
  const out = new Float32Array(layout.total);
  model.layers.forEach((layer, k) => {
    const s = layout.layers[k];
    out.set(layer.Wx, s.Wx);
    out.set(layer.Wh, s.Wh);
    if (layer.bx) out.set(layer.bx, s.bx);
    if (layer.bh) out.set(layer.bh, s.bh);
  });
  if (model.head && layout.head) {
    out.set(model.head.W, layout.head.W);
    if (model.head.b) out.set(model.head.b, layout.head.b);
  }
  return out;
}

/** A new SequenceModel with the shape of `like` and the values of `flat` (copied into Float32Arrays). */
export function unpackSequence(like: SequenceModel, flat: ArrayLike<number>, layout = sequenceLayout(like)): SequenceModel {
  const h = like.hiddenSize;
  const take = (at: number, n: number) => Float32Array.from({ length: n }, (_, i) => flat[at + i]);
  const Gh = (layout.layers[0].Wh - layout.layers[0].Wx) / layout.layers[0].nIn;
  const model: SequenceModel = {
    cell: like.cell,
    inputSize: like.inputSize,
    hiddenSize: h,
    layers: layout.layers.map((s) => {
      const layer: SequenceModel['layers'][number] = { Wx: take(s.Wx, Gh * s.nIn), Wh: take(s.Wh, Gh * h) };
      if (s.bx >= 0) layer.bx = take(s.bx, Gh);
      if (s.bh >= 0) layer.bh = take(s.bh, Gh);
      return layer;
    }),
  };
  if (like.numLayers !== undefined) model.numLayers = like.numLayers;
  if (like.bidirectional !== undefined) model.bidirectional = like.bidirectional;
  if (like.activation !== undefined) model.activation = like.activation;
  if (like.head && layout.head) {
    const q = like.head.outputSize;
    model.head = { outputSize: q, W: take(layout.head.W, q * (like.bidirectional ? 2 : 1) * h) };
    if (layout.head.b >= 0) model.head.b = take(layout.head.b, q);
  }
  return model;
}

// The flat parameter vector of a SequenceModel, the layout the optimizers, the
// gradient norm and the GPU parameter buffer share: for each layer-direction
// k = l*dirs + dir, [Wx | Wh | bx | bh], then the head's [W | b].
import type { CellKind, SequenceModel } from './types.js';

/** Gate blocks per cell (MATH.md part 2): rnn a; gru r, z, n; lstm i, f, g, o. */
export const GATE_COUNT: Record<CellKind, number> = { rnn: 1, gru: 3, lstm: 4 };

export interface SequenceDims {
  cell: CellKind;
  d: number; // input size (vocabulary with token ids)
  h: number;
  L: number; // layers
  dirs: number; // 1 or 2
  G: number; // gate blocks
  q: number; // head outputs, 0 without a head
  hasBias: boolean; // bx and bh in every layer
  headBias: boolean;
}

export interface LayerOffsets {
  nIn: number; // columns of Wx: d for layer 0, dirs*h above
  Wx: number; // offsets in elements
  Wh: number;
  bx: number;
  bh: number;
  size: number; // elements of this layer-direction
}

export interface SequenceLayout {
  layers: LayerOffsets[]; // L*dirs entries
  headW: number;
  headB: number;
  total: number;
}

export function sequenceDims(model: SequenceModel): SequenceDims {
  const G = GATE_COUNT[model.cell];
  const hasBias = model.layers[0]?.bx !== undefined;
  return {
    cell: model.cell,
    d: model.inputSize,
    h: model.hiddenSize,
    L: model.numLayers ?? 1,
    dirs: model.bidirectional ? 2 : 1,
    G,
    q: model.head ? model.head.outputSize : 0,
    hasBias,
    headBias: model.head?.b !== undefined,
  };
}

export function sequenceLayout(s: SequenceDims): SequenceLayout {
  const layers: LayerOffsets[] = [];
  const gh = s.G * s.h;
  let at = 0;
  for (let k = 0; k < s.L * s.dirs; k++) {
    const nIn = k < s.dirs ? s.d : s.dirs * s.h;
    const Wx = at;
    const Wh = Wx + gh * nIn;
    const bx = Wh + gh * s.h;
    const bh = bx + (s.hasBias ? gh : 0);
    const end = bh + (s.hasBias ? gh : 0);
    layers.push({ nIn, Wx, Wh, bx, bh, size: end - at });
    at = end;
  }
  const headW = at;
  const headB = headW + s.q * s.dirs * s.h;
  const total = headB + (s.headBias ? s.q : 0);
  return { layers, headW, headB, total };
}

export function packSequence(model: SequenceModel): Float32Array {
  const lay = sequenceLayout(sequenceDims(model));
  const out = new Float32Array(lay.total);
  model.layers.forEach((layer, k) => {
    const o = lay.layers[k];
    out.set(layer.Wx, o.Wx);
    out.set(layer.Wh, o.Wh);
    if (layer.bx && layer.bh) {
      out.set(layer.bx, o.bx);
      out.set(layer.bh, o.bh);
    }
  });
  if (model.head) {
    out.set(model.head.W, lay.headW);
    if (model.head.b) out.set(model.head.b, lay.headB);
  }
  return out;
}

/** A new SequenceModel with the shape of `like` and the values of `flat` (copied). */
export function unpackSequence(like: SequenceModel, flat: Float32Array): SequenceModel {
  const s = sequenceDims(like);
  const lay = sequenceLayout(s);
  const model: SequenceModel = {
    cell: like.cell,
    inputSize: like.inputSize,
    hiddenSize: like.hiddenSize,
    numLayers: s.L,
    bidirectional: s.dirs === 2,
    layers: lay.layers.map((o) => {
      const w = { Wx: flat.slice(o.Wx, o.Wh), Wh: flat.slice(o.Wh, o.bx) };
      return s.hasBias ? { ...w, bx: flat.slice(o.bx, o.bh), bh: flat.slice(o.bh, o.Wx + o.size) } : w;
    }),
  };
  if (like.activation !== undefined) model.activation = like.activation;
  if (like.head) {
    model.head = { outputSize: s.q, W: flat.slice(lay.headW, lay.headB) };
    if (s.headBias) model.head.b = flat.slice(lay.headB, lay.total);
  }
  return model;
}

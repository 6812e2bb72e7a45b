// The character models the demo trains: d = q = 27 (one input and one output
// per symbol), weights from a seeded generator. The chapter's vanilla tanh RNN
// (one layer) is an RnnModel; a GRU, an LSTM or a stack is a SequenceModel
// with PyTorch's default initialisation.
import type { AnyModel, CellKind, RnnModel, SequenceModel } from '../../src/index.js';
import { makeRng, uniformArray } from '../../src/index.js';
import { recurrentMatrix } from './exercise.js';

/** Gate blocks per cell, stacked along the rows of Wx and Wh (MATH.md part 2). */
export const GATE_BLOCKS: Record<CellKind, number> = { rnn: 1, gru: 3, lstm: 4 };

/**
 * whhRadius > 0 starts W_hh as that multiple of a random orthogonal matrix
 * (spectral radius whhRadius), to watch gradients vanish (small) or explode
 * (large) in the heat map; 0 keeps the default uniform initialisation.
 */
export function initCharModel(vocabSize: number, hiddenSize: number, seed: number, whhRadius = 0): RnnModel {
  const rng = makeRng(seed);
  const s = 1 / Math.sqrt(hiddenSize);
  const model: RnnModel = {
    inputSize: vocabSize,
    hiddenSize,
    outputSize: vocabSize,
    activation: 'tanh',
    Whx: uniformArray(rng, hiddenSize * vocabSize, 0.5), // [h, d]: column id is the embedding of token id
    Whh: uniformArray(rng, hiddenSize * hiddenSize, s), // [h, h]
    Wqh: uniformArray(rng, vocabSize * hiddenSize, s), // [q, h]
    bh: new Float32Array(hiddenSize),
    bq: new Float32Array(vocabSize),
  };
  if (whhRadius > 0) model.Whh = recurrentMatrix('orthogonal', hiddenSize, whhRadius, seed + 1);
  return model;
}

export interface SequenceInit {
  cell: CellKind;
  numLayers: number;
  inputSize: number; // vocabulary (token ids)
  hiddenSize: number;
  outputSize: number; // 0: no head
  seed: number;
  whhRadius?: number; // > 0: every gate block of every Wh starts as whhRadius * (random orthogonal)
  gateBias?: number; // added to bh of the gate that keeps the state: lstm's forget gate f, gru's update gate z
}

/**
 * PyTorch's default initialisation (every weight and bias uniform in
 * +-1/sqrt(h)), except layer 0's Wx: with token ids its columns are the
 * embeddings, drawn in +-0.5 as the RnnModel's W_hx.
 */
export function initSequenceModel(o: SequenceInit): SequenceModel {
  const rng = makeRng(o.seed);
  const h = o.hiddenSize;
  const G = GATE_BLOCKS[o.cell];
  const s = 1 / Math.sqrt(h);
  const layers = Array.from({ length: o.numLayers }, (_, l) => {
    const nIn = l === 0 ? o.inputSize : h;
    const layer = {
      Wx: uniformArray(rng, G * h * nIn, l === 0 ? 0.5 : s),
      Wh: uniformArray(rng, G * h * h, s),
      bx: uniformArray(rng, G * h, s),
      bh: uniformArray(rng, G * h, s),
    };
    if (o.whhRadius && o.whhRadius > 0) {
      for (let g = 0; g < G; g++) layer.Wh.set(recurrentMatrix('orthogonal', h, o.whhRadius, o.seed + 31 * l + g + 1), g * h * h);
    }
    // the keep gate is block 1 in both cells' order: lstm (i, f, g, o), gru (r, z, n)
    if (o.gateBias && o.cell !== 'rnn') for (let i = h; i < 2 * h; i++) layer.bh[i] += o.gateBias;
    return layer;
  });
  const model: SequenceModel = { cell: o.cell, inputSize: o.inputSize, hiddenSize: h, numLayers: o.numLayers, layers };
  if (o.outputSize > 0) model.head = { outputSize: o.outputSize, W: uniformArray(rng, o.outputSize * h, s), b: new Float32Array(o.outputSize) };
  return model;
}

/** The demo's model for a cell and a depth: the chapter's RnnModel for one vanilla layer, else a SequenceModel. */
export function initDemoModel(c: { cell: CellKind; numLayers: number; hiddenSize: number; whhRadius: number }, vocabSize: number, seed: number): AnyModel {
  if (c.cell === 'rnn' && c.numLayers === 1) return initCharModel(vocabSize, c.hiddenSize, seed, c.whhRadius);
  return initSequenceModel({ cell: c.cell, numLayers: c.numLayers, inputSize: vocabSize, hiddenSize: c.hiddenSize, outputSize: vocabSize, seed, whhRadius: c.whhRadius });
}

/** Mean cross-entropy (nats per token) to perplexity. */
export function perplexity(loss: number): number {
  return Math.exp(loss);
}

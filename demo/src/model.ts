// The character model the demo trains: tanh RNN with biases, d = q = 27 (one
// input and one output per symbol), weights from a seeded generator.
import type { RnnModel } from '../../src/index.js';
import { makeRng, uniformArray } from '../../src/index.js';
import { recurrentMatrix } from './exercise.js';

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

/** Mean cross-entropy (nats per token) to perplexity. */
export function perplexity(loss: number): number {
  return Math.exp(loss);
}

// The character model the demo trains: tanh RNN with biases, d = q = 27 (one
// input and one output per symbol), weights from a seeded generator.
import type { RnnModel } from '../../src/index.js';
import { makeRng, uniformArray } from '../../src/index.js';

export function initCharModel(vocabSize: number, hiddenSize: number, seed: number): RnnModel {
  const rng = makeRng(seed);
  const s = 1 / Math.sqrt(hiddenSize);
  return {
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
}

/** Mean cross-entropy (nats per token) to perplexity. */
export function perplexity(loss: number): number {
  return Math.exp(loss);
}

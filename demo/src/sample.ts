// Text from the model after a prefix: the forward pass of MATH.md for one
// sequence (B = 1) in plain TypeScript, small enough to run in the worker
// between training steps. Greedy (argmax, as the chapter's predict does) or
// sampled with a temperature from a seeded generator.
import type { RnnModel } from '../../src/index.js';
import { makeRng } from '../../src/index.js';

export interface SampleOptions {
  length: number; // how many tokens to generate after the prefix
  temperature?: number; // 0 or absent: greedy
  seed?: number;
}

function activate(a: number, act: RnnModel['activation']): number {
  if (act === 'tanh') return Math.tanh(a);
  if (act === 'relu') return a > 0 ? a : 0;
  return a;
}

/** h <- phi(Whx[:, id] + Whh h + bh), in place. h is [h]. */
export function stepHidden(model: RnnModel, hState: Float64Array, id: number): void {
  const { hiddenSize: n, inputSize: d } = model;
  const next = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let a = model.Whx[i * d + id] + (model.bh ? model.bh[i] : 0);
    const row = i * n;
    for (let j = 0; j < n; j++) a += model.Whh[row + j] * hState[j];
    next[i] = activate(a, model.activation);
  }
  hState.set(next);
}

/** o = Wqh h + bq, [q]. */
export function outputLogits(model: RnnModel, hState: Float64Array): Float64Array {
  const { hiddenSize: n, outputSize: q } = model;
  const o = new Float64Array(q);
  for (let k = 0; k < q; k++) {
    let s = model.bq ? model.bq[k] : 0;
    for (let j = 0; j < n; j++) s += model.Wqh[k * n + j] * hState[j];
    o[k] = s;
  }
  return o;
}

/** The ids after `prefix`: warm up on the prefix, then feed each prediction back. */
export function sampleIds(model: RnnModel, prefix: Int32Array, options: SampleOptions): Int32Array {
  const hState = new Float64Array(model.hiddenSize);
  for (const id of prefix) stepHidden(model, hState, id);
  const rng = makeRng(options.seed ?? 1);
  const temperature = options.temperature ?? 0;
  const out = new Int32Array(options.length);
  for (let n = 0; n < options.length; n++) {
    const o = outputLogits(model, hState);
    const id = temperature > 0 ? drawSoftmax(o, temperature, rng()) : argmax(o);
    out[n] = id;
    stepHidden(model, hState, id);
  }
  return out;
}

export function argmax(o: ArrayLike<number>): number {
  let best = 0;
  for (let k = 1; k < o.length; k++) if (o[k] > o[best]) best = k;
  return best;
}

/** Index drawn from softmax(o / temperature) with the uniform number u in [0, 1). */
export function drawSoftmax(o: ArrayLike<number>, temperature: number, u: number): number {
  let m = -Infinity;
  for (let k = 0; k < o.length; k++) m = Math.max(m, o[k] / temperature);
  const p = new Float64Array(o.length);
  let z = 0;
  for (let k = 0; k < o.length; k++) z += p[k] = Math.exp(o[k] / temperature - m);
  let c = 0;
  for (let k = 0; k < o.length; k++) {
    c += p[k] / z;
    if (u < c) return k;
  }
  return o.length - 1;
}

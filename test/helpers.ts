// Shared test helpers: seeded random problems and llm.c-style comparisons.
import { expect } from 'vitest';
import { makeRng, uniformArray } from '../src/rng.js';
import type { Activation, Batch, LossKind, RnnModel } from '../src/types.js';

export interface ProblemSpec {
  T: number;
  B: number;
  d: number;
  h: number;
  q: number;
  activation?: Activation;
  bias?: boolean;
  loss?: LossKind;
  tokens?: boolean;
  h0?: boolean;
  dhT?: boolean;
  seed?: number;
  scale?: number; // weight scale
}

/** A random model and batch from a seeded generator. */
export function randomProblem(spec: ProblemSpec): { model: RnnModel; batch: Batch } {
  const { T, B, d, h, q, activation = 'tanh', bias = true, loss = 'cross-entropy', tokens = false, seed = 1 } = spec;
  const rng = makeRng(seed);
  const s = spec.scale ?? 0.5;
  const model: RnnModel = {
    inputSize: d,
    hiddenSize: h,
    outputSize: q,
    activation,
    Whx: uniformArray(rng, h * d, s / Math.sqrt(d)),
    Whh: uniformArray(rng, h * h, (1.5 * s) / Math.sqrt(h)),
    Wqh: uniformArray(rng, q * h, (2 * s) / Math.sqrt(h)),
  };
  if (bias) {
    model.bh = uniformArray(rng, h, 0.1);
    model.bq = uniformArray(rng, q, 0.1);
  }
  const x = tokens ? Int32Array.from({ length: T * B }, () => Math.floor(rng() * d)) : uniformArray(rng, T * B * d, 1);
  const batch: Batch = { steps: T, batchSize: B, x };
  if (loss === 'cross-entropy') batch.y = Int32Array.from({ length: T * B }, () => Math.floor(rng() * q));
  else if (loss === 'mse') batch.y = uniformArray(rng, T * B * q, 1);
  else batch.dO = uniformArray(rng, T * B * q, 0.1);
  if (spec.h0) batch.h0 = uniformArray(rng, B * h, 0.5);
  if (spec.dhT) batch.dhT = uniformArray(rng, B * h, 0.1);
  return { model, batch };
}

export interface Tolerance {
  rtol: number;
  atol: number;
}

/**
 * Per-element |got - want| <= atol + rtol * |want|. Reports non-finite values, the
 * first mismatches with their index, and the worst error; fails the test on any mismatch.
 * Returns the worst ratio |got - want| / (atol + rtol * |want|).
 */
export function expectClose(name: string, got: ArrayLike<number>, want: ArrayLike<number>, tol: Tolerance): number {
  expect(got.length, `${name}: length`).toBe(want.length);
  let worst = 0;
  let worstAt = -1;
  const bad: string[] = [];
  let nBad = 0;
  for (let i = 0; i < want.length; i++) {
    const g = got[i];
    const w = want[i];
    const bound = tol.atol + tol.rtol * Math.abs(w);
    const err = Math.abs(g - w);
    const ratio = Number.isFinite(g) && Number.isFinite(w) ? err / bound : Number.isNaN(g) !== Number.isNaN(w) || g !== w ? Infinity : 0;
    if (ratio > worst) {
      worst = ratio;
      worstAt = i;
    }
    if (!(ratio <= 1)) {
      nBad++;
      if (bad.length < 10) bad.push(`  [${i}] got ${g}, want ${w} (|diff| ${err.toExponential(3)} > ${bound.toExponential(3)})`);
    }
  }
  if (nBad > 0) {
    const msg = `${name}: ${nBad} of ${want.length} elements differ (rtol ${tol.rtol}, atol ${tol.atol}); worst at [${worstAt}], ratio ${worst.toFixed(2)}\n${bad.join('\n')}`;
    expect.fail(msg);
  }
  return worst;
}

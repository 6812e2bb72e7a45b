// The demo's exercise panel: the fitted slope of log ||dL/dh_t|| against t
// must be the eigenvalue power law's, -log(spectral radius), and the
// truncation comparison must show what the chapter says (unbiased randomized
// truncation, biased chunked and window truncation).
import { describe, expect, it } from 'vitest';
import { createEngine } from '../src/index.js';
import {
  compareTruncations,
  fitLine,
  orthogonalMatrix,
  recurrentMatrix,
  segmentLengths,
  spectralCurves,
  spectralRadiusSymmetric,
  linearTokenModel,
} from '../demo/src/exercise.js';
import { cleanText, encode, makeStreamBatcher, decode, VOCAB_SIZE } from '../demo/src/corpus.js';
import { readFileSync } from 'node:fs';

const RADII = [0.8, 0.9, 1.0, 1.1, 1.2];

describe('demo exercise: spectral radius and the power law', () => {
  it('makes an orthogonal matrix (Q^T Q = I) and a symmetric one of spectral radius 1', () => {
    const n = 16;
    const Q = orthogonalMatrix(n, 3);
    let worst = 0;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let k = 0; k < n; k++) s += Q[k * n + i] * Q[k * n + j];
        worst = Math.max(worst, Math.abs(s - (i === j ? 1 : 0)));
      }
    }
    expect(worst).toBeLessThan(1e-12);
    const S = recurrentMatrix('symmetric', n, 1.5, 3);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) expect(S[i * n + j]).toBe(S[j * n + i]);
    expect(spectralRadiusSymmetric(S, n)).toBeCloseTo(1.5, 4);
  });

  it('fits a line exactly', () => {
    const { slope, intercept } = fitLine([1, 2, 3, 4], [3, 5, 7, 9]);
    expect(slope).toBeCloseTo(2, 12);
    expect(intercept).toBeCloseTo(1, 12);
  });

  // Orthogonal W_hh / r: ||dL/dh_t|| = r^(T-t) exactly, so the slope is -log r up to float32 rounding.
  it('orthogonal W_hh: slope = -log(radius) within 1e-4', async () => {
    const engine = await createEngine({ backend: 'cpu' });
    const curves = await spectralCurves(engine, RADII, { hiddenSize: 32, steps: 48, kind: 'orthogonal', seed: 11 });
    for (const c of curves) {
      expect(Math.abs(c.slope - -Math.log(c.radius)), `radius ${c.radius}: slope ${c.slope}`).toBeLessThan(1e-4);
      expect(c.expectedSlope).toBe(-Math.log(c.radius));
      // every point on the power law, not only the fit: log norm_t = (T - t) log r + log ||dO_T||, ||dO_T|| = 1
      for (let t = 1; t <= 48; t++) expect(Math.abs(c.logNorms[t - 1] - (48 - t) * Math.log(c.radius))).toBeLessThan(1e-4 * 48);
    }
    // vanishing below 1, exploding above
    expect(Math.exp(curves[0].logNorms[0])).toBeLessThan(1e-4);
    expect(Math.exp(curves[4].logNorms[0])).toBeGreaterThan(1e3);
    engine.dispose();
  });

  // Symmetric W_hh: the top eigenvalue takes over far from the loss; the slope over t <= T/2 is -log r within 0.02.
  it('symmetric W_hh: slope = -log(radius) within 0.02 over the far half', async () => {
    const engine = await createEngine({ backend: 'cpu' });
    for (const seed of [5, 6]) {
      const curves = await spectralCurves(engine, RADII, { hiddenSize: 32, steps: 96, kind: 'symmetric', seed });
      for (const c of curves) {
        expect(Math.abs(c.slope - c.expectedSlope), `seed ${seed} radius ${c.radius}: slope ${c.slope}`).toBeLessThan(0.02);
      }
    }
    engine.dispose();
  });

  it('a wrong radius is detected: the slope tells 0.9 from 1.0', async () => {
    const engine = await createEngine({ backend: 'cpu' });
    const [c] = await spectralCurves(engine, [0.9], { hiddenSize: 16, steps: 32, kind: 'orthogonal', seed: 2 });
    expect(Math.abs(c.slope - -Math.log(1.0))).toBeGreaterThan(0.1);
    engine.dispose();
  });
});

describe('demo exercise: truncation strategies against the full gradient', () => {
  it('randomized truncation is unbiased; chunked and window are biased; tau >= T is exact', async () => {
    const engine = await createEngine({ backend: 'cpu' });
    const text = cleanText(readFileSync(new URL('../demo/data/timemachine.txt', import.meta.url), 'utf8'));
    const ids = encode(text);
    const T = 24;
    const { batch } = makeStreamBatcher(ids, T, 4)();
    const model = linearTokenModel(VOCAB_SIZE, 16, 0.95, 'orthogonal', 4);
    const draws = 200;
    const cmp = await compareTruncations(engine, model, batch, { loss: 'cross-entropy', tau: 4, keepProbability: 0.5, draws, seed: 100 });
    const [chunked, windowed, randomized] = cmp.strategies;
    expect(chunked.bias).toBeGreaterThan(0.05);
    expect(windowed.bias).toBeGreaterThan(0.05);
    expect(randomized.spread).toBeGreaterThan(0.05);
    // the mean of n unbiased draws is off by about spread / sqrt(n): allow 3x that, and far less than chunked's bias
    expect(randomized.bias).toBeLessThan((3 * randomized.spread) / Math.sqrt(draws));
    expect(randomized.bias).toBeLessThan(chunked.bias);
    expect(cmp.runningError[draws - 1]).toBeLessThan(cmp.runningError[0]);
    const exact = await compareTruncations(engine, model, batch, { loss: 'cross-entropy', tau: T, keepProbability: 1, draws: 2, seed: 1 });
    for (const s of exact.strategies) expect(s.bias, s.name).toBeLessThan(1e-6);
    engine.dispose();
  });

  it('segments: a cut starts a new segment wherever xi_t = 0 (t > 1)', () => {
    expect(segmentLengths([1, 1, 0, 1, 0, 0, 1])).toEqual([2, 2, 1, 2]);
    expect(segmentLengths([0, 1, 1])).toEqual([3]);
  });
});

describe('demo corpus', () => {
  it('keeps 27 symbols and batches token ids time-major, y = x shifted by one', () => {
    const text = cleanText('The Time-Traveller (for so...)\n it  will');
    expect(text).toBe('the time traveller for so it will');
    const ids = encode(text);
    expect(decode(ids)).toBe(text);
    const next = makeStreamBatcher(ids, 3, 2);
    const { batch, wrapped } = next();
    expect(wrapped).toBe(false);
    const L = Math.floor((ids.length - 1) / 2);
    expect(Array.from(batch.x as Int32Array)).toEqual([ids[0], ids[L], ids[1], ids[L + 1], ids[2], ids[L + 2]]);
    expect(Array.from(batch.y as Int32Array)).toEqual([ids[1], ids[L + 1], ids[2], ids[L + 2], ids[3], ids[L + 3]]);
  });
});

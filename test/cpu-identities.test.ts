// Identities the CPU reference must satisfy exactly or to float32 rounding:
// truncation strategies that reduce to full BPTT, chunked truncation as a
// sequence of calls carrying hT, token ids as one-hot values, the chapter's
// closed form for identity activation, the randomized draws, and clipping.
import { beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../src/index.js';
import type { Batch, GradientOptions, GradientResult, LossKind, RnnModel, Truncation } from '../src/types.js';
import { expectClose, randomProblem, type Tolerance } from './helpers.js';
import { forward64, objective64, oneHot, outputGrad64, sumSquares } from './cpu-helpers.js';

// Bitwise equal (expectClose needs a nonzero bound: 0 / 0 is not <= 1).
const EXACT: Tolerance = { rtol: 0, atol: Number.MIN_VALUE };
// Two float64 computations of the same sum in a different order, each rounded to float32.
const REORDERED: Tolerance = { rtol: 1e-6, atol: 1e-9 };
// Chunk by chunk: hT is carried between calls as float32.
const CARRIED: Tolerance = { rtol: 1e-5, atol: 1e-8 };

let engine: Engine;
beforeAll(async () => {
  engine = await createEngine({ backend: 'cpu' });
});

const ALL: GradientOptions = { loss: 'cross-entropy', inputGradient: true, gradNormPerStep: true };

/** Every output of two gradient calls, compared element by element. */
function expectSameResult(got: GradientResult, want: GradientResult, tol: Tolerance): void {
  if (Number.isNaN(want.loss)) expect(got.loss).toBeNaN();
  else expectClose('loss', [got.loss], [want.loss], tol);
  expectClose('dWhx', got.dWhx, want.dWhx, tol);
  expectClose('dWhh', got.dWhh, want.dWhh, tol);
  expectClose('dWqh', got.dWqh, want.dWqh, tol);
  expect(got.dbh === undefined).toBe(want.dbh === undefined);
  if (want.dbh) expectClose('dbh', got.dbh!, want.dbh, tol);
  if (want.dbq) expectClose('dbq', got.dbq!, want.dbq, tol);
  expectClose('dh0', got.dh0, want.dh0, tol);
  expectClose('hT', got.hT, want.hT, tol);
  expect(got.dx === undefined).toBe(want.dx === undefined);
  if (want.dx) expectClose('dx', got.dx!, want.dx, tol);
  expect(got.gradNormPerStep === undefined).toBe(want.gradNormPerStep === undefined);
  if (want.gradNormPerStep) expectClose('gradNormPerStep', got.gradNormPerStep!, want.gradNormPerStep, tol);
  expectClose('gradNorm', [got.gradNorm], [want.gradNorm], tol);
  expect(got.clipped).toBe(want.clipped);
  expect(got.nonFinite).toBe(want.nonFinite);
}

describe('truncations that reduce to full BPTT', () => {
  const problem = () => randomProblem({ T: 7, B: 3, d: 4, h: 6, q: 5, h0: true, dhT: true, seed: 31 });

  it('chunked(T) and chunked(tau > T) equal full, exactly', async () => {
    const { model, batch } = problem();
    const full = await engine.gradients(model, batch, ALL);
    for (const steps of [7, 8, 2 ** 40]) {
      expectSameResult(await engine.gradients(model, batch, { ...ALL, truncation: { kind: 'chunked', steps } }), full, EXACT);
    }
    // and chunked(T - 1) does cut a path (the identity is not vacuous)
    const cut = await engine.gradients(model, batch, { ...ALL, truncation: { kind: 'chunked', steps: 6 } });
    expect(cut.dWhh).not.toEqual(full.dWhh);
  });

  it('window(T) and window(tau > T) equal full', async () => {
    for (const activation of ['identity', 'tanh', 'relu'] as const) {
      const { model, batch } = randomProblem({ T: 7, B: 3, d: 4, h: 6, q: 5, activation, h0: true, dhT: true, seed: 32 });
      const full = await engine.gradients(model, batch, ALL);
      // steps far above T (validation accepts any integer >= 1) must not allocate tau slots
      for (const steps of [7, 9, 2 ** 40]) {
        expectSameResult(await engine.gradients(model, batch, { ...ALL, truncation: { kind: 'window', steps } }), full, REORDERED);
      }
      const cut = await engine.gradients(model, batch, { ...ALL, truncation: { kind: 'window', steps: 6 } });
      expect(cut.dh0).not.toEqual(full.dh0);
    }
  });

  it('randomized with every xi = 1, or keepProbability 1, equals full, exactly', async () => {
    const { model, batch } = problem();
    const full = await engine.gradients(model, batch, ALL);
    const ones = await engine.gradients(model, batch, { ...ALL, truncation: { kind: 'randomized', xi: new Float32Array(7).fill(1) } });
    expectSameResult(ones, full, EXACT);
    expect(Array.from(ones.xi!)).toEqual([1, 1, 1, 1, 1, 1, 1]);
    const p1 = await engine.gradients(model, batch, { ...ALL, truncation: { kind: 'randomized', keepProbability: 1, seed: 5 } });
    expectSameResult(p1, full, EXACT);
    expect(Array.from(p1.xi!)).toEqual([1, 1, 1, 1, 1, 1, 1]);
    expect(full.xi).toBeUndefined();
  });
});

/** Steps [t0, t1) of a batch as a batch of its own (x, y, dO sliced; h0, dhT as given). */
function sliceBatch(batch: Batch, q: number, d: number, t0: number, t1: number, h0: Float32Array | undefined, dhT: Float32Array | undefined): Batch {
  const B = batch.batchSize;
  const xw = batch.x instanceof Int32Array ? 1 : d;
  const yw = batch.y instanceof Float32Array ? q : 1;
  return {
    steps: t1 - t0,
    batchSize: B,
    x: batch.x.slice(t0 * B * xw, t1 * B * xw),
    y: batch.y?.slice(t0 * B * yw, t1 * B * yw),
    dO: batch.dO?.slice(t0 * B * q, t1 * B * q),
    h0,
    dhT,
  };
}

describe('chunked(tau) equals the chunks run one by one, hT carried as h0', () => {
  const T = 7;
  const tau = 3; // chunks of 3, 3 and 1 steps

  async function runChunks(model: RnnModel, batch: Batch, loss: LossKind, weight: (steps: number) => number) {
    const { h, d, q } = { h: model.hiddenSize, d: model.inputSize, q: model.outputSize };
    const B = batch.batchSize;
    const sum = {
      loss: 0,
      dWhx: new Float64Array(h * d),
      dWhh: new Float64Array(h * h),
      dWqh: new Float64Array(q * h),
      dbh: new Float64Array(h),
      dbq: new Float64Array(q),
      dx: new Float64Array(T * B * d),
      norms: new Float64Array(T),
      dh0: new Float64Array(B * h),
      hT: new Float32Array(B * h) as Float32Array,
    };
    const add = (to: Float64Array, from: ArrayLike<number>, w: number, offset = 0) => {
      for (let i = 0; i < from.length; i++) to[offset + i] += w * from[i];
    };
    let h0 = batch.h0;
    for (let t0 = 0; t0 < T; t0 += tau) {
      const t1 = Math.min(T, t0 + tau);
      const last = t1 === T;
      const r = await engine.gradients(model, sliceBatch(batch, q, d, t0, t1, h0, last ? batch.dhT : undefined), { loss, inputGradient: true, gradNormPerStep: true });
      const w = weight(t1 - t0);
      sum.loss += w * r.loss;
      add(sum.dWhx, r.dWhx, w);
      add(sum.dWhh, r.dWhh, w);
      add(sum.dWqh, r.dWqh, w);
      add(sum.dbh, r.dbh!, w);
      add(sum.dbq, r.dbq!, w);
      add(sum.dx, r.dx!, w, t0 * B * d);
      add(sum.norms, r.gradNormPerStep!, w, t0);
      if (t0 === 0) add(sum.dh0, r.dh0, w);
      h0 = r.hT;
      if (last) sum.hT = r.hT;
    }
    return sum;
  }

  function expectMatches(full: GradientResult, sum: Awaited<ReturnType<typeof runChunks>>) {
    expectClose('dWhx', full.dWhx, sum.dWhx, CARRIED);
    expectClose('dWhh', full.dWhh, sum.dWhh, CARRIED);
    expectClose('dWqh', full.dWqh, sum.dWqh, CARRIED);
    expectClose('dbh', full.dbh!, sum.dbh, CARRIED);
    expectClose('dbq', full.dbq!, sum.dbq, CARRIED);
    expectClose('dx', full.dx!, sum.dx, CARRIED);
    expectClose('gradNormPerStep', full.gradNormPerStep!, sum.norms, CARRIED);
    expectClose('dh0', full.dh0, sum.dh0, CARRIED);
    expectClose('hT', full.hT, sum.hT, CARRIED);
  }

  it("loss 'none' with an explicit dO, h0 and dhT", async () => {
    const { model, batch } = randomProblem({ T, B: 3, d: 4, h: 6, q: 5, loss: 'none', h0: true, dhT: true, seed: 41 });
    const full = await engine.gradients(model, batch, { loss: 'none', truncation: { kind: 'chunked', steps: tau }, inputGradient: true, gradNormPerStep: true });
    const sum = await runChunks(model, batch, 'none', () => 1);
    expectMatches(full, sum);
    expect(full.loss).toBeNaN();
  });

  it('cross-entropy: each chunk averages over its own steps*B, so chunk c weighs steps_c / T', async () => {
    const { model, batch } = randomProblem({ T, B: 3, d: 4, h: 6, q: 5, h0: true, seed: 42 });
    const full = await engine.gradients(model, batch, { loss: 'cross-entropy', truncation: { kind: 'chunked', steps: tau }, inputGradient: true, gradNormPerStep: true });
    const sum = await runChunks(model, batch, 'cross-entropy', (steps) => steps / T);
    expectMatches(full, sum);
    expectClose('loss', [full.loss], [sum.loss], CARRIED);
  });
});

describe('token ids equal their one-hot float32 values, exactly', () => {
  const truncations: Truncation[] = [
    { kind: 'full' },
    { kind: 'chunked', steps: 2 },
    { kind: 'window', steps: 3 },
    { kind: 'randomized', keepProbability: 0.6, seed: 3 },
  ];
  for (const loss of ['cross-entropy', 'mse'] as LossKind[]) {
    for (const bias of [true, false]) {
      it.each(truncations)(`${loss}, ${bias ? 'biases' : 'no biases'}, $kind`, async (truncation) => {
        for (const activation of ['identity', 'tanh', 'relu'] as const) {
          const d = 9;
          const { model, batch } = randomProblem({ T: 6, B: 3, d, h: 5, q: 4, activation, loss, bias, tokens: true, h0: true, dhT: true, seed: 51 });
          const options: GradientOptions = { loss, truncation, gradNormPerStep: true };
          const ids = await engine.gradients(model, batch, options);
          const values = await engine.gradients(model, { ...batch, x: oneHot(batch.x as Int32Array, d) }, options);
          expectSameResult(ids, { ...values, dx: undefined }, EXACT);
          if (truncation.kind === 'randomized') expect(ids.xi).toEqual(values.xi);
        }
      });
    }
  }
});

/** y = M^T v for M [n, n] row-major, v [n]. */
function matTVec(M: ArrayLike<number>, v: Float64Array, n: number): Float64Array {
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) y[j] += M[i * n + j] * v[i];
  return y;
}

describe("identity activation without biases: the chapter's closed form", () => {
  // dL/dh_t = sum_{i=t}^{T} (W_hh^T)^(i-t) W_qh^T dL/do_i, computed with explicit powers
  it.each([1, 3])('B = %i', async (B) => {
    const T = 6;
    const d = 4;
    const h = 5;
    const q = 3;
    const { model, batch } = randomProblem({ T, B, d, h, q, activation: 'identity', bias: false, h0: true, seed: 61 });
    const res = await engine.gradients(model, batch, { loss: 'cross-entropy', inputGradient: true, gradNormPerStep: true });
    const { H, O } = forward64(model, batch);
    const dO = outputGrad64(model, batch, 'cross-entropy', O);
    // powers[k] = (W_hh^T)^k as a function on vectors, applied k times
    const power = (k: number, v: Float64Array) => {
      let w = v;
      for (let i = 0; i < k; i++) w = matTVec(model.Whh, w, h);
      return w;
    };
    const dH = new Float64Array(T * B * h); // [T, B, h], closed form
    for (let t = 1; t <= T; t++) {
      for (let b = 0; b < B; b++) {
        for (let i = t; i <= T; i++) {
          const g = new Float64Array(h); // W_qh^T dO_i
          for (let c = 0; c < q; c++) for (let j = 0; j < h; j++) g[j] += model.Wqh[c * h + j] * dO[((i - 1) * B + b) * q + c];
          const p = power(i - t, g);
          for (let j = 0; j < h; j++) dH[((t - 1) * B + b) * h + j] += p[j];
        }
      }
    }
    const tol: Tolerance = { rtol: 1e-5, atol: 1e-9 };
    const norms = new Float64Array(T);
    for (let t = 0; t < T; t++) norms[t] = Math.sqrt(sumSquares(dH.subarray(t * B * h, (t + 1) * B * h)));
    expectClose('gradNormPerStep', res.gradNormPerStep!, norms, tol);
    // derived: dh0 = W_hh^T dL/dh_1; dWhh = sum dL/dh_t h_{t-1}^T; dWhx = sum dL/dh_t x_t^T; dx_t = W_hx^T dL/dh_t
    const dh0 = new Float64Array(B * h);
    const dWhh = new Float64Array(h * h);
    const dWhx = new Float64Array(h * d);
    const dx = new Float64Array(T * B * d);
    for (let b = 0; b < B; b++) dh0.set(matTVec(model.Whh, dH.slice(b * h, (b + 1) * h), h), b * h);
    for (let r = 0; r < T * B; r++) {
      for (let i = 0; i < h; i++) {
        const g = dH[r * h + i];
        for (let j = 0; j < h; j++) dWhh[i * h + j] += g * H[r * h + j];
        for (let k = 0; k < d; k++) {
          dWhx[i * d + k] += g * batch.x[r * d + k];
          dx[r * d + k] += g * model.Whx[i * d + k];
        }
      }
    }
    expectClose('dh0', res.dh0, dh0, tol);
    expectClose('dWhh', res.dWhh, dWhh, tol);
    expectClose('dWhx', res.dWhx, dWhx, tol);
    expectClose('dx', res.dx!, dx, tol);
  });

  it('||dH_t|| grows or decays like powers of W_hh^T: c^(T-t) for W_hh = c * (a permutation)', async () => {
    const T = 12;
    const h = 6;
    for (const c of [1.3, 0.7]) {
      const { model, batch } = randomProblem({ T, B: 2, d: 3, h, q: 4, activation: 'identity', bias: false, loss: 'none', seed: 62 });
      model.Whh = new Float32Array(h * h);
      for (let i = 0; i < h; i++) model.Whh[i * h + ((i + 2) % h)] = c; // orthogonal up to the scale c
      batch.dO!.fill(0, 0, (T - 1) * 2 * 4); // only the last step has a loss
      const res = await engine.gradients(model, batch, { loss: 'none', gradNormPerStep: true });
      const n = res.gradNormPerStep!;
      const want = Array.from({ length: T }, (_, t) => n[T - 1] * c ** (T - 1 - t));
      expectClose(`gradNormPerStep, c = ${c}`, n, want, { rtol: 1e-5, atol: 0 });
      expect(n[T - 1]).toBeGreaterThan(0);
    }
  });
});

describe('randomized truncation draws', () => {
  const tiny = (T: number) => randomProblem({ T, B: 1, d: 1, h: 1, q: 1, loss: 'none', seed: 71 });

  it.each([0.1, 0.3, 0.5, 0.9])('keepProbability %f: xi in {0, 1/pi}, reproducible, E[xi] close to 1', async (pi) => {
    const T = 4000;
    const { model, batch } = tiny(T);
    const draw = async (seed: number) => (await engine.gradients(model, batch, { loss: 'none', truncation: { kind: 'randomized', keepProbability: pi, seed } })).xi!;
    const xi = await draw(123);
    expect(xi.length).toBe(T);
    const kept = Math.fround(1 / pi);
    let nKept = 0;
    let sum = 0;
    for (const v of xi) {
      if (v !== 0 && v !== kept) expect.fail(`xi value ${v} is neither 0 nor 1/pi = ${kept}`);
      if (v !== 0) nKept++;
      sum += v;
    }
    // binomial: 5 standard deviations of the kept fraction, and of the mean of xi
    expect(Math.abs(nKept / T - pi)).toBeLessThan(5 * Math.sqrt((pi * (1 - pi)) / T));
    expect(Math.abs(sum / T - 1)).toBeLessThan(5 * Math.sqrt((1 / pi - 1) / T));
    expect(await draw(123)).toEqual(xi);
    expect(await draw(124)).not.toEqual(xi);
  });

  it('the mean over many seeds of xi_t is close to 1 at every t', async () => {
    const T = 8;
    const pi = 0.4;
    const seeds = 1500;
    const { model, batch } = tiny(T);
    const mean = new Float64Array(T);
    for (let s = 0; s < seeds; s++) {
      const { xi } = await engine.gradients(model, batch, { loss: 'none', truncation: { kind: 'randomized', keepProbability: pi, seed: s } });
      for (let t = 0; t < T; t++) mean[t] += xi![t] / seeds;
    }
    const sd = Math.sqrt((1 / pi - 1) / seeds);
    for (let t = 0; t < T; t++) expect(Math.abs(mean[t] - 1), `mean of xi_${t + 1}`).toBeLessThan(5 * sd);
  });

  it('xi: undefined beside keepProbability and seed (a spread options object) uses the seed', async () => {
    const { model, batch } = randomProblem({ T: 9, B: 2, d: 3, h: 5, q: 4, seed: 73 });
    const seeded = await engine.gradients(model, batch, { ...ALL, truncation: { kind: 'randomized', keepProbability: 0.5, seed: 8 } });
    const truncation = { kind: 'randomized', keepProbability: 0.5, seed: 8, xi: undefined } as unknown as Truncation;
    expectSameResult(await engine.gradients(model, batch, { ...ALL, truncation }), seeded, EXACT);
  });

  it('the seeded gradient is the gradient of the xi it reports', async () => {
    const { model, batch } = randomProblem({ T: 9, B: 2, d: 3, h: 5, q: 4, h0: true, dhT: true, seed: 72 });
    const seeded = await engine.gradients(model, batch, { ...ALL, truncation: { kind: 'randomized', keepProbability: 0.5, seed: 8 } });
    expect(seeded.xi!.some((v) => v === 0)).toBe(true);
    const explicit = await engine.gradients(model, batch, { ...ALL, truncation: { kind: 'randomized', xi: seeded.xi! } });
    expectSameResult(seeded, explicit, EXACT);
  });
});

describe('cross-entropy with large logits', () => {
  it('is computed stably (logsumexp with the max taken out), and its dbq sums to 0', async () => {
    const { model, batch } = randomProblem({ T: 5, B: 3, d: 4, h: 6, q: 5, seed: 75 });
    model.Wqh = model.Wqh.map((v) => v * 5000); // logits near 1000: exp() alone overflows float64
    const { O } = forward64(model, batch);
    expect(Math.max(...O.map(Math.abs))).toBeGreaterThan(800);
    const r = await engine.gradients(model, batch, { loss: 'cross-entropy' });
    expect(r.nonFinite).toBe(false);
    expectClose('loss', [r.loss], [objective64(model, batch, 'cross-entropy').value], { rtol: 1e-12, atol: 0 });
    // softmax - onehot sums to 0 over classes in every row
    expect(Math.abs(r.dbq!.reduce((a, b) => a + b, 0))).toBeLessThan(1e-6);
  });
});

describe('gradient clipping and diagnostics', () => {
  const params = (r: GradientResult) => [r.dWhx, r.dWhh, r.dWqh, r.dbh, r.dbq];

  it.each([true, false])('gradNorm is the global L2 norm of all parameter gradients (biases %s)', async (bias) => {
    const { model, batch } = randomProblem({ T: 5, B: 3, d: 4, h: 6, q: 5, bias, h0: true, seed: 81 });
    const raw = await engine.gradients(model, batch, ALL);
    expectClose('gradNorm', [raw.gradNorm], [Math.sqrt(sumSquares(...params(raw)))], { rtol: 1e-6, atol: 0 });
    expect(raw.clipped).toBe(false);
    expect(raw.nonFinite).toBe(false);
    expect(raw.gradNormPerStep!.length).toBe(5);
    if (bias) {
      // the biases count: without them the norm would be smaller
      expect(raw.gradNorm).toBeGreaterThan(Math.sqrt(sumSquares(raw.dWhx, raw.dWhh, raw.dWqh)) * (1 + 1e-6));
    }

    // above the threshold: every parameter gradient scaled by clipNorm / gradNorm
    const clipNorm = raw.gradNorm / 3;
    const clipped = await engine.gradients(model, batch, { ...ALL, clipNorm });
    expect(clipped.clipped).toBe(true);
    expect(clipped.gradNorm).toBe(raw.gradNorm); // the norm before clipping
    expectClose('||clipped||', [Math.sqrt(sumSquares(...params(clipped)))], [clipNorm], { rtol: 1e-6, atol: 0 });
    const names = ['dWhx', 'dWhh', 'dWqh', 'dbh', 'dbq'];
    params(clipped).forEach((g, i) => {
      const r = params(raw)[i];
      expect(g === undefined).toBe(r === undefined);
      if (g && r) expectClose(names[i], g, Array.from(r, (v) => v / 3), { rtol: 1e-6, atol: 1e-12 });
    });
    // dh0, dx and the diagnostics are not parameter gradients: unclipped
    expect(clipped.dh0).toEqual(raw.dh0);
    expect(clipped.dx).toEqual(raw.dx);
    expect(clipped.gradNormPerStep).toEqual(raw.gradNormPerStep);
    expect(clipped.loss).toBe(raw.loss);

    // below (or at) the threshold: nothing changes
    for (const above of [raw.gradNorm * 2, raw.gradNorm]) {
      const same = await engine.gradients(model, batch, { ...ALL, clipNorm: above });
      expect(same.clipped).toBe(false);
      expectSameResult(same, raw, EXACT);
    }
  });

  it('NaN weights: nonFinite, not clipped, gradNorm NaN', async () => {
    const { model, batch } = randomProblem({ T: 5, B: 2, d: 3, h: 4, q: 3, seed: 82 });
    model.Whh[5] = NaN;
    const r = await engine.gradients(model, batch, { loss: 'cross-entropy', clipNorm: 1 });
    expect(r.nonFinite).toBe(true);
    expect(r.clipped).toBe(false);
    expect(r.gradNorm).toBeNaN();
  });

  it('huge weights that overflow float64: nonFinite', async () => {
    const { model, batch } = randomProblem({ T: 12, B: 2, d: 3, h: 4, q: 3, activation: 'identity', seed: 83 });
    model.Whh = model.Whh.map((v) => v * 1e30); // still finite in float32
    expect(model.Whh.every(Number.isFinite)).toBe(true);
    const r = await engine.gradients(model, batch, { loss: 'cross-entropy', clipNorm: 1 });
    expect(r.nonFinite).toBe(true);
    expect(r.clipped).toBe(false);
    expect(Number.isFinite(r.gradNorm)).toBe(false);
    // one step from h0 = 0 does not use W_hh: finite
    const ok = await engine.gradients(model, { ...batch, steps: 1, x: batch.x.slice(0, 2 * 3), y: batch.y!.slice(0, 2) }, { loss: 'cross-entropy' });
    expect(ok.nonFinite).toBe(false);
  });
});

// GPU twins of the CPU reference's identity tests (cpu-identities.test.ts):
// on WebGPU, truncations that reduce to full BPTT, chunked truncation as a
// sequence of calls carrying hT, token ids against one-hot values, the
// chapter's closed form (identity activation), the power law of ||dH_t||,
// randomized draws, clipping, gradNorm and the non-finite flag. Each identity
// is checked on the GPU itself and every GPU result against the CPU reference.
//
// Tolerances:
//   GPU_TOL (rtol 2e-3, atol 1e-5 * max|cpu|): any GPU result against the CPU.
//   exact: bit-identical (toEqual); the GPU records the very same dispatches with the same
//     numbers (xi = 1 everywhere is xi = 1; clipping at or above the norm is a no-op).
//   GPU_F32 (rtol 1e-5, atol 1e-6 * max): two GPU computations of the same value
//     that differ only in float32 rounding or summation order (window(T) against
//     full, chunk by chunk against chunked, a gradient divided by 3, a sum of squares).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../../src/index.js';
import type { Batch, GradientOptions, GradientResult, LossKind, RnnModel, Truncation } from '../../src/types.js';
import { expectClose, randomProblem } from '../helpers.js';
import { oneHot, sumSquares } from '../cpu-helpers.js';
import { type GpuTolerance, expectCloseRelative, expectSameAsCpu, printWorst } from '../gpu-setup.js';

const GPU_F32: GpuTolerance = { rtol: 1e-5, atolRel: 1e-6 };

/**
 * Registers this file's tests for an engine under test (`gpu` below: WebGPU in
 * gpu-identities.test.ts, WebAssembly in wasm-identities.test.ts), each result against the CPU reference.
 */
export function defineIdentityTwins(label: string, makeEngine: () => Promise<Engine>): void {
  let gpu: Engine;
  let cpu: Engine;
  beforeAll(async () => {
    gpu = await makeEngine();
    cpu = await createEngine({ backend: 'cpu' });
  });
  afterAll(() => {
    printWorst(label);
    gpu?.dispose();
  });

  const ALL: GradientOptions = { loss: 'cross-entropy', inputGradient: true, gradNormPerStep: true };

  /** The GPU call, checked against the CPU reference, returned for the identity. */
  async function onGpu(where: string, model: RnnModel, batch: Batch, options: GradientOptions): Promise<GradientResult> {
    const g = await gpu.gradients(model, batch, options);
    expectSameAsCpu(where, g, await cpu.gradients(model, batch, options));
    return g;
  }

  /** Two GPU results, output by output: bitwise (EXACT) or within GPU_F32 of each other. */
  function expectSameGpuResult(where: string, got: GradientResult, want: GradientResult, exact: boolean): void {
    for (const key of ['dWhx', 'dWhh', 'dWqh', 'dbh', 'dbq', 'dh0', 'hT', 'dx', 'gradNormPerStep'] as const) {
      expect(got[key] === undefined, `${where}: ${key}`).toBe(want[key] === undefined);
      if (!want[key]) continue;
      if (exact) expect(got[key], `${where}: ${key}`).toEqual(want[key]);
      else expectCloseRelative(`${where}: ${key}`, got[key]!, want[key]!, GPU_F32);
    }
    if (exact) {
      expect(Object.is(got.loss, want.loss) || got.loss === want.loss, `${where}: loss`).toBe(true);
      expect(got.gradNorm, `${where}: gradNorm`).toBe(want.gradNorm);
    } else {
      if (!Number.isNaN(want.loss)) expectClose(`${where}: loss`, [got.loss], [want.loss], { rtol: GPU_F32.rtol, atol: 0 });
      expectClose(`${where}: gradNorm`, [got.gradNorm], [want.gradNorm], { rtol: GPU_F32.rtol, atol: 0 });
    }
    expect(got.clipped).toBe(want.clipped);
    expect(got.nonFinite).toBe(want.nonFinite);
  }

  describe('truncations that reduce to full BPTT', () => {
    const problem = () => randomProblem({ T: 7, B: 3, d: 4, h: 6, q: 5, h0: true, dhT: true, seed: 31 });

    it('chunked(T) and chunked(tau > T) equal full, bit for bit; chunked(T - 1) does not', async () => {
      const { model, batch } = problem();
      const full = await onGpu('full', model, batch, ALL);
      for (const steps of [7, 8, 100]) {
        expectSameGpuResult(`chunked(${steps})`, await onGpu(`chunked(${steps})`, model, batch, { ...ALL, truncation: { kind: 'chunked', steps } }), full, true);
      }
      const cut = await onGpu('chunked(6)', model, batch, { ...ALL, truncation: { kind: 'chunked', steps: 6 } });
      expect(cut.dWhh).not.toEqual(full.dWhh);
    });

    it('window(T) and window(tau > T) equal full (another kernel: float32 rounding apart)', async () => {
      for (const activation of ['identity', 'tanh', 'relu'] as const) {
        const { model, batch } = randomProblem({ T: 7, B: 3, d: 4, h: 6, q: 5, activation, h0: true, dhT: true, seed: 32 });
        const full = await onGpu(`full ${activation}`, model, batch, ALL);
        for (const steps of [7, 9]) {
          const w = await onGpu(`window(${steps}) ${activation}`, model, batch, { ...ALL, truncation: { kind: 'window', steps } });
          expectSameGpuResult(`window(${steps}) ${activation}`, w, full, false);
        }
        const cut = await onGpu(`window(6) ${activation}`, model, batch, { ...ALL, truncation: { kind: 'window', steps: 6 } });
        expect(cut.dh0).not.toEqual(full.dh0);
      }
    });

    it('randomized with every xi = 1, or keepProbability 1, equals full, bit for bit', async () => {
      const { model, batch } = problem();
      const full = await onGpu('full', model, batch, ALL);
      const ones = await onGpu('xi = 1', model, batch, { ...ALL, truncation: { kind: 'randomized', xi: new Float32Array(7).fill(1) } });
      expectSameGpuResult('xi = 1', ones, full, true);
      expect(Array.from(ones.xi!)).toEqual([1, 1, 1, 1, 1, 1, 1]);
      const p1 = await onGpu('keepProbability 1', model, batch, { ...ALL, truncation: { kind: 'randomized', keepProbability: 1, seed: 5 } });
      expectSameGpuResult('keepProbability 1', p1, full, true);
      expect(full.xi).toBeUndefined();
    });
  });

  /** Steps [t0, t1) of a batch as a batch of its own (x, y, dO sliced; h0, dhT as given). */
  function sliceBatch(batch: Batch, q: number, d: number, t0: number, t1: number, h0: Float32Array | undefined, dhT: Float32Array | undefined): Batch {
    const B = batch.batchSize;
    const xw = batch.x instanceof Int32Array ? 1 : d;
    const yw = batch.y instanceof Float32Array ? q : 1;
    return { steps: t1 - t0, batchSize: B, x: batch.x.slice(t0 * B * xw, t1 * B * xw), y: batch.y?.slice(t0 * B * yw, t1 * B * yw), dO: batch.dO?.slice(t0 * B * q, t1 * B * q), h0, dhT };
  }

  describe('chunked(tau) equals the chunks run one by one on the GPU, hT carried as h0', () => {
    const T = 7;
    const tau = 3; // chunks of 3, 3 and 1 steps

    async function chunkByChunk(model: RnnModel, batch: Batch, loss: LossKind, weight: (steps: number) => number) {
      const { h, d, q } = { h: model.hiddenSize, d: model.inputSize, q: model.outputSize };
      const B = batch.batchSize;
      const sum = { loss: 0, dWhx: new Float64Array(h * d), dWhh: new Float64Array(h * h), dWqh: new Float64Array(q * h), dbh: new Float64Array(h), dbq: new Float64Array(q), dx: new Float64Array(T * B * d), norms: new Float64Array(T), dh0: new Float64Array(B * h), hT: new Float32Array(B * h) as Float32Array };
      const add = (to: Float64Array, from: ArrayLike<number>, w: number, offset = 0) => {
        for (let i = 0; i < from.length; i++) to[offset + i] += w * from[i];
      };
      let h0 = batch.h0;
      for (let t0 = 0; t0 < T; t0 += tau) {
        const t1 = Math.min(T, t0 + tau);
        const last = t1 === T;
        const r = await onGpu(`chunk ${t0}..${t1}`, model, sliceBatch(batch, q, d, t0, t1, h0, last ? batch.dhT : undefined), { loss, inputGradient: true, gradNormPerStep: true });
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
        h0 = r.hT; // the GPU's own hT, as float32
        if (last) sum.hT = r.hT;
      }
      return sum;
    }

    function expectMatches(full: GradientResult, sum: Awaited<ReturnType<typeof chunkByChunk>>) {
      const where = 'chunked against chunk by chunk';
      expectCloseRelative(`${where}: dWhx`, full.dWhx, sum.dWhx, GPU_F32);
      expectCloseRelative(`${where}: dWhh`, full.dWhh, sum.dWhh, GPU_F32);
      expectCloseRelative(`${where}: dWqh`, full.dWqh, sum.dWqh, GPU_F32);
      expectCloseRelative(`${where}: dbh`, full.dbh!, sum.dbh, GPU_F32);
      expectCloseRelative(`${where}: dbq`, full.dbq!, sum.dbq, GPU_F32);
      expectCloseRelative(`${where}: dx`, full.dx!, sum.dx, GPU_F32);
      expectCloseRelative(`${where}: gradNormPerStep`, full.gradNormPerStep!, sum.norms, GPU_F32);
      expectCloseRelative(`${where}: dh0`, full.dh0, sum.dh0, GPU_F32);
      expectCloseRelative(`${where}: hT`, full.hT, sum.hT, GPU_F32);
    }

    it("loss 'none' with an explicit dO, h0 and dhT", async () => {
      const { model, batch } = randomProblem({ T, B: 3, d: 4, h: 6, q: 5, loss: 'none', h0: true, dhT: true, seed: 41 });
      const full = await onGpu('chunked none', model, batch, { loss: 'none', truncation: { kind: 'chunked', steps: tau }, inputGradient: true, gradNormPerStep: true });
      expectMatches(full, await chunkByChunk(model, batch, 'none', () => 1));
      expect(full.loss).toBeNaN();
    });

    it('cross-entropy: each chunk averages over its own steps*B, so chunk c weighs steps_c / T', async () => {
      const { model, batch } = randomProblem({ T, B: 3, d: 4, h: 6, q: 5, h0: true, seed: 42 });
      const full = await onGpu('chunked ce', model, batch, { loss: 'cross-entropy', truncation: { kind: 'chunked', steps: tau }, inputGradient: true, gradNormPerStep: true });
      const sum = await chunkByChunk(model, batch, 'cross-entropy', (steps) => steps / T);
      expectMatches(full, sum);
      expectClose('loss', [full.loss], [sum.loss], { rtol: GPU_F32.rtol, atol: 0 });
    });
  });

  describe('token ids equal their one-hot float32 values', () => {
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
            const ids = await onGpu(`ids ${activation}`, model, batch, options);
            const values = await onGpu(`one-hot ${activation}`, model, { ...batch, x: oneHot(batch.x as Int32Array, d) }, options);
            // a gather against a product with zeros, a scatter-add against a GEMM: float32 rounding apart
            expectSameGpuResult(`ids against one-hot, ${activation}`, ids, { ...values, dx: undefined }, false);
            if (truncation.kind === 'randomized') expect(ids.xi).toEqual(values.xi);
          }
        });
      }
    }
  });

  describe("identity activation without biases (the chapter's model)", () => {
    it.each([1, 3])('B = %i: every output as the CPU reference (which is checked against the closed form)', async (B) => {
      const { model, batch } = randomProblem({ T: 6, B, d: 4, h: 5, q: 3, activation: 'identity', bias: false, h0: true, seed: 61 });
      await onGpu(`closed form B=${B}`, model, batch, { loss: 'cross-entropy', inputGradient: true, gradNormPerStep: true });
    });

    it('||dH_t|| grows or decays like powers of W_hh^T: c^(T-t) for W_hh = c * (a permutation)', async () => {
      const T = 12;
      const h = 6;
      for (const c of [1.3, 0.7]) {
        const { model, batch } = randomProblem({ T, B: 2, d: 3, h, q: 4, activation: 'identity', bias: false, loss: 'none', seed: 62 });
        model.Whh = new Float32Array(h * h);
        for (let i = 0; i < h; i++) model.Whh[i * h + ((i + 2) % h)] = c;
        batch.dO!.fill(0, 0, (T - 1) * 2 * 4); // only the last step has a loss
        const res = await onGpu(`power law c=${c}`, model, batch, { loss: 'none', gradNormPerStep: true });
        const n = res.gradNormPerStep!;
        const want = Array.from({ length: T }, (_, t) => n[T - 1] * c ** (T - 1 - t));
        // float32: one rounding of c * x per step, and a float32 sum of squares
        expectClose(`gradNormPerStep, c = ${c}`, n, want, { rtol: 1e-5, atol: 0 });
        expect(n[T - 1]).toBeGreaterThan(0);
      }
    });
  });

  describe('randomized truncation draws', () => {
    it.each([0.1, 0.5, 0.9])('keepProbability %f: the GPU reports the same xi as the CPU and uses it', async (pi) => {
      const { model, batch } = randomProblem({ T: 40, B: 2, d: 3, h: 5, q: 4, seed: 71 });
      for (const seed of [123, 124]) {
        const g = await onGpu(`pi ${pi} seed ${seed}`, model, batch, { ...ALL, truncation: { kind: 'randomized', keepProbability: pi, seed } });
        expect(g.xi!.length).toBe(40);
        for (const v of g.xi!) expect(v === 0 || v === Math.fround(1 / pi)).toBe(true);
      }
    });

    it('xi: undefined beside keepProbability and seed (a spread options object) uses the seed', async () => {
      const { model, batch } = randomProblem({ T: 9, B: 2, d: 3, h: 5, q: 4, seed: 73 });
      const seeded = await onGpu('seeded', model, batch, { ...ALL, truncation: { kind: 'randomized', keepProbability: 0.5, seed: 8 } });
      const truncation = { kind: 'randomized', keepProbability: 0.5, seed: 8, xi: undefined } as unknown as Truncation;
      expectSameGpuResult('xi undefined', await onGpu('xi undefined', model, batch, { ...ALL, truncation }), seeded, true);
    });

    it('the seeded gradient is the gradient of the xi it reports, bit for bit', async () => {
      const { model, batch } = randomProblem({ T: 9, B: 2, d: 3, h: 5, q: 4, h0: true, dhT: true, seed: 72 });
      const seeded = await onGpu('seeded', model, batch, { ...ALL, truncation: { kind: 'randomized', keepProbability: 0.5, seed: 8 } });
      expect(seeded.xi!.some((v) => v === 0)).toBe(true);
      const explicit = await onGpu('explicit', model, batch, { ...ALL, truncation: { kind: 'randomized', xi: seeded.xi! } });
      expectSameGpuResult('seeded against explicit', seeded, explicit, true);
    });
  });

  describe('gradient clipping and diagnostics', () => {
    const params = (r: GradientResult) => [r.dWhx, r.dWhh, r.dWqh, r.dbh, r.dbq];

    it.each([true, false])('gradNorm is the global L2 norm of all parameter gradients; clipping scales them (biases %s)', async (bias) => {
      const { model, batch } = randomProblem({ T: 5, B: 3, d: 4, h: 6, q: 5, bias, h0: true, seed: 81 });
      const raw = await onGpu('raw', model, batch, ALL);
      expectClose('gradNorm', [raw.gradNorm], [Math.sqrt(sumSquares(...params(raw)))], { rtol: GPU_F32.rtol, atol: 0 });
      expect(raw.clipped).toBe(false);
      expect(raw.nonFinite).toBe(false);
      if (bias) expect(raw.gradNorm).toBeGreaterThan(Math.sqrt(sumSquares(raw.dWhx, raw.dWhh, raw.dWqh)) * (1 + 1e-5));

      // above the threshold: every parameter gradient scaled by clipNorm / gradNorm
      const clipNorm = raw.gradNorm / 3;
      const clipped = await onGpu('clipped', model, batch, { ...ALL, clipNorm });
      expect(clipped.clipped).toBe(true);
      expect(clipped.gradNorm).toBe(raw.gradNorm); // the norm before clipping, the same reduction
      expectClose('||clipped||', [Math.sqrt(sumSquares(...params(clipped)))], [clipNorm], { rtol: GPU_F32.rtol, atol: 0 });
      const names = ['dWhx', 'dWhh', 'dWqh', 'dbh', 'dbq'];
      params(clipped).forEach((g, i) => {
        const r = params(raw)[i];
        expect(g === undefined).toBe(r === undefined);
        if (g && r) expectCloseRelative(`clipped = raw / 3: ${names[i]}`, g, Array.from(r, (v) => v / 3), GPU_F32);
      });
      // dh0, dx and the diagnostics are not parameter gradients: unclipped, bit for bit
      expect(clipped.dh0).toEqual(raw.dh0);
      expect(clipped.dx).toEqual(raw.dx);
      expect(clipped.hT).toEqual(raw.hT);
      expect(clipped.gradNormPerStep).toEqual(raw.gradNormPerStep);
      expect(clipped.loss).toBe(raw.loss);

      // at or below the threshold: nothing changes, bit for bit
      for (const above of [raw.gradNorm * 2, raw.gradNorm]) {
        const same = await onGpu(`clipNorm ${above}`, model, batch, { ...ALL, clipNorm: above });
        expect(same.clipped).toBe(false);
        expectSameGpuResult(`clipNorm ${above}`, same, raw, true);
      }
    });

    it('NaN weights: nonFinite, not clipped, gradNorm NaN', async () => {
      const { model, batch } = randomProblem({ T: 5, B: 2, d: 3, h: 4, q: 3, seed: 82 });
      model.Whh[5] = NaN;
      const r = await gpu.gradients(model, batch, { loss: 'cross-entropy', clipNorm: 1 });
      expect(r.nonFinite).toBe(true);
      expect(r.clipped).toBe(false);
      expect(r.gradNorm).toBeNaN();
      expect((await cpu.gradients(model, batch, { loss: 'cross-entropy', clipNorm: 1 })).nonFinite).toBe(true);
    });

    it('NaN in one input value: nonFinite, not clipped', async () => {
      const { model, batch } = randomProblem({ T: 5, B: 2, d: 3, h: 4, q: 3, seed: 84 });
      (batch.x as Float32Array)[4] = NaN;
      const r = await gpu.gradients(model, batch, { loss: 'cross-entropy', clipNorm: 1 });
      expect(r.nonFinite).toBe(true);
      expect(r.clipped).toBe(false);
      expect((await cpu.gradients(model, batch, { loss: 'cross-entropy', clipNorm: 1 })).nonFinite).toBe(true);
    });

    it('huge weights that overflow: nonFinite, and one step from h0 = 0 (not using W_hh) is finite', async () => {
      const { model, batch } = randomProblem({ T: 12, B: 2, d: 3, h: 4, q: 3, activation: 'identity', seed: 83 });
      model.Whh = model.Whh.map((v) => v * 1e30); // finite in float32, overflows float32 (and float64) over 12 steps
      expect(model.Whh.every(Number.isFinite)).toBe(true);
      const r = await gpu.gradients(model, batch, { loss: 'cross-entropy', clipNorm: 1 });
      expect(r.nonFinite).toBe(true);
      expect(r.clipped).toBe(false);
      expect(Number.isFinite(r.gradNorm)).toBe(false);
      const one = { ...batch, steps: 1, x: batch.x.slice(0, 2 * 3), y: batch.y!.slice(0, 2) };
      const ok = await onGpu('one step, huge W_hh', model, one, { loss: 'cross-entropy' });
      expect(ok.nonFinite).toBe(false);
    });
  });
}

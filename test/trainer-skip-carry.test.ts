// A skipped step (non-finite gradients) leaves a trainer exactly as it was:
// parameters, optimizer state and the carried hidden state, on both engines.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../src/index.js';
import { gpuEngine } from './gpu-setup.js';
import { randomProblem } from './helpers.js';

let engines: [string, Engine][] = [];
beforeAll(async () => {
  engines = [['cpu', await createEngine({ backend: 'cpu' })], ['webgpu', await gpuEngine()], ['wasm', await createEngine({ backend: 'wasm', threads: 2 })]];
});
afterAll(() => engines.forEach(([, e]) => e.dispose()));

describe('a skipped step under carryState', () => {
  for (const name of ['cpu', 'webgpu', 'wasm']) {
    it(`${name}: the next step is the same as if the bad batch had never come`, async () => {
      const engine = engines.find(([n]) => n === name)![1];
      const { model, batch } = randomProblem({ T: 4, B: 3, d: 5, h: 6, q: 5, tokens: false, seed: 3 });
      const next = randomProblem({ T: 4, B: 3, d: 5, h: 6, q: 5, tokens: false, seed: 4 }).batch;
      const bad = { ...batch, x: Float32Array.from(batch.x as Float32Array, (v, i) => (i === 7 ? NaN : v)) };
      const options = { optimizer: { kind: 'adam' as const, learningRate: 0.01 }, loss: 'cross-entropy' as const, carryState: true, clipNorm: 1 };
      const a = engine.trainer(model, options);
      const b = engine.trainer(model, options);
      await a.step(batch);
      await b.step(batch);
      const skipped = await a.step(bad);
      expect(skipped.skipped).toBe(true);
      const ra = await a.step(next, { readGradNorm: true });
      const rb = await b.step(next, { readGradNorm: true });
      expect(ra.skipped).toBe(false);
      expect(Number.isFinite(ra.loss)).toBe(true);
      expect(ra.loss).toBe(rb.loss);
      expect(ra.gradNorm).toBe(rb.gradNorm);
      expect(ra.step).toBe(rb.step);
      const [pa, pb] = [await a.read(), await b.read()];
      for (const k of ['Whx', 'Whh', 'Wqh', 'bh', 'bq'] as const) expect(Array.from(pa[k]!)).toEqual(Array.from(pb[k]!));
      a.dispose();
      b.dispose();
    });
  }
});

// Gradients too large for a float32 sum of squares (||g|| above ~1.8e19) but
// finite: the GPU's norm, flags and clipping agree with the float64 CPU reference.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createEngine, type Engine } from '../src/index.js';
import { gpuEngine } from './gpu-setup.js';
import { expectClose, randomProblem } from './helpers.js';

let gpu: Engine;
let cpu: Engine;
beforeAll(async () => {
  gpu = await gpuEngine();
  cpu = await createEngine({ backend: 'cpu' });
});
afterAll(() => gpu?.dispose());

it('a finite gradient of norm ~1e21 is reported finite, with the right norm, and clipped', async () => {
  const { model, batch } = randomProblem({ T: 5, B: 3, d: 4, h: 7, q: 5, loss: 'none', seed: 21 });
  batch.dO = batch.dO!.map((v) => v * 1e22);
  const options = { loss: 'none' as const, clipNorm: 1 };
  const [g, c] = [await gpu.gradients(model, batch, options), await cpu.gradients(model, batch, options)];
  expect(c.nonFinite).toBe(false);
  expect(c.gradNorm).toBeGreaterThan(1e20);
  expect(g.nonFinite).toBe(false);
  expect(g.clipped).toBe(true);
  expect(Math.abs(g.gradNorm - c.gradNorm) / c.gradNorm).toBeLessThan(2e-3);
  for (const k of ['dWhx', 'dWhh', 'dWqh', 'dbh', 'dbq'] as const) {
    expectClose(k, g[k]!, c[k]!, { rtol: 2e-3, atol: 1e-9 });
  }
});

it('one NaN gradient element makes the norm NaN and the flags say so', async () => {
  const { model, batch } = randomProblem({ T: 3, B: 2, d: 3, h: 4, q: 3, loss: 'none', seed: 22 });
  batch.dO![0] = NaN;
  const [g, c] = [await gpu.gradients(model, batch, { loss: 'none', clipNorm: 1 }), await cpu.gradients(model, batch, { loss: 'none', clipNorm: 1 })];
  expect(c.nonFinite).toBe(true);
  expect(g.nonFinite).toBe(true);
  expect(g.clipped).toBe(false);
  expect(Number.isNaN(g.gradNorm)).toBe(true);
});

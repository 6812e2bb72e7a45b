// The WebGPU engine's contract beyond the numbers: a gradient call records at
// most 2*T + 16 dispatches and makes exactly one submit (issue 3's bound, for
// full, chunked, randomized and window truncation and several T); results are
// bit-identical across runs, also after other calls reused the pooled buffers;
// repeated calls do not grow the pool; a trainer step is one submit; and
// dispose() leaves no GPU buffer alive.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BpttDeviceError, type Engine } from '../src/index.js';
import type { GradientOptions, Truncation } from '../src/types.js';
import { randomProblem, type ProblemSpec } from './helpers.js';
import { gpuEngine } from './gpu-setup.js';

let gpu: Engine;
beforeAll(async () => {
  gpu = await gpuEngine();
  console.log(`adapter: ${gpu.adapter?.vendor} ${gpu.adapter?.architecture} (${gpu.backendReason})`);
});
afterAll(() => gpu?.dispose());

const bound = (T: number) => 2 * T + 16;

describe('dispatches and submits of one gradient call', () => {
  const seen: string[] = [];
  afterAll(() => console.log(`dispatches per gradient call (bound 2T + 16):\n${seen.join('\n')}`));

  const truncations = (T: number): Truncation[] => [
    { kind: 'full' },
    { kind: 'chunked', steps: 3 },
    { kind: 'randomized', keepProbability: 0.5, seed: 9 },
    { kind: 'randomized', xi: Float32Array.from({ length: T }, (_, t) => (t % 3 === 1 ? 0 : 1.5)) },
    { kind: 'window', steps: 3 },
  ];
  it.each([1, 2, 5, 16, 35])('T = %i: every output asked for, values and token ids', async (T) => {
    for (const tokens of [false, true]) {
      const { model, batch } = randomProblem({ T, B: 3, d: 4, h: 7, q: 5, tokens, h0: true, dhT: true, seed: 300 + T });
      for (const truncation of truncations(T)) {
        // the most work a call can ask for: biases, loss, dx, per-step norms, clipping applied
        const options: GradientOptions = { loss: 'cross-entropy', truncation, inputGradient: !tokens, gradNormPerStep: true, clipNorm: 1e-3 };
        const r = await gpu.gradients(model, batch, options);
        const { dispatches, submits } = gpu.stats();
        const name = `T=${String(T).padStart(2)} ${tokens ? 'ids   ' : 'values'} ${truncation.kind}${'xi' in truncation ? ' (xi)' : ''}`;
        seen.push(`  ${name.padEnd(36)} ${dispatches} dispatches, ${submits} submit`);
        expect(r.clipped, name).toBe(true);
        expect(submits, `${name}: submits`).toBe(1);
        expect(dispatches, `${name}: dispatches`).toBeLessThanOrEqual(bound(T));
        expect(dispatches, `${name}: dispatches`).toBeGreaterThanOrEqual(2 * T); // forward and reverse steps, one each
      }
    }
  });

  it("loss 'none' and mse at T = 16", async () => {
    for (const loss of ['none', 'mse'] as const) {
      const { model, batch } = randomProblem({ T: 16, B: 3, d: 4, h: 7, q: 5, loss, seed: 320 });
      await gpu.gradients(model, batch, { loss, inputGradient: true, gradNormPerStep: true });
      const { dispatches, submits } = gpu.stats();
      seen.push(`  T=16 values ${loss} full`.padEnd(38) + ` ${dispatches} dispatches, ${submits} submit`);
      expect(submits).toBe(1);
      expect(dispatches).toBeLessThanOrEqual(bound(16));
    }
  });

  it('a trainer step: one submit, within the same bound, for several T', async () => {
    for (const T of [1, 5, 16]) {
      for (const truncation of [{ kind: 'full' }, { kind: 'chunked', steps: 3 }, { kind: 'randomized', keepProbability: 0.5, seed: 1 }] as Truncation[]) {
        const { model, batch } = randomProblem({ T, B: 3, d: 4, h: 7, q: 5, tokens: true, seed: 330 + T });
        const trainer = gpu.trainer(model, { optimizer: { kind: 'adam', learningRate: 0.01 }, loss: 'cross-entropy', truncation, clipNorm: 1, carryState: true });
        for (let i = 0; i < 2; i++) {
          await trainer.step(batch);
          const { dispatches, submits } = gpu.stats();
          if (i === 0) seen.push(`  T=${String(T).padStart(2)} trainer step ${truncation.kind}`.padEnd(38) + ` ${dispatches} dispatches, ${submits} submit`);
          expect(submits).toBe(1);
          expect(dispatches).toBeLessThanOrEqual(bound(T));
        }
        trainer.dispose();
      }
    }
  });
});

describe('determinism', () => {
  const cases: { name: string; spec: ProblemSpec; options: GradientOptions }[] = [
    { name: 'odd sizes, tanh, cross-entropy, full, every output', spec: { T: 5, B: 3, d: 4, h: 7, q: 5, h0: true, dhT: true }, options: { loss: 'cross-entropy', inputGradient: true, gradNormPerStep: true } },
    { name: 'split-K (560 rows), relu, mse, randomized, clipped', spec: { T: 16, B: 35, d: 5, h: 33, q: 7, activation: 'relu', loss: 'mse', h0: true }, options: { loss: 'mse', truncation: { kind: 'randomized', keepProbability: 0.7, seed: 2 }, clipNorm: 0.01, inputGradient: true, gradNormPerStep: true } },
    { name: 'token ids (scatter-add), window(4)', spec: { T: 16, B: 35, d: 40, h: 33, q: 7, tokens: true, dhT: true }, options: { loss: 'cross-entropy', truncation: { kind: 'window', steps: 4 }, gradNormPerStep: true } },
    { name: "identity, loss 'none', chunked(3), no biases", spec: { T: 8, B: 32, d: 32, h: 64, q: 32, activation: 'identity', loss: 'none', bias: false }, options: { loss: 'none', truncation: { kind: 'chunked', steps: 3 }, inputGradient: true } },
  ];

  it('the same call twice, and again after every other case ran on the same pooled buffers, is bit-identical', async () => {
    const first = [];
    for (const c of cases) {
      const { model, batch } = randomProblem({ ...c.spec, seed: 400 });
      const a = await gpu.gradients(model, batch, c.options);
      const b = await gpu.gradients(model, batch, c.options);
      expect(b, `${c.name}: twice in a row`).toEqual(a);
      first.push(a);
    }
    // reversed order: every buffer now holds another case's data first
    for (let i = cases.length - 1; i >= 0; i--) {
      const { model, batch } = randomProblem({ ...cases[i].spec, seed: 400 });
      expect(await gpu.gradients(model, batch, cases[i].options), `${cases[i].name}: after the others`).toEqual(first[i]);
    }
  });

  it('without h0 and dhT after a call that had them: the zeros are really zeros', async () => {
    const spec = { T: 5, B: 3, d: 4, h: 7, q: 5 };
    const bare = randomProblem({ ...spec, seed: 410 });
    const clean = await gpu.gradients(bare.model, bare.batch, { loss: 'cross-entropy', gradNormPerStep: true });
    const withState = randomProblem({ ...spec, h0: true, dhT: true, seed: 411 });
    await gpu.gradients(withState.model, withState.batch, { loss: 'cross-entropy', gradNormPerStep: true });
    expect(await gpu.gradients(bare.model, bare.batch, { loss: 'cross-entropy', gradNormPerStep: true })).toEqual(clean);
  });
});

describe('buffers', () => {
  it('repeated calls of the same shapes do not grow the pool', async () => {
    const { model, batch } = randomProblem({ T: 6, B: 4, d: 5, h: 9, q: 6, h0: true, seed: 500 });
    const options: GradientOptions = { loss: 'cross-entropy', inputGradient: true, gradNormPerStep: true };
    await gpu.gradients(model, batch, options);
    const trainerRound = async () => {
      const t = gpu.trainer(model, { optimizer: { kind: 'adam', learningRate: 0.01 }, loss: 'cross-entropy', carryState: true });
      await t.step(batch);
      await t.step(batch);
      await t.read();
      t.dispose();
    };
    await trainerRound();
    const after = gpu.stats().liveBuffers;
    for (let i = 0; i < 3; i++) {
      await gpu.gradients(model, batch, options);
      await trainerRound();
    }
    expect(gpu.stats().liveBuffers).toBeLessThanOrEqual(after);
  });

  it('dispose() destroys every buffer the engine holds, trainers included, and later calls are refused', async () => {
    const engine = await gpuEngine();
    const { model, batch } = randomProblem({ T: 5, B: 3, d: 4, h: 7, q: 5, seed: 510 });
    await engine.gradients(model, batch, { loss: 'cross-entropy', truncation: { kind: 'window', steps: 2 }, inputGradient: true });
    const trainer = engine.trainer(model, { optimizer: { kind: 'adam', learningRate: 0.01 }, loss: 'cross-entropy', carryState: true });
    await trainer.step(batch); // left alive on purpose
    expect(engine.stats().liveBuffers).toBeGreaterThan(0);
    engine.dispose();
    expect(engine.stats().liveBuffers).toBe(0);
    expect(engine.stats().liveBytes).toBe(0);
    await expect(engine.gradients(model, batch, { loss: 'cross-entropy' })).rejects.toThrow(BpttDeviceError);
    await expect(trainer.step(batch)).rejects.toThrow(BpttDeviceError);
    engine.dispose(); // twice is harmless
    expect(engine.stats().liveBuffers).toBe(0);
  });
});

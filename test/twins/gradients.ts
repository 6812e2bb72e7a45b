// GPU twins of the CPU reference's gradient tests: every output of
// engine.gradients on WebGPU (Dawn + SwiftShader here) against the float64 CPU
// reference on the same seeded problem, for every activation, loss, bias
// setting and truncation strategy, token ids, dx, dh0, hT and per-step norms,
// on odd sizes, sizes that straddle the 32-wide tiles (and use split-K), round
// sizes, and one longer sequence.
//
// Tolerances (see GpuTolerance in gpu-setup.ts): GPU_TOL = rtol 2e-3, atol
// 1e-5 * max|cpu| per output; loss and gradNorm rtol 2e-3. The GPU computes in
// float32 and sums in a different order than the float64 reference.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../../src/index.js';
import type { Activation, Batch, GradientOptions, GradientResult, LossKind, RnnModel, Truncation } from '../../src/types.js';
import { randomProblem, type ProblemSpec } from '../helpers.js';
import { GPU_TOL, type GpuTolerance, expectSameAsCpu, printWorst } from '../gpu-setup.js';

/**
 * Registers this file's tests for an engine under test (`gpu` below: WebGPU in
 * gpu-gradients.test.ts, WebAssembly in wasm-gradients.test.ts), each result against the CPU reference.
 */
export function defineGradientTwins(label: string, makeEngine: () => Promise<Engine>): void {
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

  const ACTIVATIONS: Activation[] = ['identity', 'tanh', 'relu'];
  const LOSSES: LossKind[] = ['cross-entropy', 'mse', 'none'];

  /** An explicit xi_1..xi_T with a zero, values above and below 1, and xi_1 != 1 (so dh0 is scaled). */
  function explicitXi(T: number): Float32Array {
    const pattern = [0.5, 0, 2, 1.25, 1];
    return Float32Array.from({ length: T }, (_, t) => pattern[t % pattern.length]);
  }

  /** Every truncation strategy; window(tau >= 3) matters: ages beyond 2 once went wrong on the GPU. */
  function truncations(T: number, tau: number, windowTau = tau): { name: string; truncation: Truncation }[] {
    return [
      { name: 'full', truncation: { kind: 'full' } },
      { name: `chunked(${tau})`, truncation: { kind: 'chunked', steps: tau } },
      { name: `window(${windowTau})`, truncation: { kind: 'window', steps: windowTau } },
      { name: 'randomized(0.6, seed 4)', truncation: { kind: 'randomized', keepProbability: 0.6, seed: 4 } },
      { name: 'randomized, explicit xi', truncation: { kind: 'randomized', xi: explicitXi(T) } },
    ];
  }

  /** The same call on both engines, every output compared. */
  async function twin(where: string, model: RnnModel, batch: Batch, options: GradientOptions, tol: GpuTolerance = GPU_TOL): Promise<{ g: GradientResult; c: GradientResult }> {
    const g = await gpu.gradients(model, batch, options);
    const c = await cpu.gradients(model, batch, options);
    expectSameAsCpu(where, g, c, tol);
    return { g, c };
  }

  function describeSize(s: ProblemSpec): string {
    return `T=${s.T} B=${s.B} d=${s.d} h=${s.h} q=${s.q}`;
  }

  describe('odd sizes T=5 B=3 d=4 h=7 q=5, h0 and dhT given, dx and per-step norms', () => {
    const size = { T: 5, B: 3, d: 4, h: 7, q: 5 };
    for (const activation of ACTIVATIONS) {
      for (const loss of LOSSES) {
        for (const bias of [true, false]) {
          describe(`${activation}, ${loss}, ${bias ? 'biases' : 'no biases'}`, () => {
            it.each([...truncations(5, 2, 3), { name: 'window(1)', truncation: { kind: 'window', steps: 1 } as Truncation }])('$name', async ({ name, truncation }) => {
              const { model, batch } = randomProblem({ ...size, activation, loss, bias, h0: true, dhT: true, seed: 3 });
              await twin(`odd ${activation} ${loss} ${bias} ${name}`, model, batch, { loss, truncation, inputGradient: true, gradNormPerStep: true });
            });
          });
        }
      }
    }
  });

  describe('without h0, dhT, dx and per-step norms (the outputs that are optional)', () => {
    it.each(ACTIVATIONS)('%s, cross-entropy, full and window(3)', async (activation) => {
      const { model, batch } = randomProblem({ T: 5, B: 3, d: 4, h: 7, q: 5, activation, seed: 4 });
      for (const truncation of [{ kind: 'full' }, { kind: 'window', steps: 3 }] as Truncation[]) {
        const { g } = await twin(`bare ${activation} ${truncation.kind}`, model, batch, { loss: 'cross-entropy', truncation });
        expect(g.dx).toBeUndefined();
        expect(g.gradNormPerStep).toBeUndefined();
      }
    });
  });

  describe('token ids (gather and scatter-add instead of one-hot products)', () => {
    const sizes: ProblemSpec[] = [
      { T: 5, B: 3, d: 6, h: 7, q: 5 },
      { T: 16, B: 35, d: 40, h: 33, q: 7 }, // T*B = 560 rows: two split-K blocks; 33 and 35 straddle the tiles
    ];
    for (const size of sizes) {
      describe(describeSize(size), () => {
        it.each(truncations(size.T, 3))('tanh and relu, cross-entropy and mse, $name', async ({ name, truncation }) => {
          for (const [activation, loss, bias] of [['tanh', 'cross-entropy', true], ['relu', 'mse', false]] as [Activation, LossKind, boolean][]) {
            const { model, batch } = randomProblem({ ...size, activation, loss, bias, tokens: true, h0: true, dhT: true, seed: 5 });
            await twin(`tokens ${describeSize(size)} ${activation} ${loss} ${name}`, model, batch, { loss, truncation, gradNormPerStep: true });
          }
        });
      });
    }
  });

  describe('sizes that straddle the 32-wide tiles', () => {
    const sizes: ProblemSpec[] = [
      { T: 16, B: 35, d: 5, h: 33, q: 7 }, // 560 rows: split-K over two blocks
      { T: 4, B: 33, d: 33, h: 31, q: 34 }, // every matmul dimension just past (or short of) a tile
    ];
    for (const size of sizes) {
      describe(describeSize(size), () => {
        it.each(truncations(size.T, 3))('every activation, cross-entropy, $name', async ({ name, truncation }) => {
          for (const activation of ACTIVATIONS) {
            const { model, batch } = randomProblem({ ...size, activation, h0: true, dhT: true, seed: 6 });
            await twin(`straddle ${describeSize(size)} ${activation} ${name}`, model, batch, { loss: 'cross-entropy', truncation, inputGradient: true, gradNormPerStep: true });
          }
        });
        it.each(['mse', 'none'] as LossKind[])('tanh, %s, no biases, full', async (loss) => {
          const { model, batch } = randomProblem({ ...size, loss, bias: false, h0: true, dhT: true, seed: 7 });
          await twin(`straddle ${describeSize(size)} ${loss}`, model, batch, { loss, inputGradient: true, gradNormPerStep: true });
        });
      });
    }
  });

  describe('round sizes T=8 B=32 d=32 h=64 q=32', () => {
    const size = { T: 8, B: 32, d: 32, h: 64, q: 32 };
    it.each(truncations(8, 3))('tanh, cross-entropy, $name', async ({ name, truncation }) => {
      const { model, batch } = randomProblem({ ...size, h0: true, dhT: true, seed: 8 });
      await twin(`round tanh ${name}`, model, batch, { loss: 'cross-entropy', truncation, inputGradient: true, gradNormPerStep: true });
    });
    it.each([
      { activation: 'relu', loss: 'mse', bias: true },
      { activation: 'identity', loss: 'none', bias: false },
      { activation: 'relu', loss: 'cross-entropy', bias: false },
    ] as { activation: Activation; loss: LossKind; bias: boolean }[])('$activation, $loss, biases $bias, full and window(4)', async ({ activation, loss, bias }) => {
      const { model, batch } = randomProblem({ ...size, activation, loss, bias, h0: true, dhT: true, seed: 9 });
      for (const truncation of [{ kind: 'full' }, { kind: 'window', steps: 4 }] as Truncation[]) {
        await twin(`round ${activation} ${loss} ${truncation.kind}`, model, batch, { loss, truncation, inputGradient: true, gradNormPerStep: true });
      }
    });
  });

  describe('degenerate sizes: one step, one sequence, one unit, one class', () => {
    const sizes: ProblemSpec[] = [
      { T: 1, B: 1, d: 1, h: 1, q: 1 },
      { T: 3, B: 1, d: 1, h: 1, q: 2 },
      { T: 2, B: 2, d: 3, h: 1, q: 1 },
      { T: 64, B: 1, d: 2, h: 3, q: 2 }, // many steps, tiny work per step
    ];
    it.each(sizes)('T=$T B=$B d=$d h=$h q=$q: every loss, full and window(2)', async (size) => {
      for (const loss of LOSSES) {
        const { model, batch } = randomProblem({ ...size, loss, h0: true, dhT: true, seed: 11 });
        for (const truncation of [{ kind: 'full' }, { kind: 'window', steps: 2 }] as Truncation[]) {
          await twin(`degenerate ${describeSize(size)} ${loss} ${truncation.kind}`, model, batch, { loss, truncation, inputGradient: true, gradNormPerStep: true });
        }
      }
    });
  });

  describe('a longer sequence T=35 B=32 d=16 h=64 q=32', () => {
    it.each([
      { name: 'full', truncation: { kind: 'full' } },
      { name: 'chunked(8)', truncation: { kind: 'chunked', steps: 8 } },
      { name: 'window(5)', truncation: { kind: 'window', steps: 5 } },
    ] as { name: string; truncation: Truncation }[])('tanh, cross-entropy, token ids, $name', async ({ name, truncation }) => {
      const { model, batch } = randomProblem({ T: 35, B: 32, d: 16, h: 64, q: 32, tokens: true, h0: true, seed: 10 });
      await twin(`long T=35 ${name}`, model, batch, { loss: 'cross-entropy', truncation, gradNormPerStep: true });
    });
  });
}

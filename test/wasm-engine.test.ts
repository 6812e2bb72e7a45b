// The 'wasm' engine itself: the protocol between host and C, sizes on both
// sides of the SIMD width and of the 4 x 8 register tile, determinism for a
// fixed thread count (and across thread counts: every output element is summed
// in the same order whoever computes it), growing memory, what 'auto' picks
// here, and the engine's life cycle.
import '../src/node.js';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BpttDeviceError, createEngine, type Engine } from '../src/index.js';
import type { Activation, GradientOptions, GradientResult, Truncation } from '../src/types.js';
import { SLOTS } from '../src/wasm/context.js';
import { randomProblem } from './helpers.js';
import { expectSameAsCpu, printWorst } from './gpu-setup.js';

const OUTPUTS = ['dWhx', 'dWhh', 'dWqh', 'dbh', 'dbq', 'dh0', 'hT', 'dx', 'gradNormPerStep'] as const;

function expectBitIdentical(where: string, a: GradientResult, b: GradientResult): void {
  for (const key of OUTPUTS) expect(a[key], `${where}: ${key}`).toEqual(b[key]);
  expect(Object.is(a.loss, b.loss), `${where}: loss`).toBe(true);
  expect(a.gradNorm, `${where}: gradNorm`).toBe(b.gradNorm);
}

let cpu: Engine;
const wasm: Record<number, Engine> = {};
beforeAll(async () => {
  cpu = await createEngine({ backend: 'cpu' });
  for (const threads of [1, 2, 3]) wasm[threads] = await createEngine({ backend: 'wasm', threads });
});
afterAll(() => {
  printWorst('wasm-engine.test.ts');
  for (const e of Object.values(wasm)) e.dispose();
});

describe('the context block', () => {
  it('src/wasm/context.ts lists the slots of enum Slot in src/wasm/c/bptt.h, in order', () => {
    const header = readFileSync(new URL('../src/wasm/c/bptt.h', import.meta.url), 'utf8');
    const body = header.slice(header.indexOf('enum Slot {'), header.indexOf('S_COUNT'));
    const names = [...body.replace(/\/\/.*$/gm, '').matchAll(/\b([SP]_[A-Z0-9]+)\b/g)].map((m) => m[1]);
    expect(names).toEqual([...SLOTS]);
  });
});

describe('sizes on both sides of the SIMD width (4) and the register tile (4 rows x 8 columns)', () => {
  // h and q run through 1..9 and 15..17 (vector, tile and scalar remainders), B through 1..5 (row remainders)
  const sizes = [
    { T: 3, B: 1, d: 1, h: 1, q: 1 },
    { T: 3, B: 2, d: 3, h: 3, q: 2 },
    { T: 4, B: 3, d: 4, h: 4, q: 4 },
    { T: 3, B: 4, d: 5, h: 5, q: 6 },
    { T: 3, B: 5, d: 7, h: 8, q: 9 },
    { T: 2, B: 5, d: 9, h: 9, q: 7 },
    { T: 3, B: 7, d: 8, h: 15, q: 17 },
    { T: 2, B: 9, d: 17, h: 17, q: 16 },
    { T: 2, B: 4, d: 6, h: 12, q: 3 },
  ];
  const cases: { activation: Activation; truncation: Truncation }[] = [
    { activation: 'tanh', truncation: { kind: 'full' } },
    { activation: 'relu', truncation: { kind: 'window', steps: 2 } },
    { activation: 'identity', truncation: { kind: 'chunked', steps: 2 } },
  ];
  for (const threads of [1, 2, 3]) {
    it.each(sizes)(`${threads} thread(s): T=$T B=$B d=$d h=$h q=$q, values and token ids, every activation`, async (size) => {
      for (const { activation, truncation } of cases) {
        for (const tokens of [false, true]) {
          const { model, batch } = randomProblem({ ...size, activation, tokens, h0: true, dhT: true, seed: 31 });
          const options: GradientOptions = { loss: 'cross-entropy', truncation, inputGradient: !tokens, gradNormPerStep: true };
          const got = await wasm[threads].gradients(model, batch, options);
          expectSameAsCpu(`${threads} threads ${JSON.stringify(size)} ${activation} ${tokens}`, got, await cpu.gradients(model, batch, options));
        }
      }
    });
  }
});

describe('determinism', () => {
  const { model, batch } = randomProblem({ T: 12, B: 9, d: 11, h: 37, q: 13, h0: true, dhT: true, seed: 41 });
  const options: GradientOptions = { loss: 'cross-entropy', inputGradient: true, gradNormPerStep: true, truncation: { kind: 'window', steps: 4 } };

  it.each([1, 2, 3])('%i thread(s): the same call five times gives the same bits', async (threads) => {
    const first = await wasm[threads].gradients(model, batch, options);
    for (let i = 0; i < 4; i++) expectBitIdentical(`run ${i + 2}`, await wasm[threads].gradients(model, batch, options), first);
  });

  it('1, 2 and 3 threads give the same gradients bit for bit (the norms are summed per thread, so they may differ in the last bits)', async () => {
    const one = await wasm[1].gradients(model, batch, options);
    for (const threads of [2, 3]) {
      const other = await wasm[threads].gradients(model, batch, options);
      for (const key of ['dWhx', 'dWhh', 'dWqh', 'dbh', 'dbq', 'dh0', 'hT', 'dx'] as const) expect(other[key], `${threads} threads: ${key}`).toEqual(one[key]);
      expect(other.gradNorm).toBeCloseTo(one.gradNorm, 12);
    }
  });

  it('a trainer: the same 4 steps twice give the same parameters bit for bit', async () => {
    const run = async () => {
      const t = wasm[2].trainer(model, { optimizer: { kind: 'adam', learningRate: 0.01 }, loss: 'cross-entropy', clipNorm: 0.5, carryState: true });
      for (let i = 0; i < 4; i++) await t.step(batch);
      const p = await t.read();
      t.dispose();
      return p;
    };
    expect(await run()).toEqual(await run());
  });
});

describe('memory', () => {
  it('grows for a larger call and keeps its size for smaller ones; results stay right in between', async () => {
    const engine = await createEngine({ backend: 'wasm', threads: 2 });
    try {
      const small = randomProblem({ T: 3, B: 2, d: 4, h: 5, q: 3, seed: 51 });
      const large = randomProblem({ T: 40, B: 65, d: 30, h: 97, q: 21, seed: 52 }); // about 5 MB of arrays
      const options: GradientOptions = { loss: 'cross-entropy', gradNormPerStep: true };
      await engine.gradients(small.model, small.batch, options);
      const before = engine.stats().liveBytes;
      const g = await engine.gradients(large.model, large.batch, options);
      expectSameAsCpu('large', g, await cpu.gradients(large.model, large.batch, options));
      const grown = engine.stats().liveBytes;
      expect(grown).toBeGreaterThan(before);
      for (let i = 0; i < 3; i++) {
        expectSameAsCpu('small again', await engine.gradients(small.model, small.batch, options), await cpu.gradients(small.model, small.batch, options));
        await engine.gradients(large.model, large.batch, options);
      }
      expect(engine.stats().liveBytes, 'no growth in steady state').toBe(grown);
    } finally {
      engine.dispose();
    }
  });
});

describe('choosing and describing the backend', () => {
  it("'wasm' says how many threads and why", async () => {
    expect(wasm[1].backend).toBe('wasm');
    expect(wasm[2].backendReason).toMatch(/backend: 'wasm' was asked for; WebAssembly SIMD on 2 threads/);
    const byDefault = await createEngine({ backend: 'wasm' });
    expect(byDefault.backendReason).toMatch(/WebAssembly SIMD on \d+ threads? \(min\(\d+ cores, 4\)\)/);
    byDefault.dispose();
  });

  it("'auto' on a machine whose only adapter is a software one picks 'wasm' and says why", async () => {
    const engine = await createEngine();
    try {
      if (engine.backend === 'webgpu') {
        expect(engine.adapter!.isFallbackAdapter).toBe(false); // a real GPU here: nothing more to check
        return;
      }
      expect(engine.backend).toBe('wasm');
      expect(engine.backendReason).toMatch(/; using WebAssembly; WebAssembly SIMD on \d+ thread/);
      expect((await engine.selfCheck()).ok).toBe(true);
    } finally {
      engine.dispose();
    }
  });

  it('engine.gpu throws, adapter and device are null, selfCheck passes', async () => {
    expect(() => wasm[1].gpu).toThrow(BpttDeviceError);
    expect(wasm[1].adapter).toBeNull();
    expect(wasm[1].device).toBeNull();
    const r = await wasm[2].selfCheck();
    expect(r.ok).toBe(true);
    expect(r.worstError).toBeLessThan(0.1);
  });

  it('dispose() ends the worker threads; later calls throw BpttDeviceError; a second dispose is harmless', async () => {
    const engine = await createEngine({ backend: 'wasm', threads: 2 });
    const { model, batch } = randomProblem({ T: 3, B: 2, d: 4, h: 5, q: 3, seed: 61 });
    const trainer = engine.trainer(model, { optimizer: { kind: 'sgd', learningRate: 0.1 }, loss: 'cross-entropy' });
    await trainer.step(batch);
    engine.dispose();
    engine.dispose();
    await expect(engine.gradients(model, batch, { loss: 'cross-entropy' })).rejects.toThrow(BpttDeviceError);
    await expect(trainer.step(batch)).rejects.toThrow(BpttDeviceError);
  });
});

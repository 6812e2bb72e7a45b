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
import { SEQ_SLOTS } from '../src/wasm/context.js';
import { randomProblem } from './helpers.js';
import { GPU_TOL, expectCloseRelative, expectSameAsCpu, printWorst } from './gpu-setup.js';

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
  it('src/wasm/context.ts lists as SEQ_SLOTS the slots of enum SeqSlot in src/wasm/c/seq.h, in order (every call, an RnnModel\'s too)', () => {
    const header = readFileSync(new URL('../src/wasm/c/seq.h', import.meta.url), 'utf8');
    const body = header.slice(header.indexOf('enum SeqSlot {'), header.indexOf('Q_COUNT'));
    const names = [...body.replace(/\/\/.*$/gm, '').matchAll(/\b(QP?_[A-Z0-9_]+)\b/g)].map((m) => m[1]);
    expect(names).toEqual([...SEQ_SLOTS]);
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

  it('1, 2 and 3 threads give the same bits, the loss and the norms included (the walk adds per-row and per-block partial sums in one order)', async () => {
    const one = await wasm[1].gradients(model, batch, options);
    for (const threads of [2, 3]) expectBitIdentical(`${threads} threads`, await wasm[threads].gradients(model, batch, options), one);
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

describe('batch.lengths (packed sequences) on an RnnModel, against the CPU reference', () => {
  const size = { T: 7, B: 5, d: 6, h: 9, q: 5 };
  const lengths = Int32Array.from([7, 3, 1, 5, 7]);
  const truncations: Truncation[] = [
    { kind: 'full' },
    { kind: 'chunked', steps: 2 },
    { kind: 'window', steps: 3 },
    { kind: 'randomized', keepProbability: 0.6, seed: 9 },
    { kind: 'randomized', xi: Float32Array.from([0.5, 0, 2, 1.25, 1, 1, 0.5]) },
  ];
  for (const threads of [1, 2, 3]) {
    it.each(truncations)(`${threads} thread(s), $kind: every loss, values and token ids, h0 and dhT`, async (truncation) => {
      for (const loss of ['cross-entropy', 'mse', 'none'] as const) {
        for (const tokens of [false, true]) {
          const { model, batch } = randomProblem({ ...size, loss, tokens, h0: true, dhT: true, seed: 71 });
          const options: GradientOptions = { loss, truncation, inputGradient: !tokens, gradNormPerStep: true };
          const withLengths = { ...batch, lengths };
          const got = await wasm[threads].gradients(model, withLengths, options);
          expectSameAsCpu(`lengths ${threads} ${truncation.kind} ${loss} ${tokens}`, got, await cpu.gradients(model, withLengths, options));
        }
      }
    });
  }

  it('a trainer with lengths and carryState takes the same steps as the CPU trainer', async () => {
    const { model } = randomProblem({ ...size, seed: 72 });
    const options = { optimizer: { kind: 'adam' as const, learningRate: 0.01 }, loss: 'cross-entropy' as const, clipNorm: 1, carryState: true };
    const a = wasm[2].trainer(model, options);
    const b = cpu.trainer(model, options);
    for (let k = 0; k < 3; k++) {
      const step = { ...randomProblem({ ...size, seed: 73 + k }).batch, lengths };
      const [ra, rb] = [await a.step(step, { readGradNorm: true }), await b.step(step, { readGradNorm: true })];
      expect(ra.loss).toBeCloseTo(rb.loss, 5);
      expect(ra.gradNorm!).toBeCloseTo(rb.gradNorm!, 5);
    }
    const [pa, pb] = [await a.read(), await b.read()];
    for (const k of ['Whx', 'Whh', 'Wqh', 'bh', 'bq'] as const) expectCloseRelative(`params ${k}`, pa[k]!, pb[k]!, GPU_TOL);
    a.dispose();
    b.dispose();
  });
});

describe('forward and generate of an RnnModel in WebAssembly, against the CPU reference', () => {
  const size = { T: 6, B: 4, d: 7, h: 9, q: 7 };
  for (const threads of [1, 2]) {
    it(`${threads} thread(s): loss, O, Y and hT for every loss, values and token ids, with and without lengths`, async () => {
      for (const loss of ['cross-entropy', 'mse', 'none'] as const) {
        for (const tokens of [false, true]) {
          for (const lengths of [undefined, Int32Array.from([6, 2, 1, 4])]) {
            const { model, batch } = randomProblem({ ...size, loss, tokens, h0: true, seed: 81 });
            const b = { ...batch, dO: undefined, lengths };
            const got = await wasm[threads].forward(model, b, { outputs: ['O', 'Y'] });
            const want = await cpu.forward(model, b, { outputs: ['O', 'Y'] });
            const where = `forward ${threads} ${loss} ${tokens} ${lengths ? 'lengths' : ''}`;
            for (const k of ['O', 'Y', 'hT'] as const) expectCloseRelative(`${where}: ${k}`, got[k]!, want[k]!, GPU_TOL);
            if (want.loss === undefined) expect(got.loss).toBeUndefined();
            else expect(got.loss!).toBeCloseTo(want.loss, 5);
          }
        }
      }
    });
  }

  it('the forward loss is the gradient call\'s loss, bit for bit', async () => {
    const { model, batch } = randomProblem({ ...size, tokens: true, seed: 82 });
    expect((await wasm[2].forward(model, batch)).loss).toBe((await wasm[2].gradients(model, batch, { loss: 'cross-entropy' })).loss);
  });

  it('generate: greedy and seeded sampling give the CPU reference\'s tokens; a trainer generates from its current parameters', async () => {
    const { model } = randomProblem({ ...size, tokens: true, seed: 83, scale: 2 });
    const prefix = Int32Array.from([1, 4, 2]);
    for (const options of [{ prefix, steps: 12 }, { prefix, steps: 12, temperature: 0.8, seed: 5 }]) {
      expect(Array.from(await wasm[2].generate(model, options))).toEqual(Array.from(await cpu.generate(model, options)));
    }
    const t = wasm[1].trainer(model, { optimizer: { kind: 'sgd', learningRate: 0.5 }, loss: 'cross-entropy' });
    await t.step(randomProblem({ ...size, tokens: true, seed: 84 }).batch);
    const now = await t.read();
    expect(Array.from(await t.generate({ prefix, steps: 8 }))).toEqual(Array.from(await cpu.generate(now, { prefix, steps: 8 })));
    t.dispose();
  });
});

describe('when threads cannot be had', () => {
  it('workers that fail to start leave one thread, and backendReason says why; a page without shared memory too', async () => {
    const { setWasmPlatform } = await import('../src/wasm/platform.js');
    const { nodeWasmPlatform } = await import('../src/wasm/node-platform.js');
    const { model, batch } = randomProblem({ T: 4, B: 3, d: 5, h: 6, q: 4, seed: 91 });
    try {
      setWasmPlatform({ ...nodeWasmPlatform, spawn: () => { throw new Error('blob: workers are not allowed here'); } });
      const e = await createEngine({ backend: 'wasm', threads: 2 });
      expect(e.backendReason).toMatch(/1 thread: the worker threads did not start \(blob: workers are not allowed here\)/);
      expectSameAsCpu('one thread', await e.gradients(model, batch, { loss: 'cross-entropy' }), await cpu.gradients(model, batch, { loss: 'cross-entropy' }));
      e.dispose();
      setWasmPlatform({ ...nodeWasmPlatform, noSharedMemory: () => 'the page is not cross-origin isolated' });
      const f = await createEngine({ backend: 'wasm' });
      expect(f.backendReason).toMatch(/1 thread: the page is not cross-origin isolated/);
      f.dispose();
    } finally {
      setWasmPlatform(nodeWasmPlatform);
    }
  });
});

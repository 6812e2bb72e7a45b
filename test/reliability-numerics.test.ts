// Reliability, numerics (issue 6), on the CPU, the WebGPU and the WebAssembly engine:
// - exploding gradients: NaN or infinite gradients are reported (nonFinite),
//   the trainer skips that update and says so (StepResult.skipped), and the
//   parameters are unchanged (read() bit-equal before and after), the
//   optimizer state too (a later valid step equals a fresh trainer's);
// - checkFinite: NaN or infinite inputs are refused before any work when on,
//   and flow through to nonFinite / skipped when off;
// - determinism: the same inputs and seed give bit-identical results on the
//   same adapter, run after run, on one engine and on a second device.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gpuEngine } from './gpu-setup.js';
import { BpttInputError, createEngine, packParams, type Engine } from '../src/index.js';
import type { Batch, GradientOptions, GradientResult, LossKind, RnnModel, TrainerOptions } from '../src/types.js';
import { randomProblem } from './helpers.js';

type Kind = 'cpu' | 'webgpu' | 'wasm';
const engines: Partial<Record<Kind, Engine>> = {};

beforeAll(async () => {
  engines.cpu = await createEngine({ backend: 'cpu' });
  engines.webgpu = await gpuEngine();
  engines.wasm = await createEngine({ backend: 'wasm', threads: 2 });
});

afterAll(() => {
  engines.cpu?.dispose();
  engines.webgpu?.dispose();
  engines.wasm?.dispose();
});

/** identity activation, Whh = scale * I: ||dH_t|| grows like scale^(T-t), h_t like scale^t. */
function exploding(scale: number, T: number): { model: RnnModel; batch: Batch } {
  const { model, batch } = randomProblem({ T, B: 2, d: 3, h: 4, q: 3, activation: 'identity', seed: 44 });
  model.Whh = new Float32Array(16);
  for (let i = 0; i < 4; i++) model.Whh[i * 4 + i] = scale;
  return { model, batch };
}

const bits = (a: ArrayLike<number>) => Array.from(new Uint32Array(Float32Array.from(a).buffer));
const nonFiniteCount = (r: GradientResult) =>
  [r.dWhx, r.dWhh, r.dWqh, r.dbh!, r.dbq!].reduce((n, a) => n + a.filter((v) => !Number.isFinite(v)).length, 0);

for (const kind of ['cpu', 'webgpu', 'wasm'] as const) {
  describe(`${kind}: exploding gradients`, () => {
    // 1e10^40 overflows float64 too (clipping cannot help); 1e3^20 = 1e60 overflows only float32
    for (const [scale, T, clipNorm] of [[1e10, 40, 1], [1e3, 20, undefined]] as const) {
      it(`Whh = ${scale} I, T = ${T}${clipNorm ? ', clipNorm 1' : ''}: gradients reported non-finite`, async () => {
        const { model, batch } = exploding(scale, T);
        const r = await engines[kind]!.gradients(model, batch, { loss: 'cross-entropy', clipNorm });
        expect(nonFiniteCount(r), 'some returned gradient is NaN or infinite').toBeGreaterThan(0);
        expect(r.nonFinite).toBe(true);
        expect(r.clipped, 'a non-finite norm clips nothing').toBe(false);
      });
    }

    for (const optimizer of [{ kind: 'sgd', learningRate: 0.1 }, { kind: 'adam', learningRate: 0.01 }] as const) {
      it(`${optimizer.kind} trainer: an exploding step is skipped and changes nothing`, async () => {
        const engine = engines[kind]!;
        // Whh = 3 I: fine over 5 steps (3^5 = 243), beyond float32 over 100 (3^100 = 5e47)
        const { model } = exploding(3, 5);
        const good = randomProblem({ T: 5, B: 2, d: 3, h: 4, q: 3, seed: 45 }).batch;
        const bad = randomProblem({ T: 100, B: 2, d: 3, h: 4, q: 3, seed: 46 }).batch;
        const options: TrainerOptions = { optimizer, loss: 'cross-entropy' };
        const trainer = engine.trainer(model, options);
        const fresh = engine.trainer(model, options);
        try {
          const before = packParams(await trainer.read());
          const s = await trainer.step(bad, { readGradNorm: true });
          expect(s.skipped).toBe(true);
          expect(s.step, 'no update applied').toBe(0);
          expect(s.gradNorm! <= 3.4028234663852886e38, `gradNorm ${s.gradNorm} is beyond float32`).toBe(false);
          expect(bits(packParams(await trainer.read())), 'parameters unchanged, bit for bit').toEqual(bits(before));
          // the skipped step left the optimizer state alone: the next valid step equals a fresh trainer's first
          const a = await trainer.step(good);
          const b = await fresh.step(good);
          expect(a.skipped).toBe(false);
          expect(a.step).toBe(1);
          expect(a.loss).toBe(b.loss);
          expect(bits(packParams(await trainer.read()))).toEqual(bits(packParams(await fresh.read())));
          expect(bits(packParams(await trainer.read()))).not.toEqual(bits(before));
        } finally {
          trainer.dispose();
          fresh.dispose();
        }
      });
    }
  });

  describe(`${kind}: checkFinite`, () => {
    const cases: [string, string, (b: Batch, m: RnnModel) => void, LossKind?][] = [
      ['NaN in x', 'batch.x', (b) => ((b.x as Float32Array)[3] = NaN)],
      ['NaN in h0', 'batch.h0', (b) => (b.h0![1] = NaN)],
      ['-Infinity in dO', 'batch.dO', (b) => (b.dO![4] = -Infinity), 'none'],
      ['NaN in Wqh', 'model.Wqh', (_b, m) => (m.Wqh[0] = NaN)],
    ];
    for (const [name, argument, spoil, loss = 'cross-entropy'] of cases) {
      it(`${name}: refused with checkFinite, reported as nonFinite without`, async () => {
        const engine = engines[kind]!;
        const { model, batch } = randomProblem({ T: 3, B: 2, d: 3, h: 4, q: 3, h0: true, loss, seed: 46 });
        spoil(batch, model);
        const on: GradientOptions = { loss, checkFinite: true };
        const err = await engine.gradients(model, batch, on).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(BpttInputError);
        expect((err as BpttInputError).argument).toBe(argument);
        expect((err as Error).message).toMatch(/finite values \(checkFinite is on\); received (NaN|-?Infinity) at index \d+/);
        const r = await engine.gradients(model, batch, { loss });
        expect(r.nonFinite).toBe(true);
      });
    }

    it('trainer: refused at step with checkFinite (parameters unchanged), skipped without', async () => {
      const engine = engines[kind]!;
      const { model, batch } = randomProblem({ T: 3, B: 2, d: 3, h: 4, q: 3, seed: 47 });
      (batch.x as Float32Array)[5] = NaN;
      const strict = engine.trainer(model, { optimizer: { kind: 'sgd', learningRate: 0.1 }, loss: 'cross-entropy', checkFinite: true });
      const lax = engine.trainer(model, { optimizer: { kind: 'sgd', learningRate: 0.1 }, loss: 'cross-entropy' });
      try {
        const before = bits(packParams(await strict.read()));
        await expect(strict.step(batch)).rejects.toThrow(/^batch\.x: expected finite values \(checkFinite is on\); received NaN at index 5$/);
        expect(bits(packParams(await strict.read()))).toEqual(before);
        const s = await lax.step(batch);
        expect(s.skipped).toBe(true);
        expect(s.step).toBe(0);
        expect(bits(packParams(await lax.read()))).toEqual(before);
      } finally {
        strict.dispose();
        lax.dispose();
      }
    });
  });
}

describe('determinism: bit-identical results run after run on the same adapter', () => {
  const cases: { name: string; spec: Parameters<typeof randomProblem>[0]; options: GradientOptions }[] = [
    // R = T*B = 512 rows: split-K reductions over two blocks
    { name: 'tanh, biases, 512 rows, every output', spec: { T: 16, B: 32, d: 8, h: 16, q: 8, h0: true, dhT: true, seed: 71 }, options: { loss: 'cross-entropy', inputGradient: true, gradNormPerStep: true, clipNorm: 0.5 } },
    { name: 'relu, token ids, randomized truncation with a seed', spec: { T: 12, B: 5, d: 9, h: 11, q: 6, activation: 'relu', tokens: true, seed: 72 }, options: { loss: 'cross-entropy', truncation: { kind: 'randomized', keepProbability: 0.6, seed: 9 } } },
    { name: 'identity, mse, window(3)', spec: { T: 9, B: 4, d: 5, h: 7, q: 3, activation: 'identity', loss: 'mse', seed: 73 }, options: { loss: 'mse', truncation: { kind: 'window', steps: 3 }, gradNormPerStep: true } },
  ];
  const KEYS = ['dWhx', 'dWhh', 'dWqh', 'dbh', 'dbq', 'dh0', 'hT', 'dx', 'gradNormPerStep', 'xi'] as const;
  const fingerprint = (r: GradientResult) => ({
    scalars: bits([r.loss, r.gradNorm]),
    flags: [r.clipped, r.nonFinite],
    arrays: Object.fromEntries(KEYS.filter((k) => r[k]).map((k) => [k, bits(r[k]!)])),
  });
  const first = new Map<string, ReturnType<typeof fingerprint>>();

  it('one engine: 4 runs of each case, other shapes in between, give the same bits', async () => {
    const engine = engines.webgpu!;
    for (let run = 0; run < 4; run++) {
      for (const c of cases) {
        const { model, batch } = randomProblem(c.spec);
        const f = fingerprint(await engine.gradients(model, batch, c.options));
        if (run === 0) first.set(c.name, f);
        else expect(f, `${c.name}, run ${run + 1}`).toEqual(first.get(c.name));
        // disturb the pool: another shape reuses (dirty) buffers before the next run
        const other = randomProblem({ T: 1 + run, B: 3, d: 4, h: 5, q: 2, seed: 100 + run });
        await engine.gradients(other.model, other.batch, { loss: 'cross-entropy' });
      }
    }
  });

  it('a second engine on its own device of the same adapter gives the same bits, and trainers agree bit for bit', async () => {
    const second = await gpuEngine();
    try {
      expect(second.device).not.toBe(engines.webgpu!.device);
      expect(second.adapter).toEqual(engines.webgpu!.adapter);
      for (const c of cases) {
        const { model, batch } = randomProblem(c.spec);
        expect(fingerprint(await second.gradients(model, batch, c.options)), c.name).toEqual(first.get(c.name));
      }
      // 6 Adam steps with carried state on each engine, from the same model and batches
      const params: number[][] = [];
      const losses: number[][] = [];
      for (const engine of [engines.webgpu!, second]) {
        const { model } = randomProblem({ T: 6, B: 4, d: 5, h: 8, q: 5, seed: 80 });
        const trainer = engine.trainer(model, { optimizer: { kind: 'adam', learningRate: 0.01 }, loss: 'cross-entropy', carryState: true, clipNorm: 1, truncation: { kind: 'chunked', steps: 3 } });
        const l: number[] = [];
        for (let i = 0; i < 6; i++) l.push((await trainer.step(randomProblem({ T: 6, B: 4, d: 5, h: 8, q: 5, seed: 81 + i }).batch)).loss);
        params.push(bits(packParams(await trainer.read())));
        losses.push(bits(l));
        trainer.dispose();
      }
      expect(losses[1]).toEqual(losses[0]);
      expect(params[1]).toEqual(params[0]);
    } finally {
      second.dispose();
    }
  });
});

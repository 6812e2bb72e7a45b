// GPU twin of the CPU trainer tests: the WebGPU trainer (parameters, optimizer
// state and the carried hidden state on the device) reaches the same
// parameters as the CPU trainer after a few steps, with SGD and Adam, clipping,
// carryState, token ids, every truncation, skipped non-finite steps; each step
// makes exactly one submit (it reads back only the few bytes of the loss and
// flags, never the parameters).
//
// Tolerances: the loss and gradNorm of every step rtol 2e-3; the parameters
// after the last step GPU_TOL (rtol 2e-3, atol 1e-5 * max|param| of the block).
// Each step's float32 gradient error (about 1e-6 of its magnitude, see
// gpu-gradients) moves the parameters by lr times that, far inside these.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, makeRng, uniformArray, type Engine } from '../../src/index.js';
import type { Batch, RnnModel, StepResult, Trainer, TrainerOptions } from '../../src/types.js';
import { expectClose, randomProblem } from '../helpers.js';
import { expectCloseToCpu, printWorst } from '../gpu-setup.js';

/**
 * Registers this file's tests for an engine under test (`gpu` below: WebGPU in
 * gpu-trainer.test.ts, WebAssembly in wasm-trainer.test.ts), each result against the CPU reference.
 */
export function defineTrainerTwins(label: string, makeEngine: () => Promise<Engine>, extraDispatches: (T: number) => number = () => 0): void {
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

  const STEP_RTOL = 2e-3;
  const VOCAB = 11;

  /** A token stream cut into B lanes, batch k holding steps k*T..(k+1)*T of each lane (so hT carries over). */
  function tokenBatches(n: number, T: number, B: number, seed: number): Batch[] {
    const rng = makeRng(seed);
    const lane = n * T + 1;
    const ids = Int32Array.from({ length: B * lane }, () => Math.floor(rng() * VOCAB));
    return Array.from({ length: n }, (_, k) => {
      const x = new Int32Array(T * B);
      const y = new Int32Array(T * B);
      for (let t = 0; t < T; t++) {
        for (let b = 0; b < B; b++) {
          x[t * B + b] = ids[b * lane + k * T + t];
          y[t * B + b] = ids[b * lane + k * T + t + 1];
        }
      }
      return { steps: T, batchSize: B, x, y };
    });
  }

  function charModel(h: number, seed: number): RnnModel {
    const rng = makeRng(seed);
    return {
      inputSize: VOCAB,
      hiddenSize: h,
      outputSize: VOCAB,
      activation: 'tanh',
      Whx: uniformArray(rng, h * VOCAB, 0.5),
      Whh: uniformArray(rng, h * h, 1 / Math.sqrt(h)),
      Wqh: uniformArray(rng, VOCAB * h, 1 / Math.sqrt(h)),
      bh: uniformArray(rng, h, 0.1),
      bq: uniformArray(rng, VOCAB, 0.1),
    };
  }

  const BLOCKS = ['Whx', 'Whh', 'Wqh', 'bh', 'bq'] as const;

  function expectSameModel(where: string, got: RnnModel, want: RnnModel): void {
    for (const k of BLOCKS) {
      expect(got[k] === undefined, `${where}: ${k}`).toBe(want[k] === undefined);
      if (want[k]) expectCloseToCpu(where, `params ${k}`, got[k]!, want[k]!);
    }
    expect(got.activation).toBe(want.activation);
  }

  type Action = { batch: Batch } | { reset: true };

  /**
   * The same steps on a GPU trainer and a CPU trainer: every step's result
   * compared, one submit per step, the parameters compared at the end.
   * Returns the step results of the GPU trainer.
   */
  async function trainBoth(where: string, model: RnnModel, options: TrainerOptions, actions: Action[]): Promise<StepResult[]> {
    const g = gpu.trainer(model, options);
    const c = cpu.trainer(model, options);
    expect(g.backend).toBe(gpu.backend);
    const results: StepResult[] = [];
    try {
      for (const [i, a] of actions.entries()) {
        if ('reset' in a) {
          g.resetState();
          c.resetState();
          continue;
        }
        const rg = await g.step(a.batch, { readGradNorm: true });
        if (gpu.backend === 'webgpu') expect(gpu.stats().submits, `${where}, step ${i}: submits`).toBe(1);
        const rc = await c.step(a.batch, { readGradNorm: true });
        expect(rg.skipped, `${where}, step ${i}: skipped`).toBe(rc.skipped);
        expect(rg.step, `${where}, step ${i}: step count`).toBe(rc.step);
        if (Number.isNaN(rc.loss)) expect(rg.loss).toBeNaN();
        else expectCloseToCpu(`${where}, step ${i}`, 'step loss', [rg.loss], [rc.loss], { rtol: STEP_RTOL, atolRel: 0 });
        if (rc.skipped) expect(Number.isFinite(rg.gradNorm!)).toBe(false);
        else expectCloseToCpu(`${where}, step ${i}`, 'step gradNorm', [rg.gradNorm!], [rc.gradNorm!], { rtol: STEP_RTOL, atolRel: 0 });
        results.push(rg);
      }
      expectSameModel(where, await g.read(), await c.read());
    } finally {
      g.dispose();
      c.dispose();
    }
    return results;
  }

  describe('the GPU trainer reaches the CPU trainer\'s parameters', () => {
    const data = tokenBatches(6, 6, 4, 201); // 6 batches of T=6 steps x B=4 lanes
    const run = (n: number): Action[] => data.slice(0, n).map((batch) => ({ batch }));

    it.each([
      { name: 'sgd', optimizer: { kind: 'sgd', learningRate: 0.5 } },
      { name: 'adam', optimizer: { kind: 'adam', learningRate: 0.01 } },
      { name: 'adam, own betas and epsilon', optimizer: { kind: 'adam', learningRate: 0.02, beta1: 0.8, beta2: 0.95, epsilon: 1e-6 } },
    ] as { name: string; optimizer: TrainerOptions['optimizer'] }[])('$name: token ids, chunked(4), clipNorm 0.3, carryState, 6 steps', async ({ name, optimizer }) => {
      const results = await trainBoth(name, charModel(16, 7), { optimizer, loss: 'cross-entropy', truncation: { kind: 'chunked', steps: 4 }, clipNorm: 0.3, carryState: true }, run(6));
      expect(results.some((r) => r.gradNorm! > 0.3), 'clipping happened').toBe(true);
      expect(results.at(-1)!.step).toBe(6);
    });

    it('carryState across resetState(), and a batch with its own h0 and a new batch size', async () => {
      const other = tokenBatches(2, 6, 3, 202);
      const rng = makeRng(203);
      const h0 = uniformArray(rng, 3 * 16, 0.5);
      const actions: Action[] = [
        { batch: data[0] },
        { batch: data[1] },
        { reset: true },
        { batch: data[2] },
        { batch: { ...other[0], h0 } }, // B = 3: the carried state takes the new size
        { batch: other[1] }, // carries the hT of the step before
      ];
      await trainBoth('carry', charModel(16, 8), { optimizer: { kind: 'adam', learningRate: 0.01 }, loss: 'cross-entropy', clipNorm: 1, carryState: true }, actions);
    });

    it('values, mse, relu, no biases, window(2), h0 given, adam', async () => {
      const actions: Action[] = [0, 1, 2, 3].map((k) => ({ batch: randomProblem({ T: 5, B: 3, d: 4, h: 7, q: 5, activation: 'relu', loss: 'mse', bias: false, h0: true, seed: 210 + k }).batch }));
      const { model } = randomProblem({ T: 5, B: 3, d: 4, h: 7, q: 5, activation: 'relu', loss: 'mse', bias: false, seed: 210 });
      await trainBoth('relu mse window', model, { optimizer: { kind: 'adam', learningRate: 0.01 }, loss: 'mse', truncation: { kind: 'window', steps: 2 } }, actions);
    });

    it("loss 'none' with dO, identity, randomized(0.5, seed 3), sgd, tile-straddling sizes B=35 h=33", async () => {
      const size = { T: 4, B: 35, d: 5, h: 33, q: 6 };
      const actions: Action[] = [0, 1, 2].map((k) => ({ batch: randomProblem({ ...size, activation: 'identity', loss: 'none', dhT: true, seed: 220 + k }).batch }));
      const { model } = randomProblem({ ...size, activation: 'identity', loss: 'none', seed: 220 });
      await trainBoth('none identity randomized', model, { optimizer: { kind: 'sgd', learningRate: 0.2 }, loss: 'none', truncation: { kind: 'randomized', keepProbability: 0.5, seed: 3 }, clipNorm: 0.5 }, actions);
    });
  });

  describe('batches with lengths: the same steps as the CPU trainer (on WebGPU, the layer walk on the trainer\'s own buffers)', () => {
    // sequence 0 full, sequence 1 one step, the others spread over 1..T (a different draw per batch)
    const withLengths = (batch: Batch, k: number): Batch => ({
      ...batch,
      lengths: Int32Array.from({ length: batch.batchSize }, (_, i) => (i === 0 ? batch.steps : i === 1 ? 1 : 1 + ((i * 5 + k) % batch.steps))),
    });
    const data = tokenBatches(5, 6, 5, 231);
    it.each([
      { name: 'sgd', optimizer: { kind: 'sgd', learningRate: 0.5 } },
      { name: 'adam', optimizer: { kind: 'adam', learningRate: 0.01 } },
    ] as { name: string; optimizer: TrainerOptions['optimizer'] }[])('$name: token ids, chunked(4), clipNorm 0.3, carryState (each sequence from its own end), 5 steps', async ({ name, optimizer }) => {
      const actions: Action[] = data.map((batch, k) => ({ batch: withLengths(batch, k) }));
      const results = await trainBoth(`lengths ${name}`, charModel(16, 9), { optimizer, loss: 'cross-entropy', truncation: { kind: 'chunked', steps: 4 }, clipNorm: 0.3, carryState: true }, actions);
      expect(results.some((r) => r.gradNorm! > 0.3), 'clipping happened').toBe(true);
      expect(results.at(-1)!.step).toBe(5);
    });

    it('steps with and without lengths share the parameters, Adam\'s moments and step count, and the carried state', async () => {
      const actions: Action[] = [
        { batch: data[0] },
        { batch: withLengths(data[1], 1) },
        { batch: data[2] },
        { batch: withLengths(data[3], 3) },
        { reset: true },
        { batch: withLengths(data[4], 4) },
        { batch: data[0] },
      ];
      await trainBoth('mixed lengths', charModel(16, 10), { optimizer: { kind: 'adam', learningRate: 0.02 }, loss: 'cross-entropy', clipNorm: 1, carryState: true }, actions);
    });

    it('odd sizes B=35 h=33: values, mse, relu, window(2), h0 given, sgd, clipping', async () => {
      const size = { T: 5, B: 35, d: 4, h: 33, q: 5, activation: 'relu' as const, loss: 'mse' as const };
      const actions: Action[] = [0, 1, 2].map((k) => ({ batch: withLengths(randomProblem({ ...size, h0: true, seed: 240 + k }).batch, k) }));
      const { model } = randomProblem({ ...size, seed: 240 });
      await trainBoth('lengths odd window', model, { optimizer: { kind: 'sgd', learningRate: 0.1 }, loss: 'mse', truncation: { kind: 'window', steps: 2 }, clipNorm: 0.5 }, actions);
    });

    it('a NaN or an infinity in x past a sequence\'s end is ignored, as by the reference (fuzz: FUZZ_SEED=20261202 FUZZ_ONLY=100111 on wasm)', async () => {
      const size = { T: 5, B: 7, d: 4, h: 9, q: 5, loss: 'mse' as const };
      const actions: Action[] = [0, 1].map((k) => {
        const batch = withLengths(randomProblem({ ...size, seed: 245 + k }).batch, k);
        const x = batch.x as Float32Array;
        x.fill(k === 0 ? NaN : Infinity, (4 * 7 + 1) * 4, (4 * 7 + 2) * 4); // t = 4, sequence 1 (length 1)
        return { batch };
      });
      const { model } = randomProblem({ ...size, seed: 245 });
      const results = await trainBoth('lengths non-finite padding', model, { optimizer: { kind: 'adam', learningRate: 0.01 }, loss: 'mse', carryState: true }, actions);
      expect(results.every((r) => !r.skipped && Number.isFinite(r.gradNorm!))).toBe(true);
    });

    it('round sizes B=32 h=32 T=8: no biases, identity, randomized(0.7, seed 4), adam, carryState', async () => {
      const size = { T: 8, B: 32, d: 6, h: 32, q: 4, activation: 'identity' as const, bias: false };
      const actions: Action[] = [0, 1, 2].map((k) => ({ batch: withLengths(randomProblem({ ...size, seed: 250 + k }).batch, k) }));
      const { model } = randomProblem({ ...size, seed: 250 });
      await trainBoth('lengths round', model, { optimizer: { kind: 'adam', learningRate: 0.01 }, loss: 'cross-entropy', truncation: { kind: 'randomized', keepProbability: 0.7, seed: 4 }, carryState: true }, actions);
    });
  });

  describe('one GPU trainer step is the optimizer applied to the GPU engine.gradients', () => {
    it('sgd with clipping and randomized truncation: step k is p - lr * (clipped g of seed + k)', async () => {
      const { model, batch } = randomProblem({ T: 8, B: 3, d: 4, h: 6, q: 5, seed: 103 });
      const lr = 0.5;
      const truncation = { kind: 'randomized' as const, keepProbability: 0.5, seed: 3 };
      const t = gpu.trainer(model, { loss: 'cross-entropy', truncation, clipNorm: 0.05, optimizer: { kind: 'sgd', learningRate: lr } });
      let current = model;
      const draws = new Set<string>();
      for (let k = 0; k < 4; k++) {
        const g = await gpu.gradients(current, batch, { loss: 'cross-entropy', truncation: { ...truncation, seed: 3 + k }, clipNorm: 0.05 });
        expect(g.clipped).toBe(true);
        draws.add(Array.from(g.xi!).join());
        const r = await t.step(batch, { readGradNorm: true });
        expect(r.loss).toBe(g.loss); // the same recording on the same device: bit for bit
        expect(r.gradNorm).toBe(g.gradNorm);
        const after = await t.read();
        for (const key of BLOCKS) {
          const want = current[key]!.map((v, j) => v - lr * g[`d${key}` as 'dWhx'][j]);
          // float32: the trainer applies lr * scale * g in one kernel, engine.gradients returned scale * g rounded
          expectClose(`step ${k}, ${key}`, after[key]!, want, { rtol: 1e-6, atol: 1e-7 });
        }
        current = after;
      }
      expect(draws.size, 'distinct xi over 4 steps').toBeGreaterThan(1);
      t.dispose();
    });
  });

  describe('non-finite steps', () => {
    it.each([
      { kind: 'sgd', learningRate: 0.5 },
      { kind: 'adam', learningRate: 0.01 },
    ] as TrainerOptions['optimizer'][])('%o: a NaN batch is skipped, leaves the parameters as they were and does not count', async (optimizer) => {
      const { model, batch } = randomProblem({ T: 5, B: 2, d: 4, h: 6, q: 5, seed: 121 });
      const poisoned = { ...batch, x: (batch.x as Float32Array).slice() };
      poisoned.x[3] = NaN;
      const results = await trainBoth(`skip ${optimizer.kind}`, model, { optimizer, loss: 'cross-entropy' }, [{ batch }, { batch: poisoned }, { batch }]);
      expect(results.map((r) => [r.skipped, r.step])).toEqual([[false, 1], [true, 1], [false, 2]]);

      // the skipped step left the parameters bit for bit as they were
      const t = gpu.trainer(model, { optimizer, loss: 'cross-entropy' });
      const r = await t.step(poisoned);
      expect(r).toEqual({ loss: r.loss, skipped: true, step: 0 });
      expect(await t.read()).toEqual(model);
      t.dispose();
    });
  });

  describe('what a step reads back', () => {
    it('one submit per step; gradNorm only when asked; read() returns the current model', async () => {
      const { model, batch } = randomProblem({ T: 8, B: 4, d: 5, h: 9, q: 6, seed: 230 });
      const t: Trainer = gpu.trainer(model, { optimizer: { kind: 'sgd', learningRate: 0.1 }, loss: 'cross-entropy', truncation: { kind: 'chunked', steps: 3 } });
      const dispatches: number[] = [];
      for (let i = 0; i < 3; i++) {
        const r = await t.step(batch);
        expect(r.gradNorm).toBeUndefined();
        if (gpu.backend === 'webgpu') expect(gpu.stats().submits).toBe(1);
        dispatches.push(gpu.stats().dispatches);
      }
      if (gpu.backend !== 'webgpu') dispatches.fill(0);
      // the same recording every step; at most the gradient call's 2T + 16 and the update
      expect(new Set(dispatches).size).toBe(1);
      expect(dispatches[0]).toBeLessThanOrEqual(2 * 8 + 16 + 1 + extraDispatches(8)); // (+ what kernel variants add: gpu-rnn-variants.test.ts)
      if (gpu.backend === 'webgpu') console.log(`trainer step, T=8 chunked(3): ${dispatches[0]} dispatches, 1 submit`);
      const trained = await t.read();
      expect(trained.Whh).not.toEqual(model.Whh);
      expectClose('read() twice', (await t.read()).Whh, trained.Whh, { rtol: 0, atol: Number.MIN_VALUE });
      t.dispose();
    });
  });
}

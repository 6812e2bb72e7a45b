// Reliability, the hostile user (issue 9): one test per defect class found by
// using the library as a careless or hostile caller would, on the CPU, WebGPU
// and WebAssembly engines. The seeded fuzz test (fuzz-engines.test.ts) throws random
// calls of the same kinds; this file holds each class with a fixed case.
//  1. SharedArrayBuffer / resizable arrays into Dawn: a child process, no crash, right results
//  2. float options float32 cannot hold: refused naming them; extreme legal values match the reference
//  3. the trainer snapshots model and options at creation
//  4. a step that is refused, fails or is skipped leaves the carried state
//  5. caches bounded: reliability-soak.test.ts (bind groups over 2,000 calls)
//  6. dispose() with calls pending: BpttDeviceError; dispatch limits refused naming the argument
//  7. non-finite inputs: the same flags (and finite results) on every engine
//  8. option types: the same BpttInputError on every engine
//  9. no stderr from the Vulkan probe: a child process
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gpuEngine, expectSameAsCpu } from './gpu-setup.js';
import { BpttDeviceError, BpttInputError, createEngine, packParams, type Engine } from '../src/index.js';
import type { Batch, GradientOptions, RnnModel, TrainerOptions } from '../src/types.js';
import { makeRng, uniformArray } from '../src/rng.js';
import { paramLayout, rnnSequenceLayout } from '../src/params.js';
import { checkSequenceDispatchLimits } from '../src/gpu/dispatch-limits.js';
import { planSequence, sequenceDispatches } from '../src/gpu/sequence-encode.js';
import { rnnSequenceDims, validateSequenceModel } from '../src/validate-sequence.js';
import { packSequence, sequenceLayout } from '../src/sequence-params.js';
import { expectClose, randomProblem } from './helpers.js';
import { runChild } from './child-process.js';
import { randomSequenceProblem } from './sequence-reference.js';
import type { SequenceGradients } from '../src/types.js';

type Kind = 'cpu' | 'webgpu' | 'wasm';
const KINDS: Kind[] = ['cpu', 'webgpu', 'wasm'];
/** The float32 engines, each compared with the CPU reference. */
const OTHERS: Kind[] = ['webgpu', 'wasm'];
const PAIR = (kind: Kind): Kind[] => ['cpu', kind];
const engines = {} as Record<Kind, Engine>;

beforeAll(async () => {
  engines.cpu = await createEngine({ backend: 'cpu' });
  engines.webgpu = await gpuEngine();
  engines.wasm = await createEngine({ backend: 'wasm' });
});

afterAll(() => {
  engines.cpu?.dispose();
  engines.webgpu?.dispose();
  engines.wasm?.dispose();
});

const bits = (a: ArrayLike<number>) => Array.from(new Uint32Array(Float32Array.from(a).buffer));

async function inputError(p: Promise<unknown> | (() => unknown)): Promise<BpttInputError> {
  let err: unknown = null;
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    err = e;
  }
  expect(err, 'refused').toBeInstanceOf(BpttInputError);
  return err as BpttInputError;
}

describe('1. SharedArrayBuffer and resizable arrays into the device (child process)', () => {
  it('every array kind through every upload: no crash, results equal the CPU reference', async () => {
    const run = await runChild<{ calls: number; worst: number; failures: string[]; kinds: string[] }>('shared-arrays.ts', {});
    expect(run.signal, `the child died: ${run.stderr.slice(-2000)}`).toBeNull();
    expect(run.code, run.stderr.slice(-2000)).toBe(0);
    console.log(`[hostile] array kinds ${run.result!.kinds.join(', ')}: ${run.result!.calls} calls, worst error ${run.result!.worst.toFixed(3)} of tolerance`);
    expect(run.result!.failures).toEqual([]);
    expect(run.result!.calls).toBe(63);
  });
});

describe('2. float options must survive float32', () => {
  const base = randomProblem({ T: 3, B: 2, d: 3, h: 4, q: 3, seed: 91 });
  const refusals: [string, TrainerOptions | GradientOptions, string, 'trainer' | 'gradients'][] = [
    ['beta1 rounds to 1', { optimizer: { kind: 'adam', learningRate: 0.01, beta1: 0.99999999 }, loss: 'cross-entropy' }, 'options.optimizer.beta1', 'trainer'],
    ['beta2 rounds to 1', { optimizer: { kind: 'adam', learningRate: 0.01, beta2: 1 - 1e-9 }, loss: 'cross-entropy' }, 'options.optimizer.beta2', 'trainer'],
    ['epsilon flushes to zero', { optimizer: { kind: 'adam', learningRate: 0.01, epsilon: 1e-40 }, loss: 'cross-entropy' }, 'options.optimizer.epsilon', 'trainer'],
    ['learningRate rounds to 0', { optimizer: { kind: 'sgd', learningRate: 1e-46 }, loss: 'cross-entropy' }, 'options.optimizer.learningRate', 'trainer'],
    ['learningRate beyond float32', { optimizer: { kind: 'sgd', learningRate: 1e39 }, loss: 'cross-entropy' }, 'options.optimizer.learningRate', 'trainer'],
    ['trainer clipNorm below the normal range', { optimizer: { kind: 'sgd', learningRate: 0.1 }, loss: 'cross-entropy', clipNorm: 1e-39 }, 'options.clipNorm', 'trainer'],
    ['clipNorm below the normal range', { loss: 'cross-entropy', clipNorm: 1e-39 }, 'options.clipNorm', 'gradients'],
    ['keepProbability whose 1/p overflows', { loss: 'cross-entropy', truncation: { kind: 'randomized', keepProbability: 1e-40, seed: 1 } }, 'options.truncation.keepProbability', 'gradients'],
  ];
  for (const [name, options, argument, call] of refusals) {
    it(`${name}: refused naming ${argument}, the same message on every engine`, async () => {
      const messages: string[] = [];
      for (const kind of KINDS) {
        const e = engines[kind];
        const err = await inputError(call === 'trainer' ? () => e.trainer(base.model, options as TrainerOptions) : e.gradients(base.model, base.batch, options as GradientOptions));
        expect(err.argument).toBe(argument);
        messages.push(err.message);
      }
      for (const m of messages) expect(m).toBe(messages[0]);
    });
  }

  for (const kind of OTHERS) it(`${kind}: Adam at the edge of float32 (betas 0.9999999 and 0.99999994, epsilon 1.2e-38, zero gradients): no NaN, equal to the reference`, async () => {
    // token ids 0..1 of 5: the columns of ids 2..4 of Whx get exactly zero gradient (v = 0 there)
    const { model, batch } = randomProblem({ T: 4, B: 2, d: 5, h: 4, q: 3, tokens: true, seed: 92 });
    (batch.x as Int32Array).forEach((_, i, a) => (a[i] = i % 2));
    const options: TrainerOptions = { optimizer: { kind: 'adam', learningRate: 0.01, beta1: 0.9999999, beta2: 0.99999994, epsilon: 1.2e-38 }, loss: 'cross-entropy' };
    const [c, g] = PAIR(kind).map((k) => engines[k].trainer(model, options));
    for (let s = 0; s < 3; s++) {
      const [a, b] = await Promise.all([c.step(batch), g.step(batch)]);
      expect(b.skipped).toBe(false);
      expectClose(`step ${s} loss`, [b.loss], [a.loss], { rtol: 1e-4, atol: 1e-6 });
    }
    const [pc, pg] = [packParams(await c.read()), packParams(await g.read())];
    expect(pg.every(Number.isFinite), 'no parameter turned NaN').toBe(true);
    expectClose('parameters after 3 Adam steps', pg, pc, { rtol: 1e-3, atol: 1e-5 });
    c.dispose();
    g.dispose();
  });

  for (const kind of OTHERS) it(`${kind}: Adam with gradients of 1e-21 and epsilon 1e-30 (g^2 below float32): the reference update, not lr*g/epsilon`, async () => {
    // found by the fuzz test's first run: g^2 was flushed to zero, the update 1e10 times too large
    const { model, batch } = randomProblem({ T: 3, B: 2, d: 3, h: 4, q: 3, loss: 'none', seed: 102 });
    batch.dO = batch.dO!.map((v) => v * 1e-20);
    const options: TrainerOptions = { optimizer: { kind: 'adam', learningRate: 0.01, epsilon: 1e-30 }, loss: 'none' };
    const [c, g] = PAIR(kind).map((k) => engines[k].trainer(model, options));
    for (let s = 0; s < 2; s++) await Promise.all([c.step(batch), g.step(batch)]);
    const [pc, pg] = [packParams(await c.read()), packParams(await g.read())];
    const moved = pc.map((v, i) => Math.abs(v - packParams(model)[i]));
    expect(Math.max(...moved), 'the reference moves parameters by about lr a step').toBeGreaterThan(0.005);
    for (let i = 0; i < pc.length; i++) expect(Math.abs(pg[i] - pc[i]), `parameter ${i}`).toBeLessThan(1e-4 + 1e-3 * Math.abs(pc[i]));
    c.dispose();
    g.dispose();
  });

  for (const kind of OTHERS) it(`${kind}: a gradient element of 1e38 (beyond 8.5e37): norm, clipping and an SGD step equal the reference`, async () => {
    const T = 2, B = 1, d = 2, h = 3, q = 2;
    const rng = makeRng(93);
    const model: RnnModel = {
      inputSize: d, hiddenSize: h, outputSize: q, activation: 'tanh',
      Whx: uniformArray(rng, h * d, 0.5), Whh: uniformArray(rng, h * h, 0.3), Wqh: uniformArray(rng, q * h, 1e-3),
      bh: uniformArray(rng, h, 0.1), bq: uniformArray(rng, q, 0.1),
    };
    const dO = new Float32Array(T * B * q);
    dO[0] = 1e38; // dbq[0] = 1e38, dWqh[0, :] = 1e38 h_1
    const batch: Batch = { steps: T, batchSize: B, x: uniformArray(rng, T * B * d, 1), dO };
    const options: GradientOptions = { loss: 'none', clipNorm: 1 };
    const [c, g] = await Promise.all(PAIR(kind).map((k) => engines[k].gradients(model, batch, options)));
    expect(c.nonFinite).toBe(false);
    expect(c.gradNorm).toBeGreaterThan(1e38);
    expect(c.clipped).toBe(true);
    expectSameAsCpu('gradient of 1e38', g, c);
    const trainerOptions: TrainerOptions = { optimizer: { kind: 'sgd', learningRate: 0.5 }, loss: 'none', clipNorm: 1 };
    const trainers = PAIR(kind).map((k) => engines[k].trainer(model, trainerOptions));
    const steps = await Promise.all(trainers.map((t) => t.step(batch, { readGradNorm: true })));
    expectClose('trainer gradNorm', [steps[1].gradNorm!], [steps[0].gradNorm!], { rtol: 1e-5, atol: 0 });
    const [pc, pg] = await Promise.all(trainers.map(async (t) => packParams(await t.read())));
    expect(Math.max(...pg.map(Math.abs)), 'a clipped update, not a 1e38-sized one').toBeLessThan(10);
    expectClose('parameters after a clipped SGD step', pg, pc, { rtol: 1e-4, atol: 1e-6 });
    for (const t of trainers) t.dispose();
  });

  for (const kind of OTHERS) it(`${kind}: per-step norms ||dH_t|| up to 1e23 (beyond 1.8e19): equal to the reference, full and window`, async () => {
    const T = 24, B = 3, d = 3, h = 5, q = 4;
    const rng = makeRng(3);
    const Whh = new Float32Array(h * h);
    for (let i = 0; i < h; i++) Whh[i * h + i] = 10;
    const model: RnnModel = { inputSize: d, hiddenSize: h, outputSize: q, activation: 'identity', Whx: uniformArray(rng, h * d, 0.5), Whh, Wqh: uniformArray(rng, q * h, 0.5) };
    const batch: Batch = { steps: T, batchSize: B, x: uniformArray(rng, T * B * d, 1), dO: uniformArray(rng, T * B * q, 1) };
    for (const truncation of [undefined, { kind: 'window' as const, steps: 30 }, { kind: 'window' as const, steps: 7 }]) {
      const options: GradientOptions = { loss: 'none', gradNormPerStep: true, truncation };
      const [c, g] = await Promise.all(PAIR(kind).map((k) => engines[k].gradients(model, batch, options)));
      if (truncation?.steps !== 7) expect(c.gradNormPerStep![0]).toBeGreaterThan(1e19);
      expectSameAsCpu(`per-step norms ${truncation?.kind ?? 'full'}`, g, c);
    }
  });

  for (const kind of OTHERS) it(`${kind}: SequenceModel per-step norms beyond 1.8e19 (rnn, gru, lstm; 2 layers; both directions, and window): the cell kernels scale as the rnn ones`, async () => {
    for (const cell of ['rnn', 'gru', 'lstm'] as const) {
      for (const [bi, truncation] of [[true, undefined], [false, { kind: 'window' as const, steps: 3 }]] as const) {
        const { model, batch } = randomSequenceProblem({ cell, L: 2, bi, T: 6, B: 3, d: 3, h: 5, q: 0, seed: 5 });
        batch.dY = batch.dY!.map((v) => v * 1e21); // |dh| about 1e20: its square is beyond float32
        const options: GradientOptions = { loss: 'none', gradNormPerStep: true, truncation };
        const [c, g] = (await Promise.all(PAIR(kind).map((k) => engines[k].gradients(model, batch, options)))) as unknown as SequenceGradients[];
        const where = `${cell} ${bi ? 'bi' : 'uni'} ${truncation?.kind ?? 'full'}`;
        expect(c.nonFinite, where).toBe(false);
        expect(g.nonFinite, where).toBe(false);
        expect(Math.max(...c.gradNormPerStep!), where).toBeGreaterThan(1e19);
        for (const n of g.gradNormPerStep!) expect(Number.isFinite(n), `${where}: a finite per-step norm`).toBe(true);
        expectClose(`${where}: gradNormPerStep`, g.gradNormPerStep!, c.gradNormPerStep!, { rtol: 1e-4, atol: 0 });
        expectClose(`${where}: gradNorm`, [g.gradNorm], [c.gradNorm], { rtol: 1e-4, atol: 0 });
      }
    }
  });
});

describe('3. the trainer takes a snapshot of the model and options at creation', () => {
  for (const kind of KINDS) {
    it(`${kind}: changing (or spoiling) the model and options later changes nothing`, async () => {
      const engine = engines[kind];
      const { model, batch } = randomProblem({ T: 4, B: 2, d: 3, h: 5, q: 3, seed: 94 });
      const make = (): TrainerOptions => ({ optimizer: { kind: 'adam', learningRate: 0.05 }, loss: 'cross-entropy', truncation: { kind: 'chunked', steps: 2 }, clipNorm: 5, carryState: true });
      const pristine = engine.trainer(structuredClone(model), make());
      const options = make();
      const trainer = engine.trainer(model, options);
      model.activation = 'relu';
      model.Whh.fill(3);
      (options.optimizer as { learningRate: number }).learningRate = 10;
      (options.truncation as { steps: number }).steps = 1;
      options.carryState = false;
      options.clipNorm = 1e-3;
      for (let s = 0; s < 3; s++) {
        if (s === 2) (model as { activation: string }).activation = 'bogus';
        const [a, b] = [await pristine.step(batch), await trainer.step(batch)];
        expect(b.loss, `step ${s}`).toBe(a.loss);
      }
      const read = await trainer.read();
      expect(read.activation).toBe('tanh');
      expect(bits(packParams(read))).toEqual(bits(packParams(await pristine.read())));
      pristine.dispose();
      trainer.dispose();
    });
  }
});

describe('3. ... for a SequenceModel trainer too', () => {
  for (const kind of ['cpu', 'wasm'] as const) {
    it(`${kind}: changing the model and options after creation changes nothing`, async () => {
      const engine = engines[kind];
      const { model, batch } = randomSequenceProblem({ cell: 'gru', L: 2, bi: false, T: 4, B: 2, d: 3, h: 5, q: 3, tokens: true, seed: 94 });
      const make = (): TrainerOptions => ({ optimizer: { kind: 'adam', learningRate: 0.05 }, loss: 'cross-entropy', truncation: { kind: 'chunked', steps: 2 }, clipNorm: 5, carryState: true });
      const pristine = engine.trainer(structuredClone(model), make());
      const options = make();
      const trainer = engine.trainer(model, options);
      model.layers[0].Wh.fill(3);
      model.layers.pop();
      (options.optimizer as { learningRate: number }).learningRate = 10;
      (options.truncation as { steps: number }).steps = 1;
      options.carryState = false;
      for (let s = 0; s < 3; s++) {
        const [a, b] = [await pristine.step({ ...batch, h0: undefined }), await trainer.step({ ...batch, h0: undefined })];
        expect(b.loss, `step ${s}`).toBe(a.loss);
      }
      const read = await trainer.read();
      expect(read.layers.length).toBe(2);
      expect(bits(packSequence(read))).toEqual(bits(packSequence(await pristine.read())));
      pristine.dispose();
      trainer.dispose();
    });
  }
});

describe('4. a step that is refused, fails or is skipped leaves the carried state', () => {
  const B2 = randomProblem({ T: 3, B: 2, d: 3, h: 4, q: 3, h0: true, seed: 95 }).batch;
  const B3bad = randomProblem({ T: 3, B: 3, d: 3, h: 4, q: 3, h0: true, seed: 96 }).batch;
  (B3bad.x as Float32Array)[0] = Infinity; // non-finite gradients: the step is skipped
  const next = { ...randomProblem({ T: 3, B: 2, d: 3, h: 4, q: 3, seed: 97 }).batch }; // no h0: carries
  const model = randomProblem({ T: 3, B: 2, d: 3, h: 4, q: 3, seed: 98 }).model;
  const options: TrainerOptions = { optimizer: { kind: 'sgd', learningRate: 0.1 }, loss: 'cross-entropy', carryState: true };

  for (const kind of KINDS) {
    it(`${kind}: a skipped step with its own h0 of another batch size keeps the carried state and its size`, async () => {
      const engine = engines[kind];
      const [t, ref] = [engine.trainer(model, options), engine.trainer(model, options)];
      await Promise.all([t.step(B2), ref.step(B2)]);
      const skipped = await t.step(B3bad);
      expect(skipped.skipped).toBe(true);
      const [a, b] = [await t.step(next), await ref.step(next)]; // B = 2 without h0: accepted, carries step 1's hT
      expect(a.loss).toBe(b.loss);
      expect(bits(packParams(await t.read()))).toEqual(bits(packParams(await ref.read())));
      t.dispose();
      ref.dispose();
    });
  }

  for (const kind of ['cpu', 'wasm'] as const) {
    it(`${kind}: a SequenceModel (lstm, 2 layers, both directions): a skipped step keeps the carried h and c of every layer-direction`, async () => {
      const spec = { cell: 'lstm' as const, L: 2, bi: true, T: 3, d: 3, h: 4, q: 3, tokens: false };
      const engine = engines[kind];
      const m = randomSequenceProblem({ ...spec, B: 2, seed: 98 }).model;
      const first = randomSequenceProblem({ ...spec, B: 2, seed: 95 }).batch;
      const bad = randomSequenceProblem({ ...spec, B: 3, states: true, seed: 96 }).batch;
      (bad.x as Float32Array)[0] = Infinity; // non-finite gradients: the step is skipped
      const after = { ...randomSequenceProblem({ ...spec, B: 2, seed: 97 }).batch, h0: undefined, c0: undefined };
      const [t, ref] = [engine.trainer(m, options), engine.trainer(m, options)];
      await Promise.all([t.step(first), ref.step(first)]);
      expect((await t.step({ ...bad, dhT: undefined, dcT: undefined })).skipped).toBe(true);
      const [a, b] = [await t.step(after), await ref.step(after)]; // B = 2 without h0, c0: accepted, carries step 1's hT, cT
      expect(a.loss).toBe(b.loss);
      expect(bits(packSequence(await t.read()))).toEqual(bits(packSequence(await ref.read())));
      t.dispose();
      ref.dispose();
    });
  }

  it('webgpu: a step that fails with a device error keeps the carried state and its size', async () => {
    const engine = engines.webgpu;
    const [t, ref] = [engine.trainer(model, options), engine.trainer(model, options)];
    await Promise.all([t.step(B2), ref.step(B2)]);
    const queue = engine.device!.queue as GPUQueue & { submit: GPUQueue['submit'] };
    const submit = queue.submit;
    queue.submit = () => {
      throw new Error('simulated device failure at submit');
    };
    try {
      await expect(t.step({ ...B3bad, x: uniformArray(makeRng(1), 27, 1) })).rejects.toThrow(/simulated device failure/);
    } finally {
      queue.submit = submit;
    }
    const [a, b] = [await t.step(next), await ref.step(next)];
    expect(a.loss).toBe(b.loss);
    expect(a.step).toBe(2);
    expect(bits(packParams(await t.read()))).toEqual(bits(packParams(await ref.read())));
    t.dispose();
    ref.dispose();
  });
});

describe('6. clear errors', () => {
  const { model, batch } = randomProblem({ T: 3, B: 2, d: 3, h: 4, q: 3, seed: 99 });

  for (const borrowed of [false, true]) {
    it(`dispose() with calls pending (${borrowed ? 'a borrowed device' : 'its own device'}): each rejects with a BpttDeviceError saying so`, async () => {
      const engine = await createEngine({ backend: 'webgpu', device: borrowed ? engines.webgpu.device! : undefined });
      const trainer = engine.trainer(model, { optimizer: { kind: 'sgd', learningRate: 0.1 }, loss: 'cross-entropy' });
      // each call runs up to its first wait on the GPU synchronously: all three are waiting when dispose() runs
      const pending = [engine.gradients(model, batch, { loss: 'cross-entropy' }), trainer.step(batch), trainer.read()];
      engine.dispose();
      for (const settled of await Promise.allSettled(pending)) {
        expect(settled.status).toBe('rejected');
        const err = (settled as PromiseRejectedResult).reason;
        expect(err).toBeInstanceOf(BpttDeviceError);
        expect((err as Error).message).toMatch(/the engine was disposed while this call was waiting for the GPU/);
      }
      // the borrowed device and the other engine on it go on working
      if (borrowed) expect((await engines.webgpu.gradients(model, batch, { loss: 'cross-entropy' })).nonFinite).toBe(false);
    });
  }

  it('webgpu: T*B beyond one dispatch (maxComputeWorkgroupsPerDimension) is refused naming batch, before any work', async () => {
    const engine = engines.webgpu;
    const max = engine.device!.limits.maxComputeWorkgroupsPerDimension;
    const B = 32 * max + 1;
    const m: RnnModel = { inputSize: 2, hiddenSize: 1, outputSize: 2, activation: 'tanh', Whx: new Float32Array(2), Whh: new Float32Array(1), Wqh: new Float32Array(2) };
    const big: Batch = { steps: 1, batchSize: B, x: new Int32Array(B), y: new Int32Array(B) };
    const err = await inputError(engine.gradients(m, big, { loss: 'cross-entropy' }));
    expect(err.argument).toBe('batch');
    expect(err.message).toMatch(/maxComputeWorkgroupsPerDimension = \d+/);
    const t = engine.trainer(m, { optimizer: { kind: 'sgd', learningRate: 0.1 }, loss: 'cross-entropy' });
    expect((await inputError(t.step(big))).argument).toBe('batch');
    t.dispose();
    expect((await engine.gradients(model, batch, { loss: 'cross-entropy' })).nonFinite, 'the engine still works').toBe(false);
  });

  it('every dispatch size is checked, each naming its argument (a device with small limits)', () => {
    const limits = { maxComputeWorkgroupsPerDimension: 4, maxBuffer: 64 * 1024, uniformAlign: 256 };
    // an RnnModel's call: the walk's shape of one rnn layer and a head (the chapter's kernels)
    const shape = (T: number, B: number, d: number, h: number, q: number) =>
      planSequence(rnnSequenceDims('tanh', d, h, q, true), { T, B, tokens: false, activation: 'tanh', loss: 'cross-entropy', xi: null }, rnnSequenceLayout(paramLayout(d, h, q, true), d));
    const check = (s: ReturnType<typeof shape>) => checkSequenceDispatchLimits(s, sequenceDispatches(s, { dx: false, clip: false }), limits);
    const cases: [string, ReturnType<typeof shape>][] = [
      ['batch', shape(5, 30, 4, 4, 4)], // 150 rows > 4*32
      ['batch', shape(1, 129, 4, 4, 4)], // B alone beyond the step kernels' grid: the rows are too
      ['model.inputSize', shape(1, 2, 129, 4, 4)],
      ['model.hiddenSize', shape(1, 2, 4, 129, 4)],
      ['model.outputSize', shape(1, 2, 4, 4, 129)],
      ['batch.steps', shape(125, 1, 4, 4, 4)], // (2*125 + 12) uniform blocks of 256 bytes > 64 KiB
    ];
    for (const [argument, s] of cases) {
      let err: unknown = null;
      try {
        check(s);
      } catch (e) {
        err = e;
      }
      expect(err, argument).toBeInstanceOf(BpttInputError);
      expect((err as BpttInputError).argument).toBe(argument);
    }
    expect(() => check(shape(4, 32, 4, 4, 4))).not.toThrow();
  });

  it('SequenceModel: every dispatch size is checked too, each naming its argument (a device with small limits)', () => {
    const limits = { maxComputeWorkgroupsPerDimension: 4, maxBuffer: 64 * 1024, uniformAlign: 256 };
    const shape = (cell: 'rnn' | 'gru' | 'lstm', L: number, T: number, B: number, d: number, h: number, q: number, window = 0) => {
      const { model } = randomSequenceProblem({ cell, L, bi: false, T, B, d, h, q });
      const dims = validateSequenceModel(model);
      return planSequence(dims, { T, B, activation: dims.activation, tokens: false, loss: q ? 'cross-entropy' : 'none', xi: null, window }, sequenceLayout(model));
    };
    const cases: [string, ReturnType<typeof shape>][] = [
      ['batch', shape('rnn', 1, 5, 30, 4, 4, 4)], // 150 rows > 4*32
      ['batch', shape('rnn', 1, 2, 40, 4, 4, 4, 2)], // window(2): 2*80 rows of adjoints by age > 4*32
      ['batch.batchSize', shape('rnn', 1, 1, 100, 4, 4, 4)], // the step kernels: 400 / 64 > 4 workgroups
      ['model.inputSize', shape('rnn', 1, 1, 2, 129, 4, 4)],
      ['model.hiddenSize', shape('lstm', 1, 1, 2, 4, 33, 4)], // 4 gates: 132 columns > 4*32
      ['model.head.outputSize', shape('gru', 1, 1, 2, 4, 4, 129)],
      ['batch.steps', shape('gru', 2, 70, 1, 4, 4, 4)], // about 4T uniform blocks of 256 bytes > 64 KiB
    ];
    for (const [argument, s] of cases) {
      let err: unknown = null;
      try {
        checkSequenceDispatchLimits(s, sequenceDispatches(s, { dx: false, clip: false }), limits);
      } catch (e) {
        err = e;
      }
      expect(err, argument).toBeInstanceOf(BpttInputError);
      expect((err as BpttInputError).argument, argument).toBe(argument);
    }
    const fine = shape('lstm', 2, 4, 16, 4, 8, 4);
    expect(() => checkSequenceDispatchLimits(fine, sequenceDispatches(fine, { dx: false, clip: false }), limits)).not.toThrow();
  });

  it('webgpu: a SequenceModel with T*B beyond one dispatch is refused naming batch, before any work (gradients and trainer)', async () => {
    const engine = engines.webgpu;
    const max = engine.device!.limits.maxComputeWorkgroupsPerDimension;
    const B = 32 * max + 1;
    const { model } = randomSequenceProblem({ cell: 'gru', L: 1, bi: false, T: 1, B: 1, d: 2, h: 1, q: 2 });
    const big: Batch = { steps: 1, batchSize: B, x: new Int32Array(B), y: new Int32Array(B) };
    const err = await inputError(engine.gradients(model, big, { loss: 'cross-entropy' }));
    expect(err.argument).toBe('batch');
    expect(err.message).toMatch(/maxComputeWorkgroupsPerDimension = \d+/);
    const t = engine.trainer(model, { optimizer: { kind: 'sgd', learningRate: 0.1 }, loss: 'cross-entropy' });
    expect((await inputError(t.step(big))).argument).toBe('batch');
    t.dispose();
    expect((await engine.gradients(model, { steps: 1, batchSize: 1, x: new Int32Array(1), y: new Int32Array(1) }, { loss: 'cross-entropy' })).nonFinite, 'the engine still works').toBe(false);
  });
});

describe('7. non-finite inputs: one rule on every engine', () => {
  const cases: [string, (m: RnnModel, b: Batch) => void, boolean][] = [
    // [name, spoil, gradients non-finite]
    ['x = +Infinity, tanh (tanh(Inf) = 1 on both, 0 * Inf in dWhx)', (m, b) => { m.Whx.fill(0.5); (b.x as Float32Array)[0] = Infinity; }, true],
    ['x and Whx of 1e30, tanh: a_t overflows float32, h_t = 1', (m, b) => { m.Whx.fill(1e30); (b.x as Float32Array).fill(1e30); }, false],
    ['x = NaN, relu (relu(NaN) = 0, the NaN reaches dWhx)', (m, b) => { m.activation = 'relu'; (b.x as Float32Array)[0] = NaN; }, true],
    ['Whh NaN, relu', (m) => { m.activation = 'relu'; m.Whh[0] = NaN; }, true],
    ['Whh NaN, tanh', (m) => { m.Whh[0] = NaN; }, true],
    ['identity, h_t of 1e40: beyond float32, not hidden by float64', (m, b) => { m.activation = 'identity'; m.Whh.fill(0); for (let i = 0; i < 3; i++) m.Whh[i * 3 + i] = 1e20; m.Whx.fill(1e20); (b.x as Float32Array).fill(1e10); }, true],
    ['relu, P of 6e38 then Inf - Inf', (m, b) => { m.activation = 'relu'; m.Whx.fill(3e38); (b.x as Float32Array).fill(2); }, true],
    ['dO = -Infinity', (_m, b) => { b.dO = new Float32Array(2 * 2 * 2).fill(0.1); b.dO[3] = -Infinity; }, true],
  ];
  for (const [name, spoil, nonFinite] of cases) for (const kind of OTHERS) {
    it(`${kind}: ${name}`, async () => {
      const { model, batch } = randomProblem({ T: 2, B: 2, d: 2, h: 3, q: 2, seed: 100 });
      spoil(model, batch);
      const loss = batch.dO ? 'none' : 'cross-entropy';
      const options: GradientOptions = { loss, gradNormPerStep: true, clipNorm: 1 };
      const [c, g] = await Promise.all(PAIR(kind).map((k) => engines[k].gradients(model, batch, options)));
      expect(c.nonFinite, 'cpu nonFinite').toBe(nonFinite);
      expect(g.nonFinite, `${kind} nonFinite`).toBe(nonFinite);
      if (nonFinite) {
        for (const r of [c, g]) {
          expect(Number.isFinite(r.gradNorm)).toBe(false);
          expect(r.clipped).toBe(false);
        }
      } else {
        expectSameAsCpu(name, g, c);
      }
      // a trainer skips such a step on both engines, and applies the finite one
      const trainers = PAIR(kind).map((k) => engines[k].trainer(model, { optimizer: { kind: 'sgd', learningRate: 0.1 }, loss }));
      const steps = await Promise.all(trainers.map((t) => t.step(batch)));
      expect(steps.map((s) => s.skipped)).toEqual([nonFinite, nonFinite]);
      for (const t of trainers) t.dispose();
    });
  }
});

describe('8. option types: the same refusal on every engine', () => {
  const { model, batch } = randomProblem({ T: 2, B: 2, d: 2, h: 3, q: 2, seed: 101 });
  const sgd = { kind: 'sgd' as const, learningRate: 0.1 };
  const calls: [string, string, (e: Engine) => unknown][] = [
    ["carryState: 'yes'", 'options.carryState', (e) => e.trainer(model, { optimizer: sgd, loss: 'cross-entropy', carryState: 'yes' as unknown as boolean })],
    ['trainer checkFinite: 1', 'options.checkFinite', (e) => e.trainer(model, { optimizer: sgd, loss: 'cross-entropy', checkFinite: 1 as unknown as boolean })],
    ["inputGradient: 'true'", 'options.inputGradient', (e) => e.gradients(model, batch, { loss: 'cross-entropy', inputGradient: 'true' as unknown as boolean })],
    ['gradNormPerStep: {}', 'options.gradNormPerStep', (e) => e.gradients(model, batch, { loss: 'cross-entropy', gradNormPerStep: {} as unknown as boolean })],
    ['checkFinite: null', 'options.checkFinite', (e) => e.gradients(model, batch, { loss: 'cross-entropy', checkFinite: null as unknown as boolean })],
    ["readGradNorm: 'no'", 'options.readGradNorm', (e) => e.trainer(model, { optimizer: sgd, loss: 'cross-entropy' }).step(batch, { readGradNorm: 'no' as unknown as boolean })],
    ['step options 5', 'options', (e) => e.trainer(model, { optimizer: sgd, loss: 'cross-entropy' }).step(batch, 5 as unknown as object)],
    ["learningRate: '0.1'", 'options.optimizer.learningRate', (e) => e.trainer(model, { optimizer: { kind: 'sgd', learningRate: '0.1' as unknown as number }, loss: 'cross-entropy' })],
  ];
  for (const [name, argument, call] of calls) {
    it(name, async () => {
      const messages: string[] = [];
      for (const kind of KINDS) {
        const err = await inputError(async () => call(engines[kind]));
        expect(err.argument).toBe(argument);
        messages.push(err.message);
      }
      for (const m of messages) expect(m).toBe(messages[0]);
    });
  }
  it("engine.gpu: tokens: 'yes' (or 1) is refused naming it", async () => {
    const layer = { inputSize: 2, hiddenSize: 2, outputSize: 2, activation: 'tanh' as const, bias: false };
    const gpu = engines.webgpu.gpu;
    expect((await inputError(gpu.forward({ layer, steps: 1, batchSize: 1, tokens: 'yes' } as never))).argument).toBe('tokens');
    expect((await inputError(gpu.backward({ layer, steps: 1, batchSize: 1, tokens: 1 } as never))).argument).toBe('tokens');
  });

  const engineOptions: [string, string, object][] = [
    ["allowSoftwareAdapter: 'yes'", 'options.allowSoftwareAdapter', { allowSoftwareAdapter: 'yes' }],
    ['skipSelfCheck: 1', 'options.skipSelfCheck', { skipSelfCheck: 1 }],
    ['threads: 1.5', 'options.threads', { threads: 1.5 }],
    ["kernelSources: 'x'", 'options.kernelSources', { kernelSources: 'x' }],
    ['limits.maxBufferSize: -1', 'options.limits.maxBufferSize', { limits: { maxBufferSize: -1 } }],
  ];
  for (const [name, argument, options] of engineOptions) {
    it(`createEngine ${name}, for every backend`, async () => {
      for (const backend of ['cpu', 'webgpu', 'wasm', 'auto']) {
        const err = await inputError(createEngine({ backend, ...options } as never));
        expect(err.argument).toBe(argument);
      }
    });
  }
});

describe('9. nothing on stderr (child process)', () => {
  for (const backend of ['auto', 'webgpu'] as const) {
    it(`createEngine({ backend: '${backend}' }) prints nothing; backendReason says what the Vulkan probe found`, async () => {
      // as a user's program starts: no VK_ICD_FILENAMES of ours (gpu-setup's engine set it in this process)
      const env = { ...process.env };
      delete env.VK_ICD_FILENAMES;
      const run = await runChild<{ backend: string; reason: string }>('quiet-engine.ts', { backend }, { env });
      expect(run.code, run.stderr).toBe(0);
      console.log(`[hostile] ${backend}: ${run.result!.backend}: ${run.result!.reason}`);
      expect(run.stderr).toBe('');
      expect(run.result!.reason).toMatch(/the system's Vulkan drivers give/);
    });
  }
});

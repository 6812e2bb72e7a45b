// Every kernel variant of the vanilla RnnModel path (src/gpu/rnn-variants.ts),
// chosen explicitly, against the float64 reference on the existing GPU tables
// (test/twins/: odd, straddling and round sizes, every truncation, gradients
// and trainer); engine.forward's loss bit for bit equal to the gradient
// call's; the workgroups per step at the benchmark's char shape; bit-identical
// reruns; and the tuner for an RnnModel class (a valid pick within its bound,
// a table passed back used as given, a fixed variant that cannot run refused
// naming options.tuning.fixed.<kernel>).
import { describe, expect, it } from 'vitest';
import { createEngine } from '../src/index.js';
import type { GradientOptions, Truncation } from '../src/types.js';
import type { KernelChoice, TuningOption } from '../src/tuning-types.js';
import { BpttInputError } from '../src/errors.js';
import { layoutOf } from '../src/params.js';
import { planSequence } from '../src/gpu/sequence-encode.js';
import { withChoice } from '../src/gpu/variants.js';
import { stepWorkgroups, vanillaClass } from '../src/gpu/chapter-kernels.js';
import { rnnSequenceLayout } from '../src/params.js';
import { rnnSequenceDims } from '../src/validate-sequence.js';
import { expectCloseToCpu, expectSameAsCpu, sharedDeviceEngines } from './gpu-setup.js';
import { randomProblem } from './helpers.js';
import { defineGradientTwins } from './twins/gradients.js';
import { defineTrainerTwins } from './twins/trainer.js';

// Engines share one device (and so its pipeline cache: SwiftShader compiles slowly).
const engineWith = sharedDeviceEngines();

// Every new variant of every vanilla kernel is in at least one set (the trainer
// records the same kernels as the gradient call: the subgroup set, the fourth
// forward variant, runs the gradient tables only).
const SETS: Array<[string, Partial<KernelChoice>]> = [
  ['small steps, padded matmul, multi finalize', { rnnForwardStep: 'small', rnnBackwardStep: 'small', windowStep: 'small', matmul: 'tile32pad', finalize: 'multi' }],
  ['coalesced forward, split-K backward, multi finalize', { rnnForwardStep: 'coalesced', rnnBackwardStep: 'splitk', finalize: 'multi' }],
  ['split-K forward and backward, small window, tile16', { rnnForwardStep: 'splitk', rnnBackwardStep: 'splitk', windowStep: 'small', matmul: 'tile16' }],
  ['subgroup forward', { rnnForwardStep: 'subgroup4' }],
];

const ALL: GradientOptions = { loss: 'cross-entropy', inputGradient: true, gradNormPerStep: true };

for (const [name, fixed] of SETS) {
  // 'manual': the kernels left out of `fixed` keep their defaults (nothing is measured)
  const tuning: TuningOption = { mode: 'manual', fixed };
  describe(`${name}: gradients equal the reference on the GPU tables`, () => defineGradientTwins(`gpu-rnn-variants.test.ts gradients (${name})`, () => engineWith(tuning)));
  // a split-K step adds a dispatch per step forward and backward, the transpose and finalize's first pass one each
  if (fixed.rnnForwardStep !== 'subgroup4') describe(`${name}: the trainer reaches the CPU trainer's parameters`, () => defineTrainerTwins(`gpu-rnn-variants.test.ts trainer (${name})`, () => engineWith(tuning), (T) => 2 * T + 2));
  describe(`${name}: forward and the device API`, () => {
    it("engine.forward: O, Y and hT equal the reference; its loss is the gradient call's, bit for bit", async () => {
      const gpu = await engineWith(tuning);
      const cpu = await createEngine({ backend: 'cpu' });
      const { model, batch } = randomProblem({ T: 6, B: 5, d: 4, h: 33, q: 7, h0: true, seed: 21 });
      const f = await gpu.forward(model, batch, { outputs: ['O', 'Y'] });
      const c = await cpu.forward(model, batch, { outputs: ['O', 'Y'] });
      for (const k of ['O', 'Y', 'hT'] as const) expectCloseToCpu(`forward ${name}`, k, f[k]!, c[k]!);
      const g = await gpu.gradients(model, batch, { loss: 'cross-entropy' });
      expect(f.loss).toBe(g.loss);
    });
    it('engine.gpu.forward and backward equal engine.gradients with the same variants', async () => {
      const gpu = await engineWith(tuning);
      const dev = gpu.device!;
      const { model, batch } = randomProblem({ T: 5, B: 3, d: 4, h: 9, q: 5, loss: 'none', seed: 22 });
      const buf = (a: Float32Array) => {
        const b = dev.createBuffer({ size: a.byteLength, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
        dev.queue.writeBuffer(b, 0, a as Float32Array<ArrayBuffer>);
        return b;
      };
      const read = async (b: GPUBuffer, n: number) => {
        const staging = dev.createBuffer({ size: n * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
        const enc = dev.createCommandEncoder();
        enc.copyBufferToBuffer(b, 0, staging, 0, n * 4);
        dev.queue.submit([enc.finish()]);
        await staging.mapAsync(GPUMapMode.READ);
        const out = new Float32Array(staging.getMappedRange().slice(0));
        staging.destroy();
        return out;
      };
      const layer = { inputSize: 4, hiddenSize: 9, outputSize: 5, activation: model.activation, bias: true };
      const weights = { Whx: buf(model.Whx), Whh: buf(model.Whh), Wqh: buf(model.Wqh), bh: buf(model.bh!), bq: buf(model.bq!) };
      const common = { layer, steps: 5, batchSize: 3, weights, x: buf(batch.x as Float32Array) };
      const fwd = await gpu.gpu!.forward(common);
      const truncation: Truncation = { kind: 'window', steps: 2 };
      const bwd = await gpu.gpu!.backward({ ...common, H: fwd.H, dO: buf(batch.dO!), truncation });
      const g = await gpu.gradients(model, batch, { loss: 'none', truncation });
      expect(await read(bwd.dWhh, 81)).toEqual(g.dWhh);
      expect(await read(bwd.dh0, 27)).toEqual(g.dh0);
      expect(await read(fwd.hT, 27)).toEqual(g.hT);
    });
  });
}

describe("the benchmark's char shape (T = 35, B = 32, h = 256)", () => {
  const { model } = randomProblem({ T: 2, B: 32, d: 28, h: 256, q: 28, tokens: true });
  const shape = (window: number) =>
    planSequence(rnnSequenceDims('tanh', 28, 256, 28, true), { T: 35, B: 32, tokens: true, activation: 'tanh', loss: 'cross-entropy', window, xi: null }, rnnSequenceLayout(layoutOf(model), 28));
  const groups = (c: Partial<KernelChoice>, window = 0) => stepWorkgroups(withChoice(shape(window), { forwardStep: 'direct', backwardStep: 'direct', matmul: 'tile32', wavefront: false, ...c }));
  it('the defaults launch 8 workgroups per step; every other step variant 128 or more', () => {
    expect(groups({})).toEqual({ forward: 8, backward: 8 });
    for (const rnnForwardStep of ['small', 'coalesced', 'splitk', 'subgroup4'] as const) expect(groups({ rnnForwardStep }).forward).toBeGreaterThanOrEqual(128);
    for (const rnnBackwardStep of ['small', 'splitk'] as const) expect(groups({ rnnBackwardStep }).backward).toBeGreaterThanOrEqual(128);
    expect(groups({ windowStep: 'small' }, 5).backward).toBeGreaterThanOrEqual(128);
    expect(groups({ rnnForwardStep: 'small', rnnBackwardStep: 'small' })).toEqual({ forward: 128, backward: 128 });
    expect(groups({ rnnForwardStep: 'coalesced' }).forward).toBe(128);
    expect(groups({ rnnForwardStep: 'subgroup4' }).forward).toBe(512);
    expect(groups({ rnnForwardStep: 'splitk', rnnBackwardStep: 'splitk' })).toEqual({ forward: 1024, backward: 1024 }); // 4 x 32 x 8 splits
  });
});

describe('a fixed choice gives bit-identical results run after run', () => {
  it.each(SETS)('%s', async (_, fixed) => {
    const gpu = await engineWith({ mode: 'manual', fixed });
    const { model, batch } = randomProblem({ T: 7, B: 5, d: 3, h: 40, q: 4, h0: true, dhT: true, seed: 31 });
    for (const truncation of [{ kind: 'full' }, { kind: 'window', steps: 3 }] as Truncation[]) {
      const a = await gpu.gradients(model, batch, { ...ALL, truncation });
      const b = await gpu.gradients(model, batch, { ...ALL, truncation });
      expect(b).toEqual(a);
    }
  });
});

describe('the tuner for an RnnModel class', () => {
  const spec = { T: 6, B: 3, d: 4, h: 9, q: 5, seed: 41 };
  const classOf = (window = 0) => vanillaClass({ activation: 'tanh', B: spec.B, h: spec.h, window });

  it('picks a valid variant of each kernel, within its bound; the results equal the reference', async () => {
    const budgetMs = 10_000;
    const { model, batch } = randomProblem(spec);
    const cpu = await createEngine({ backend: 'cpu' });
    const gpu = await engineWith({ mode: 'lazy', budgetMs });
    for (const truncation of [{ kind: 'full' }, { kind: 'window', steps: 2 }] as Truncation[]) {
      const options = { ...ALL, truncation };
      expectSameAsCpu(`tuned ${truncation.kind}`, await gpu.gradients(model, batch, options), await cpu.gradients(model, batch, options));
    }
    const full = gpu.tuning().classes[classOf()];
    const win = gpu.tuning().classes[classOf(2)];
    expect(['direct', 'small', 'coalesced', 'splitk', 'subgroup4']).toContain(full.rnnForwardStep);
    expect(['direct', 'small', 'splitk']).toContain(full.rnnBackwardStep);
    expect(['direct', 'small']).toContain(win.windowStep);
    for (const c of [full, win]) {
      expect(['tile32', 'tile16', 'tile64', 'tile32pad']).toContain(c.matmul);
      expect(['single', 'multi']).toContain(c.finalize);
      // the defaults first, then candidates while the budget lasts (SwiftShader compiles each new pipeline slowly)
      const names = Object.keys(c.measured!);
      expect(names.length).toBeGreaterThan(0);
      expect(names[0]).toBe(c === full ? 'rnnForwardStep direct, rnnBackwardStep direct, matmul tile32, finalize single' : 'rnnForwardStep direct, windowStep direct, matmul tile32, finalize single');
      expect(c.spentMs!).toBeLessThanOrEqual(budgetMs + c.longestRunMs! + 50);
    }
    const stats = gpu.stats();
    const candidates = Object.keys(full.measured!).length + Object.keys(win.measured!).length;
    expect(stats.tuningRuns).toBeGreaterThanOrEqual(3 * candidates); // a warm-up and two timed runs each (+ runs of a candidate cut short)
    expect(stats.tuningMs).toBeGreaterThanOrEqual(full.spentMs! + win.spentMs!);
    await gpu.gradients(model, batch, ALL); // the same class: nothing more measured
    expect(gpu.stats().tuningRuns).toBe(stats.tuningRuns);
  });

  it("engine.tune(rnnModel) tunes its class up front in 'manual' mode; its table reused by a new engine gives bit-identical results", async () => {
    const gpu = await engineWith({ mode: 'manual', budgetMs: 2000 });
    const { model, batch } = randomProblem({ ...spec, seed: 43 });
    await gpu.gradients(model, batch, ALL);
    expect(gpu.stats().tuningRuns).toBe(0); // manual: calls never tune
    const choice = await gpu.tune(model, batch, ALL);
    expect(gpu.stats().tuningRuns).toBeGreaterThan(0);
    expect(gpu.tuning().classes[classOf()]).toMatchObject(choice);
    const a = await gpu.gradients(model, batch, ALL);
    const again = await engineWith({ mode: 'manual', table: gpu.tuning() });
    expect(await again.gradients(model, batch, ALL)).toEqual(a);
    expect(again.stats().tuningRuns).toBe(0);
  });

  it('a budget of 0 measures nothing and keeps the defaults', async () => {
    const gpu = await engineWith({ budgetMs: 0 });
    const { model, batch } = randomProblem(spec);
    await gpu.gradients(model, batch, ALL);
    expect(gpu.stats().tuningRuns).toBe(0);
    expect(gpu.tuning().classes[classOf()]).toMatchObject({ rnnForwardStep: 'direct', rnnBackwardStep: 'direct', matmul: 'tile32', finalize: 'single' });
  });

  it('a table passed back is used as given: no measuring, and its split-K steps show in the dispatch count', async () => {
    const { model, batch } = randomProblem(spec);
    const plain = await engineWith('off');
    const want = await plain.gradients(model, batch, ALL);
    const base = plain.stats().dispatches;
    const choice: KernelChoice = { forwardStep: 'direct', backwardStep: 'direct', matmul: 'tile32', wavefront: false, rnnForwardStep: 'splitk', rnnBackwardStep: 'splitk', finalize: 'multi' };
    const gpu = await engineWith({ mode: 'lazy', table: { adapter: 'elsewhere', classes: { [classOf()]: choice } } });
    const got = await gpu.gradients(model, batch, ALL);
    expect(gpu.stats().tuningRuns).toBe(0);
    expect(gpu.tuning().classes[classOf()]).toEqual(choice);
    // + the transpose, a reduce after each forward step's split product, a split product before the
    // reduce of each reverse step but t = T (whose carry is dhT) and of dh_0, finalize's first pass
    const T = spec.T;
    expect(gpu.stats().dispatches).toBe(base + 1 + T + T + 1);
    expectSameAsCpu('table splitk', got, want, { rtol: 1e-4, atolRel: 1e-6 });
  });

  it('a fixed variant that cannot run is refused before any work, naming options.tuning.fixed.<kernel>; the engine stays usable', async () => {
    // one batch row per workgroup in y (coalesced, splitk), or eight (small)
    for (const [fixed, argument, rowsPerGroup] of [
      [{ rnnForwardStep: 'coalesced' }, 'options.tuning.fixed.rnnForwardStep', 1],
      [{ rnnBackwardStep: 'splitk' }, 'options.tuning.fixed.rnnBackwardStep', 1],
      [{ rnnBackwardStep: 'small' }, 'options.tuning.fixed.rnnBackwardStep', 8],
    ] as const) {
      const gpu = await engineWith({ mode: 'manual', fixed });
      const B = rowsPerGroup * gpu.device!.limits.maxComputeWorkgroupsPerDimension + 1;
      const { model, batch } = randomProblem({ T: 1, B, d: 1, h: 1, q: 1, seed: 42 });
      const call = gpu.gradients(model, batch, { loss: 'cross-entropy' });
      await expect(call).rejects.toThrow(BpttInputError);
      await expect(call).rejects.toMatchObject({ argument });
      await expect(call).rejects.toThrow(/maxComputeWorkgroupsPerDimension/);
      expect(gpu.stats().dispatches).toBe(0);
      const small = randomProblem(spec);
      await gpu.gradients(small.model, small.batch, ALL);
    }
  });

  it('bad vanilla kernel choices are refused by createEngine, naming options.tuning...', async () => {
    const bad: Array<[unknown, string]> = [
      [{ fixed: { rnnForwardStep: 'warp' } }, 'options.tuning.fixed.rnnForwardStep'],
      [{ fixed: { rnnBackwardStep: 'coalesced' } }, 'options.tuning.fixed.rnnBackwardStep'],
      [{ fixed: { windowStep: 'splitk' } }, 'options.tuning.fixed.windowStep'],
      [{ fixed: { finalize: 2 } }, 'options.tuning.fixed.finalize'],
      [{ fixed: { matmul: 'tile32padded' } }, 'options.tuning.fixed.matmul'],
    ];
    for (const [tuning, argument] of bad) {
      const call = createEngine({ backend: 'webgpu', tuning: tuning as never });
      await expect(call, JSON.stringify(tuning)).rejects.toThrow(BpttInputError);
      await expect(call).rejects.toMatchObject({ argument });
    }
  });
});

// The reverse-sweep variants of src/gpu/sweep-variants.ts (kernels/cell_backward_sweep.wgsl),
// chosen explicitly: the persistent sweep (backwardStep 'persistent') and the wavefront over
// layers (backwardWavefront), against the float64 reference on the covering table of
// gpu-sequence-cases.ts (every cell, 1-3 layers, both directions, lengths, every xi
// truncation, odd sizes h = 33, B = 35, and a round size), trainer steps against the CPU
// engine's, the dispatch counts, bit-identical reruns, the persistent sweep refused where
// the adapter's workgroup memory does not fit it, and the tuner's candidates.
import { describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../src/index.js';
import type { GradientOptions, SequenceGradients } from '../src/types.js';
import { type KernelChoice, type TuningOption, BACKWARD_STEP_VARIANTS, DEFAULT_CHOICE } from '../src/tuning-types.js';
import { BpttInputError } from '../src/errors.js';
import { packSequence, sequenceLayout } from '../src/sequence-params.js';
import { validateSequenceModel } from '../src/validate-sequence.js';
import { planSequence, recordSequenceBackward, recordSequenceForward, recordSequenceHead, seqBufferSizes, sequenceDispatches } from '../src/gpu/sequence-encode.js';
import type { Recorder } from '../src/gpu/context.js';
import { shapeClass, unfitReason, withChoice } from '../src/gpu/variants.js';
import { persistentBackwardBytes, persistentBackwardLanes } from '../src/gpu/sweep-variants.js';
import { expectCloseToCpu, printWorst, sharedDeviceEngines } from './gpu-setup.js';
import { randomSequenceProblem, type SeqSpec } from './sequence-reference.js';
import { COVERING_TABLE, WINDOW_ROWS, checkSequence, chunked, full, odd, randomized } from './gpu-sequence-cases.js';
import { fuzzSequenceGradients } from './fuzz-sequence.js';
import { newTally } from './fuzz-run.js';

// One device for every engine here (its pipeline cache: SwiftShader compiles slowly).
// Every kernel's variant is fixed (the rest the defaults): a partly fixed choice would
// tune the others lazily, and what a tuner picks in its budget is not the test's to know.
const sharedEngine = sharedDeviceEngines(() => printWorst('gpu-sweep-variants.test.ts'));
async function engineWith(tuning: TuningOption | undefined): Promise<Engine> {
  if (typeof tuning === 'object' && tuning.fixed && !tuning.table && tuning.mode === undefined) tuning = { ...tuning, fixed: { ...DEFAULT_CHOICE, finalize: 'single', ...tuning.fixed } };
  return sharedEngine(tuning);
}

const PERSISTENT: Partial<KernelChoice> = { backwardStep: 'persistent' };
const WAVE: Partial<KernelChoice> = { backwardWavefront: true };
const WAVE_LANES: Partial<KernelChoice> = { backwardWavefront: true, backwardStep: 'lanes4', wavefront: true }; // with the forward's wavefront

const tableName = (row: (typeof COVERING_TABLE)[number]) => `${row[0].cell} L=${row[0].L} ${row[0].bi ? 'bi' : 'uni'} ${row[1].kind}${row[0].q ? '' : ' dY'}${row[0].tokens ? ' tokens' : ''}`;

// Three-layer stacks (the covering table has one and two): where the wavefront holds three layers at once.
const THREE_LAYERS: Array<[SeqSpec, (typeof COVERING_TABLE)[number][1], Partial<GradientOptions>]> = [
  [{ cell: 'gru', L: 3, bi: false, ...odd, q: 9, states: true, seed: 61 }, chunked, {}],
  [{ cell: 'lstm', L: 3, bi: false, ...odd, q: 0, states: true, seed: 62 }, randomized, { clipNorm: 0.01 }],
  [{ cell: 'rnn', L: 3, bi: false, ...odd, q: 9, tokens: true, seed: 63 }, full, {}],
  [{ cell: 'lstm', L: 3, bi: true, T: 4, B: 5, d: 4, h: 7, q: 5, seed: 64 }, full, {}],
];

for (const [name, fixed, rowsOf] of [
  ['persistent backward', PERSISTENT, () => true],
  ['backward wavefront', WAVE, (i: number) => (COVERING_TABLE[i][0].L > 1 && !COVERING_TABLE[i][0].bi) || i === 1 || i === 4], // where it applies, and a bi and a one-layer row where it falls back
  ['backward wavefront, lanes4, forward wavefront', WAVE_LANES, (i: number) => COVERING_TABLE[i][0].L > 1 && !COVERING_TABLE[i][0].bi], // the stacks it applies to
] as const) {
  describe(`${name}: equals the reference on the covering table (h = 33, B = 35)`, () => {
    let gpu: Engine;
    const rows = COVERING_TABLE.map((row, i) => [i, tableName(row)] as const).filter(([i]) => rowsOf(i));
    it.each(rows)('%i: %s', async (i) => {
      gpu ??= await engineWith({ fixed });
      const [spec, truncation, extra] = COVERING_TABLE[i];
      await checkSequence(gpu, spec, truncation, extra);
    });
    it('three layers', async () => {
      gpu ??= await engineWith({ fixed });
      for (const [spec, truncation, extra] of THREE_LAYERS) await checkSequence(gpu, spec, truncation, extra);
    });
    it("sequences of different lengths (each sequence's sweep starts at its own end)", async () => {
      gpu ??= await engineWith({ fixed });
      await checkSequence(gpu, { cell: 'lstm', L: 2, bi: false, T: 6, B: 4, d: 3, h: 9, q: 4, states: true, seed: 95 }, full, {}, Int32Array.from([6, 2, 4, 1]));
      await checkSequence(gpu, { cell: 'gru', L: 3, bi: false, T: 5, B: 3, d: 3, h: 7, q: 0, states: true, seed: 97 }, randomized, {}, Int32Array.from([1, 5, 3]));
      await checkSequence(gpu, { cell: 'gru', L: 1, bi: true, T: 5, B: 3, d: 3, h: 7, q: 0, seed: 96 }, chunked, {}, Int32Array.from([1, 5, 3]));
      await checkSequence(gpu, { cell: 'rnn', L: 2, bi: true, T: 5, B: 5, d: 3, h: 6, q: 4, activation: 'relu', states: true, seed: 98 }, randomized, {}, Int32Array.from([2, 5, 1, 4, 3]));
    });
  });
}

// The fuzz test's random SequenceModel calls (tiny shapes, every truncation, lengths, non-finite
// inputs, illegal calls) on an engine with each sweep variant fixed: the reference's results and
// non-finite flags, or the same refusals.
describe('random calls of the fuzz test', () => {
  it.each([['persistent', PERSISTENT], ['wavefront', WAVE]] as const)('%s: 60 calls as the reference', async (_name, fixed) => {
    const gpu = await engineWith({ fixed });
    const cpu = await createEngine({ backend: 'cpu' });
    const t = newTally();
    await fuzzSequenceGradients(gpu, cpu, 20261202, Array.from({ length: 60 }, (_, k) => 600_000 + k), t);
    cpu.dispose();
    expect(t.failures.slice(0, 5)).toEqual([]);
    expect(t.legal + t.nonFinite + t.refused).toBe(60);
    expect(t.nonFinite).toBeGreaterThan(0);
  });
});

describe('window(tau) keeps its own kernel whatever the sweep variant', () => {
  it.each([['persistent', PERSISTENT], ['wavefront', WAVE]] as const)('%s chosen: equal to the reference, the default dispatch count', async (_name, fixed) => {
    const gpu = await engineWith({ fixed });
    const plain = await engineWith('off');
    for (const [spec, tau, extra] of WINDOW_ROWS.slice(0, 3)) {
      await checkSequence(gpu, spec, { kind: 'window', steps: tau }, extra);
      const n = gpu.stats().dispatches;
      await checkSequence(plain, spec, { kind: 'window', steps: tau }, extra);
      expect(n).toBe(plain.stats().dispatches);
    }
  });
});

describe('round size (h = 64, B = 16)', () => {
  const spec: SeqSpec = { cell: 'lstm', L: 2, bi: false, T: 4, B: 16, d: 28, h: 64, q: 28, tokens: true, seed: 51 };
  it.each([['persistent', PERSISTENT], ['wavefront', WAVE]] as const)('lstm, 2 layers, tokens, T = 4, %s: the reference, and the default path within tolerance', async (_name, fixed) => {
    const gpu = await engineWith({ fixed });
    await checkSequence(gpu, spec, full);
    const { model, batch } = randomSequenceProblem(spec);
    const options: GradientOptions = { loss: 'cross-entropy', gradNormPerStep: true };
    const got = await gpu.gradients(model, batch, options);
    const want = await (await engineWith('off')).gradients(model, batch, options);
    const flat = (g: SequenceGradients) => Float32Array.from([...g.layers.flatMap((l) => [...l.dWx, ...l.dWh, ...l.dbx!, ...l.dbh!]), ...g.head!.dW, ...g.dh0, ...g.dc0!]);
    expectCloseToCpu('round size against the default GPU path', 'gradients', flat(got), flat(want));
    expectCloseToCpu('round size against the default GPU path', 'gradNormPerStep', got.gradNormPerStep!, want.gradNormPerStep!);
  });
});

describe('trainer steps', () => {
  it.each([
    ['persistent, sgd, chunked, clipped', PERSISTENT, { cell: 'lstm', L: 2, bi: true, T: 5, B: 7, d: 5, h: 9, q: 6, tokens: true, seed: 71 }, { kind: 'sgd', learningRate: 0.5 }, chunked, 0.05],
    ['wavefront, adam, randomized', WAVE, { cell: 'gru', L: 3, bi: false, T: 4, B: 5, d: 4, h: 11, q: 5, seed: 72 }, { kind: 'adam', learningRate: 0.01 }, randomized, undefined],
  ] as const)('%s: three steps equal the CPU engine trainer', async (_name, fixed, spec, optimizer, truncation, clipNorm) => {
    const gpu = await engineWith({ fixed });
    const cpu = await createEngine({ backend: 'cpu' });
    const { model } = randomSequenceProblem(spec);
    const options = { optimizer, loss: 'cross-entropy' as const, truncation, clipNorm };
    const tg = gpu.trainer(model, options);
    const tc = cpu.trainer(model, options);
    for (let i = 0; i < 3; i++) {
      const { batch } = randomSequenceProblem({ ...spec, seed: spec.seed + 100 * i });
      const [a, b] = [await tg.step(batch), await tc.step(batch)];
      expect(a.skipped).toBe(false);
      expectCloseToCpu(`trainer ${_name} step ${i}`, 'loss', [a.loss], [b.loss], { rtol: 2e-3, atolRel: 0 });
      expect(gpu.stats().submits).toBe(1);
    }
    expectCloseToCpu(`trainer ${_name}`, 'parameters', packSequence(await tg.read()), packSequence(await tc.read()));
    tg.dispose();
    tc.dispose();
    cpu.dispose();
  });
});

describe('dispatch counts', () => {
  const spec: SeqSpec = { cell: 'gru', L: 3, bi: false, T: 9, B: 3, d: 4, h: 5, q: 5, seed: 70 };
  // layer by layer: 2LT + L + K*(3 + 2 biases) + (L-1)*dirs + head (3 + 1 + 1) + 2 + dirs (dx)
  const base = (T: number, L: number, K: number, dirs: number) => 2 * L * T + L + K * (3 + 2) + (L - 1) * dirs + (3 + 1 + 1) + 2 + dirs;
  const planned = (T: number, choice: Partial<KernelChoice>) => {
    const { model } = randomSequenceProblem({ ...spec, T });
    const s = planSequence(validateSequenceModel(model), { T, B: spec.B, activation: 'tanh', tokens: false, loss: 'cross-entropy', xi: null }, sequenceLayout(model));
    return sequenceDispatches(withChoice(s, { forwardStep: 'direct', backwardStep: 'direct', matmul: 'tile32', wavefront: false, ...choice }), { dx: true, clip: false });
  };

  it('persistent: one sweep dispatch per layer whatever T (the count no longer grows with T in the sweep)', async () => {
    const gpu = await engineWith({ fixed: PERSISTENT });
    const counts: number[] = [];
    for (const T of [3, 9, 16]) {
      await checkSequence(gpu, { ...spec, T }, full, { gradNormPerStep: false });
      const L = spec.L;
      // L*(T+1) sweep steps become L dispatches
      expect(gpu.stats().dispatches).toBe(base(T, L, L, 1) - L * T);
      expect(planned(T, PERSISTENT)).toBe(gpu.stats().dispatches);
      counts.push(gpu.stats().dispatches);
    }
    // what T adds is the forward's L steps per step only
    expect(counts[1] - counts[0]).toBe(spec.L * 6);
    expect(counts[2] - counts[1]).toBe(spec.L * 7);
  });

  it('persistent forward and backward: 2 recurrence dispatches per layer, T = 3 and T = 16 alike', async () => {
    const gpu = await engineWith({ fixed: { forwardStep: 'persistent', backwardStep: 'persistent' } });
    const counts: number[] = [];
    for (const T of [3, 16]) {
      await checkSequence(gpu, { ...spec, T }, full, { gradNormPerStep: false });
      counts.push(gpu.stats().dispatches);
    }
    expect(counts[0]).toBe(counts[1]);
    expect(counts[0]).toBe(base(3, 3, 3, 1) - (3 * 3 - 3) - 3 * 3); // the forward saves L*T - L, the sweep L*T
  });

  it('backward wavefront: T + L sweep dispatches (T + L - 1 waves and the dh0 tail) and no products dY_{l-1}', async () => {
    const gpu = await engineWith({ fixed: WAVE });
    await checkSequence(gpu, spec, full, { gradNormPerStep: false });
    const { T, L } = spec;
    const expected = base(T, L, L, 1) - L * (T + 1) + (T + L) - (L - 1);
    expect(gpu.stats().dispatches).toBe(expected);
    expect(expected).toBe(62); // layer by layer 82; the sweep's 30 steps and 2 products become 12 waves
    expect(planned(T, WAVE)).toBe(expected);
  });

  it('both wavefronts: 44 dispatches for the gru L = 3, T = 9 that takes 82 layer by layer', async () => {
    const gpu = await engineWith({ fixed: { wavefront: true, backwardWavefront: true } });
    await checkSequence(gpu, spec, full, { gradNormPerStep: false });
    expect(gpu.stats().dispatches).toBe(44); // 82 - (27 - 11) - 2 (forward) - (30 - 12) - 2 (backward)
  });

  it('a bidirectional stack keeps its sweep layer by layer under backwardWavefront', async () => {
    const gpu = await engineWith({ fixed: WAVE });
    await checkSequence(gpu, { ...spec, L: 2, bi: true, T: 4 }, full, { gradNormPerStep: false });
    expect(gpu.stats().dispatches).toBe(base(4, 2, 4, 2));
  });
});

describe('the recording (no GPU): as many dispatches as sequenceDispatches says, for every sweep choice', () => {
  // A stand-in Recorder that counts dispatches by kernel, on a device with SwiftShader's limits.
  function record(spec: SeqSpec, choice: Partial<KernelChoice>, run: { window?: number; dx: boolean; clip: boolean; lengths?: boolean }) {
    const { model } = randomSequenceProblem(spec);
    const lengths = run.lengths ? Int32Array.from({ length: spec.B }, (_, b) => 1 + (b % spec.T)) : null;
    const plan = planSequence(validateSequenceModel(model), { T: spec.T, B: spec.B, activation: spec.activation ?? 'tanh', tokens: !!spec.tokens, loss: spec.q ? 'cross-entropy' : 'none', xi: null, window: run.window, lengths }, sequenceLayout(model));
    const s = withChoice(plan, { ...DEFAULT_CHOICE, ...choice });
    const byKernel: Record<string, number> = {};
    const device = { limits: { maxComputeInvocationsPerWorkgroup: 256, maxComputeWorkgroupStorageSize: 32768 }, features: new Set(), queue: { writeBuffer() {} } };
    const rec = { device, matmulWG: 8, clear() {}, copy() {}, dispatch: (k: { name: string }) => void (byKernel[k.name] = (byKernel[k.name] ?? 0) + 1) } as unknown as Recorder;
    const b = Object.fromEntries(Object.entries(seqBufferSizes(s, run.dx)).map(([k, n]) => [k, n ? ({ size: n * 4 } as GPUBuffer) : null])) as never;
    recordSequenceForward(rec, s, b);
    recordSequenceHead(rec, s, b);
    recordSequenceBackward(rec, s, b, { perStepNorms: true, dx: run.dx, clipNorm: run.clip ? 1 : 0, applyClip: true, countStep: false });
    const total = Object.values(byKernel).reduce((a, n) => a + n, 0);
    return { total, planned: sequenceDispatches(s, { dx: run.dx, clip: run.clip }), byKernel };
  }
  const CHOICES: Array<Partial<KernelChoice>> = [{}, PERSISTENT, WAVE, WAVE_LANES, { forwardStep: 'persistent', backwardStep: 'persistent' }, { wavefront: true, backwardStep: 'persistent' }];
  it('every cell, 1-3 layers, both directions, dx, clipping, lengths and window', () => {
    let n = 0;
    for (const cell of ['rnn', 'gru', 'lstm'] as const) {
      for (const L of [1, 2, 3]) {
        for (const bi of [false, true]) {
          const spec: SeqSpec = { cell, L, bi, T: 5, B: 3, d: 4, h: 6, q: L === 2 ? 0 : 5, tokens: L === 3, seed: 1 };
          for (const choice of CHOICES) {
            for (const run of [{ dx: !spec.tokens, clip: false }, { dx: false, clip: true, lengths: true }, ...(bi ? [] : [{ dx: false, clip: false, window: 2 }])]) {
              const { total, planned, byKernel } = record(spec, choice, run);
              expect(total, `${cell} L=${L} ${bi ? 'bi' : 'uni'} ${JSON.stringify(choice)} ${JSON.stringify(run)}: ${JSON.stringify(byKernel)}`).toBe(planned);
              const sweep = byKernel.cell_backward_sweep ?? 0;
              if (run.window) expect(sweep).toBe(0);
              else if (choice.backwardStep === 'persistent') expect(sweep).toBe(L);
              else if (choice.backwardWavefront && L > 1 && !bi) expect(sweep).toBe(5 + L);
              else expect(sweep).toBe(0);
              n++;
            }
          }
        }
      }
    }
    expect(n).toBe(3 * 3 * (3 * 6 + 2 * 6)); // (every shape, both directions' runs)
  });
});

describe('bit-identical run after run', () => {
  it.each([['persistent', PERSISTENT], ['wavefront', WAVE_LANES]] as const)('%s', async (_name, fixed) => {
    const gpu = await engineWith({ fixed });
    const { model, batch } = randomSequenceProblem({ cell: 'lstm', L: 3, bi: false, T: 6, B: 5, d: 4, h: 12, q: 4, seed: 99 });
    const options: GradientOptions = { loss: 'cross-entropy', gradNormPerStep: true, truncation: randomized };
    const flat = (g: SequenceGradients) => [...g.layers.flatMap((l) => [...l.dWx, ...l.dWh, ...l.dbx!, ...l.dbh!]), ...g.head!.dW, ...g.dh0, ...g.dc0!, ...g.gradNormPerStep!, g.loss, g.gradNorm];
    const a = flat(await gpu.gradients(model, batch, options));
    const b = flat(await gpu.gradients(model, batch, options));
    expect(b).toEqual(a);
  });
});

describe('the persistent sweep where the workgroup memory does not fit', () => {
  // lstm B = 64, h = 32: 4*(4+1)*64*32 = 40 KiB of dGh and carry, beyond SwiftShader's 32 KiB (and WebGPU's default 16 KiB)
  const big: SeqSpec = { cell: 'lstm', L: 1, bi: false, T: 2, B: 64, d: 3, h: 32, q: 3, seed: 80 };
  it('forced: refused before any work, naming options.tuning.fixed.backwardStep; the engine stays usable', async () => {
    const gpu = await engineWith({ fixed: PERSISTENT });
    const { model, batch } = randomSequenceProblem(big);
    expect(persistentBackwardBytes(gpu.device!, { B: 64, h: 32, G: 4 })).toBeGreaterThan(gpu.device!.limits.maxComputeWorkgroupStorageSize);
    const call = gpu.gradients(model, batch, { loss: 'cross-entropy' });
    await expect(call).rejects.toThrow(BpttInputError);
    await expect(call).rejects.toMatchObject({ argument: 'options.tuning.fixed.backwardStep' });
    await expect(call).rejects.toThrow(/workgroup memory/);
    expect(gpu.stats().dispatches).toBe(0);
    await checkSequence(gpu, { ...big, B: 3, h: 9 }, full);
  });
  it('window truncation runs on its own kernel there: not refused', async () => {
    const gpu = await engineWith({ fixed: PERSISTENT });
    await checkSequence(gpu, { ...big, B: 40, seed: 81 }, { kind: 'window', steps: 1 });
  });
  it('unfitReason names the bytes needed and allowed; a fitting shape has none', async () => {
    const gpu = await engineWith('off');
    const { model } = randomSequenceProblem(big);
    const s = planSequence(validateSequenceModel(model), { T: 2, B: 64, activation: 'tanh', tokens: false, loss: 'cross-entropy', xi: null }, sequenceLayout(model));
    const choice: KernelChoice = { forwardStep: 'direct', backwardStep: 'persistent', matmul: 'tile32', wavefront: false };
    expect(unfitReason(gpu.device!, s, choice)).toMatchObject({ argument: 'backwardStep', reason: expect.stringMatching(/needs \d+ bytes of workgroup memory .* allows \d+/) });
    expect(unfitReason(gpu.device!, { ...s, B: 3 }, choice)).toBeNull();
  });
  it('lanes per output fill the workgroup where B*h is small', () => {
    expect(persistentBackwardLanes(256, { B: 35, h: 33 })).toBe(1);
    expect(persistentBackwardLanes(256, { B: 3, h: 5 })).toBe(16);
    expect(persistentBackwardLanes(256, { B: 4, h: 16 })).toBe(4);
  });
});

describe('the tuner', () => {
  it('measures the persistent sweep and the backward wavefront where they apply, picks a valid choice, and the call equals the reference', async () => {
    const tiny: SeqSpec = { cell: 'gru', L: 2, bi: false, T: 3, B: 2, d: 3, h: 4, q: 3, seed: 91 };
    const key = shapeClass({ cell: 'gru', activation: 'tanh', L: 2, dirs: 1, B: 2, h: 4 });
    const rest = { forwardStep: 'direct', matmul: 'tile32', wavefront: false, finalize: 'single' } as const;
    // the backward steps (persistent among them) with the wavefront fixed off; then the wavefront with the step fixed
    const steps = await engineWith({ mode: 'lazy', budgetMs: 60_000, fixed: { ...rest, backwardWavefront: false } });
    await checkSequence(steps, tiny, full, { gradNormPerStep: true });
    const a = steps.tuning().classes[key];
    expect(Object.keys(a.measured ?? {}).some((n) => n.includes('backward persistent'))).toBe(true);
    expect(BACKWARD_STEP_VARIANTS).toContain(a.backwardStep);
    const wave = await engineWith({ mode: 'lazy', budgetMs: 60_000, fixed: { ...rest, backwardStep: 'direct' } });
    await checkSequence(wave, tiny, full, { gradNormPerStep: true });
    const b = wave.tuning().classes[key];
    expect(Object.keys(b.measured ?? {})).toEqual(['forward direct, backward direct, matmul tile32', 'forward direct, backward direct, matmul tile32, backward wavefront']);
    expect([true, false]).toContain(b.backwardWavefront);
  });
  it('a table naming them is used as given, and one from before backwardWavefront existed still loads', async () => {
    const spec: SeqSpec = { cell: 'lstm', L: 2, bi: false, T: 6, B: 5, d: 4, h: 12, q: 4, seed: 90 };
    const key = shapeClass({ cell: 'lstm', activation: 'tanh', L: 2, dirs: 1, B: 5, h: 12 });
    const wave: KernelChoice = { forwardStep: 'direct', backwardStep: 'direct', matmul: 'tile32', wavefront: false, backwardWavefront: true };
    const gpu = await engineWith({ mode: 'lazy', table: { adapter: 'elsewhere', classes: { [key]: wave } } });
    await checkSequence(gpu, spec, full);
    expect(gpu.stats().tuningRuns).toBe(0);
    expect(gpu.stats().dispatches).toBe(45 - (2 * 7 - 8) - 1); // 45 layer by layer; L*(T+1) sweep steps become T + L waves, and one product goes
    const old = await engineWith({ mode: 'lazy', table: { adapter: 'elsewhere', classes: { [key]: { forwardStep: 'direct', backwardStep: 'persistent', matmul: 'tile32', wavefront: false } } } });
    await checkSequence(old, spec, full);
    expect(old.stats().tuningRuns).toBe(0);
  });
  it('bad values are refused naming the field', async () => {
    for (const [tuning, argument] of [
      [{ fixed: { backwardWavefront: 'yes' } }, 'options.tuning.fixed.backwardWavefront'],
      [{ fixed: { backwardStep: 'persistant' } }, 'options.tuning.fixed.backwardStep'],
    ] as const) {
      const call = createEngine({ backend: 'webgpu', tuning: tuning as never });
      await expect(call).rejects.toMatchObject({ argument });
    }
  });
});

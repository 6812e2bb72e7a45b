// Every kernel variant of the SequenceModel path (src/gpu/variants.ts), chosen
// explicitly, against the float64 reference on the GPU tables (odd and round
// sizes, every truncation); the dispatch counts of the persistent and
// wavefront forwards; the persistent variant refused where the adapter's
// limits do not fit it; and the tuner (src/gpu/tuning.ts): a valid pick,
// within its time bound, a table passed back used as given, bit-identical
// reruns, bad tuning input refused naming options.tuning....
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../src/index.js';
import type { GradientOptions, SequenceGradients } from '../src/types.js';
import { type KernelChoice, BACKWARD_STEP_VARIANTS, DEFAULT_CHOICE, FORWARD_STEP_VARIANTS, MATMUL_VARIANTS } from '../src/tuning-types.js';
import { BpttInputError } from '../src/errors.js';
import { sequenceLayout } from '../src/sequence-params.js';
import { validateSequenceModel } from '../src/validate-sequence.js';
import { planSequence, sequenceDispatches } from '../src/gpu/sequence-encode.js';
import { SPLITK_MAX_BH, backwardStepKernel, forwardSplits, forwardStepGroups, shapeClass, unfitReason, withChoice } from '../src/gpu/variants.js';
import { printWorst, sharedDeviceEngines } from './gpu-setup.js';
import { randomSequenceProblem, type SeqSpec } from './sequence-reference.js';
import { COVERING_TABLE, WINDOW_ROWS, checkSequence, chunked, full } from './gpu-sequence-cases.js';

// Every engine here shares one device (and so its pipeline cache: SwiftShader
// compiles slowly); the first one owns it, with the 'subgroups' feature and
// the adapter's workgroup limits that createEngine asks for.
const engineWith = sharedDeviceEngines(() => printWorst('gpu-variants.test.ts'));

// Each kernel's every variant but the default appears in one set; the wavefront rides with the
// subgroup set (it applies to the table's unidirectional stacks) and runs alone
// with the direct step in the dispatch-count tests below.
const SETS: Array<[string, Partial<KernelChoice>]> = [
  ['direct / direct', { forwardStep: 'direct', backwardStep: 'direct' }], // the defaults before tile4 (the defaults run in gpu-sequence*.test.ts)
  ['lanes4 / lanes4 / tile16', { forwardStep: 'lanes4', backwardStep: 'lanes4', matmul: 'tile16' }],
  ['lanes16 / lanes16 / tile64', { forwardStep: 'lanes16', backwardStep: 'lanes16', matmul: 'tile64' }], // LANES is an override of the same code: one row per cell below
  ['subgroup4 + wavefront + tile32pad', { forwardStep: 'subgroup4', wavefront: true, matmul: 'tile32pad' }],
  ['persistent', { forwardStep: 'persistent' }],
  ['splitk', { forwardStep: 'splitk' }], // the recurrent product split along k (grid z), then a fixed-order reduce that finishes the cell
  ['finalize multi', { finalize: 'multi' }], // finalize_parts over 2-64 workgroups, then finalize over their partials
];

const tableName = (row: (typeof COVERING_TABLE)[number]) => `${row[0].cell} L=${row[0].L} ${row[0].bi ? 'bi' : 'uni'} ${row[1].kind}${row[0].q ? '' : ' dY'}${row[0].tokens ? ' tokens' : ''}`;

for (const [name, fixed] of SETS) {
  describe(`variant ${name}: equals the reference on the covering table (h = 33, B = 35)`, () => {
    let gpu: Engine;
    const rows = COVERING_TABLE.map((row, i) => [i, tableName(row)] as const).filter(([i]) => !name.startsWith('lanes16') || i % 4 === 1);
    it.each(rows)('%i: %s', async (i) => {
      gpu ??= await engineWith({ fixed });
      const [spec, truncation, extra] = COVERING_TABLE[i];
      await checkSequence(gpu, spec, truncation, extra);
    });
    it('sequences of different lengths', async () => {
      gpu ??= await engineWith({ fixed });
      await checkSequence(gpu, { cell: 'lstm', L: 2, bi: false, T: 6, B: 4, d: 3, h: 9, q: 4, states: true, seed: 95 }, full, {}, Int32Array.from([6, 2, 4, 1]));
      await checkSequence(gpu, { cell: 'gru', L: 1, bi: true, T: 5, B: 3, d: 3, h: 7, q: 0, seed: 96 }, chunked, {}, Int32Array.from([1, 5, 3]));
    });
    it('window(tau) rows', async () => {
      gpu ??= await engineWith({ fixed });
      for (const [spec, tau, extra] of WINDOW_ROWS.slice(0, 3)) await checkSequence(gpu, spec, { kind: 'window', steps: tau }, extra);
    });
    it("engine.forward runs the same variant: its loss and hT are the gradient call's, bit for bit", async () => {
      gpu ??= await engineWith({ fixed });
      const specs: SeqSpec[] = [
        { cell: 'lstm', L: 2, bi: false, T: 5, B: 35, d: 7, h: 33, q: 9, seed: 97 }, // a unidirectional stack: the wavefront's case
        { cell: 'gru', L: 1, bi: true, T: 4, B: 5, d: 3, h: 7, q: 4, tokens: true, seed: 98 },
      ];
      for (const spec of specs) {
        const { model, batch } = randomSequenceProblem(spec);
        const g = await gpu.gradients(model, batch, { loss: 'cross-entropy' });
        const f = await gpu.forward(model, batch);
        expect(f.loss, `${spec.cell} loss`).toBe(g.loss);
        expect(f.hT, `${spec.cell} hT`).toEqual(g.hT);
      }
    });
  });
}

describe("the benchmark's shape (B = 32, h = 256)", () => {
  it('lanes and subgroup variants launch >= 128 workgroups per step, forward and backward', () => {
    const { model } = randomSequenceProblem({ cell: 'lstm', L: 1, bi: false, T: 2, B: 32, d: 28, h: 256, q: 28, tokens: true });
    const s = planSequence(validateSequenceModel(model), { T: 35, B: 32, activation: 'tanh', tokens: true, loss: 'cross-entropy', xi: null }, sequenceLayout(model));
    const pick = (c: Partial<KernelChoice>) => withChoice(s, { forwardStep: 'direct', backwardStep: 'direct', matmul: 'tile32', wavefront: false, ...c });
    for (const backwardStep of ['lanes4', 'lanes16'] as const) expect(backwardStepKernel(pick({ backwardStep })).groups).toBeGreaterThanOrEqual(128);
    for (const forwardStep of ['lanes4', 'lanes16', 'subgroup4'] as const) expect(forwardStepGroups(pick({ forwardStep }))).toBeGreaterThanOrEqual(128);
    expect(forwardStepGroups(pick({ forwardStep: 'lanes4' }))).toBe(512);
    expect(backwardStepKernel(pick({ backwardStep: 'lanes16' })).groups).toBe(2048);
    expect(forwardStepGroups(pick({ forwardStep: 'persistent' }))).toBe(1);
    // splitk: the one-pass step's 128 workgroups times S = 4 blocks of 64 terms of k
    expect(forwardSplits(s)).toBe(4);
    expect(forwardStepGroups(pick({ forwardStep: 'splitk' }))).toBe(512);
    expect(s.B * s.h).toBeLessThanOrEqual(SPLITK_MAX_BH); // a tuner candidate here
  });

  it("tile4 (the default): 16 outputs per invocation; the norm partials per step are its workgroups", () => {
    const { model } = randomSequenceProblem({ cell: 'lstm', L: 1, bi: false, T: 2, B: 32, d: 28, h: 256, q: 28, tokens: true });
    const dims = validateSequenceModel(model);
    const s = planSequence(dims, { T: 35, B: 32, activation: 'tanh', tokens: true, loss: 'cross-entropy', xi: null }, sequenceLayout(model));
    expect(forwardStepGroups(s)).toBe(32); // (32/4 row quads) * 256 units / 64: each invocation 4 rows x 1 unit x 4 gates
    expect(backwardStepKernel(s).groups).toBe(8); // 8 row quads * 64 column quads / 64
    expect(s.stepParts).toBe(8);
    expect(withChoice(s, { ...DEFAULT_CHOICE, backwardStep: 'direct' }).stepParts).toBe(128);
    // rnn: 4 units per invocation; sizes that are not multiples of 4 round up
    const odd = planSequence({ ...dims, cell: 'rnn', G: 1, h: 7 }, { T: 3, B: 5, activation: 'tanh', tokens: true, loss: 'cross-entropy', xi: null }, sequenceLayout(model));
    expect(forwardStepGroups(odd)).toBe(1);
    expect(odd.stepParts).toBe(1);
    // under the forward wavefront (cell_forward_lanes) and the backward one (cell_backward_sweep) tile4 runs as one lane per output
    const two = randomSequenceProblem({ cell: 'lstm', L: 2, bi: false, T: 2, B: 32, d: 28, h: 256, q: 28, tokens: true }).model;
    const s2 = planSequence(validateSequenceModel(two), { T: 35, B: 32, activation: 'tanh', tokens: true, loss: 'cross-entropy', xi: null }, sequenceLayout(two));
    expect(forwardStepGroups(withChoice(s2, { ...DEFAULT_CHOICE, wavefront: true }))).toBe(128);
    expect(withChoice(s2, { ...DEFAULT_CHOICE, backwardWavefront: true }).stepParts).toBe(128);
    expect(s2.stepParts).toBe(8);
  });
});

// Round sizes (the benchmark's own h = 256, B = 32 takes minutes with these
// barrier-heavy kernels on SwiftShader's two cores; its workgroup counts are asserted above).
describe('round sizes (h = 64, B = 16)', () => {
  for (const fixed of [{ forwardStep: 'lanes16', backwardStep: 'lanes4', matmul: 'tile16' }, { forwardStep: 'subgroup4', backwardStep: 'lanes16', wavefront: true }] as const) {
    it(`lstm, 2 layers, tokens, T = 4 with ${JSON.stringify(fixed)}`, async () => {
      const gpu = await engineWith({ fixed });
      await checkSequence(gpu, { cell: 'lstm', L: 2, bi: false, T: 4, B: 16, d: 28, h: 64, q: 28, tokens: true, seed: 51 }, full);
    });
  }
});

describe('the subgroup kernel is the lanes kernel but for its reduction', () => {
  it('cell_forward_subgroup.wgsl equals cell_forward_lanes.wgsl outside the header and the BEGIN/END lane reduction', () => {
    const strip = (file: string) => {
      const text = readFileSync(new URL(`../kernels/${file}`, import.meta.url), 'utf8');
      const body = text.slice(text.indexOf('struct Params'));
      return body.replace(/\/\/ BEGIN lane reduction[\s\S]*?\/\/ END lane reduction\n/, '').replace(/var<workgroup> red[HX].*\n/g, '');
    };
    expect(strip('cell_forward_subgroup.wgsl')).toBe(strip('cell_forward_lanes.wgsl'));
  });
});

describe('dispatch counts: persistent, wavefront, splitk, finalize multi', () => {
  // budgetMs 0: the kernels not fixed keep their defaults (a lazy tuner could pick a sweep variant, which changes the count)
  const spec: SeqSpec = { cell: 'gru', L: 3, bi: false, T: 9, B: 3, d: 4, h: 5, q: 5, seed: 70 };
  const base = (T: number, L: number, K: number, dirs: number) => 2 * L * T + L + K * (3 + 2) + (L - 1) * dirs + (3 + 1 + 1) + 2 + dirs;
  it('wavefront: T + L - 1 forward step dispatches and one input projection, instead of L*T and K', async () => {
    const gpu = await engineWith({ fixed: { wavefront: true }, budgetMs: 0 });
    await checkSequence(gpu, spec, full, { gradNormPerStep: false });
    const { T, L } = spec;
    const expected = base(T, L, L, 1) - L * T + (T + L - 1) - (L - 1);
    expect(gpu.stats().dispatches).toBe(expected);
    expect(expected).toBe(64); // layer by layer 82 = 2*3*9 + 3 + 3*5 + 2 + 5 + 2 + 1; here 82 - 27 + (9 + 3 - 1) - 2
    const { model } = randomSequenceProblem(spec);
    const s = withChoice(planSequence(validateSequenceModel(model), { T, B: 3, activation: 'tanh', tokens: false, loss: 'cross-entropy', xi: null }, sequenceLayout(model)), { forwardStep: 'direct', backwardStep: 'direct', matmul: 'tile32', wavefront: true });
    expect(sequenceDispatches(s, { dx: true, clip: false })).toBe(expected);
  });
  it('persistent: one forward dispatch per layer, whatever T', async () => {
    const gpu = await engineWith({ fixed: { forwardStep: 'persistent' }, budgetMs: 0 });
    for (const T of [3, 9]) {
      await checkSequence(gpu, { ...spec, T }, full, { gradNormPerStep: false });
      expect(gpu.stats().dispatches).toBe(base(T, 3, 3, 1) - 3 * T + 3);
    }
  });
  it("finalize 'multi': one dispatch more (finalize_parts before finalize)", async () => {
    const gpu = await engineWith({ fixed: { finalize: 'multi' }, budgetMs: 0 });
    await checkSequence(gpu, spec, full, { gradNormPerStep: false });
    const { T, L } = spec;
    expect(gpu.stats().dispatches).toBe(base(T, L, L, 1) + 1);
    const { model } = randomSequenceProblem(spec);
    const s = withChoice(planSequence(validateSequenceModel(model), { T, B: 3, activation: 'tanh', tokens: false, loss: 'cross-entropy', xi: null }, sequenceLayout(model)), { ...DEFAULT_CHOICE, finalize: 'multi' });
    expect(sequenceDispatches(s, { dx: true, clip: false })).toBe(base(T, L, L, 1) + 1);
  });
  it('splitk: two dispatches per forward step (the partial sums, then the reduce)', async () => {
    const gpu = await engineWith({ fixed: { forwardStep: 'splitk' }, budgetMs: 0 });
    await checkSequence(gpu, spec, full, { gradNormPerStep: false });
    const { T, L } = spec;
    expect(gpu.stats().dispatches).toBe(base(T, L, L, 1) + L * T);
    const { model } = randomSequenceProblem(spec);
    const s = withChoice(planSequence(validateSequenceModel(model), { T, B: 3, activation: 'tanh', tokens: false, loss: 'cross-entropy', xi: null }, sequenceLayout(model)), { ...DEFAULT_CHOICE, forwardStep: 'splitk' });
    expect(sequenceDispatches(s, { dx: true, clip: false })).toBe(base(T, L, L, 1) + L * T);
    // the S partials are added in a fixed order (no atomics): bit-identical run after run
    const { batch } = randomSequenceProblem(spec);
    const a = await gpu.gradients(model, batch, { loss: 'cross-entropy' });
    const b = await gpu.gradients(model, batch, { loss: 'cross-entropy' });
    expect([...b.layers.flatMap((l) => [...l.dWh, ...l.dWx]), b.loss]).toEqual([...a.layers.flatMap((l) => [...l.dWh, ...l.dWx]), a.loss]);
  });
  it('a bidirectional stack keeps layer by layer (the wavefront needs one direction)', async () => {
    const gpu = await engineWith({ fixed: { wavefront: true }, budgetMs: 0 });
    await checkSequence(gpu, { ...spec, L: 2, bi: true, T: 4 }, full, { gradNormPerStep: false });
    expect(gpu.stats().dispatches).toBe(base(4, 2, 4, 2));
  });
});

describe('the persistent variant where the limits do not fit', () => {
  const big: SeqSpec = { cell: 'rnn', L: 1, bi: false, T: 2, B: 64, d: 3, h: 128, q: 3, seed: 80 }; // B*h*4 = 32 KiB of h_prev
  it('forced: refused before any work, naming options.tuning.fixed.forwardStep; the engine stays usable', async () => {
    const gpu = await engineWith({ fixed: { forwardStep: 'persistent' } });
    const { model, batch } = randomSequenceProblem(big);
    const call = gpu.gradients(model, batch, { loss: 'cross-entropy' });
    await expect(call).rejects.toThrow(BpttInputError);
    await expect(call).rejects.toMatchObject({ argument: 'options.tuning.fixed.forwardStep' });
    await expect(call).rejects.toThrow(/workgroup memory/);
    await checkSequence(gpu, { ...big, B: 3, h: 9 }, full);
  });
  it('tuned: never a candidate there (unfitReason names the bytes needed and allowed)', async () => {
    const gpu = await engineWith('off');
    const { model } = randomSequenceProblem(big);
    const s = planSequence(validateSequenceModel(model), { T: 2, B: 64, activation: 'tanh', tokens: false, loss: 'cross-entropy', xi: null }, sequenceLayout(model));
    const why = unfitReason(gpu.device!, s, { forwardStep: 'persistent', backwardStep: 'direct', matmul: 'tile32', wavefront: false });
    expect(why?.reason).toMatch(/needs \d+ bytes of workgroup memory .* allows \d+/);
    expect(unfitReason(gpu.device!, { ...s, B: 3 }, { forwardStep: 'persistent', backwardStep: 'direct', matmul: 'tile32', wavefront: false })).toBeNull();
  });
});

describe('the tuner', () => {
  const spec: SeqSpec = { cell: 'lstm', L: 2, bi: false, T: 6, B: 5, d: 4, h: 12, q: 4, seed: 90 };
  const options: GradientOptions = { loss: 'cross-entropy', gradNormPerStep: true };
  const classOf = (sp: SeqSpec) => shapeClass({ cell: sp.cell, activation: 'tanh', L: sp.L, dirs: sp.bi ? 2 : 1, B: sp.B, h: sp.h });

  it('picks a valid variant for the class, within its bound, reports its time in stats(), and the results equal the reference', async () => {
    const budgetMs = 10_000;
    const tiny: SeqSpec = { cell: 'gru', L: 2, bi: false, T: 3, B: 2, d: 3, h: 4, q: 3, seed: 91 };
    // the defaults' pipelines compiled first (the engines share a device and so its pipeline cache), so
    // that on a loaded SwiftShader the budget is not all spent compiling before anything is timed
    await checkSequence(await engineWith('off'), tiny, full, options);
    const gpu = await engineWith({ mode: 'lazy', budgetMs });
    await checkSequence(gpu, tiny, full, options);
    const entry = gpu.tuning().classes[classOf(tiny)];
    expect(entry).toBeDefined();
    expect(FORWARD_STEP_VARIANTS).toContain(entry.forwardStep);
    expect(BACKWARD_STEP_VARIANTS).toContain(entry.backwardStep);
    expect(MATMUL_VARIANTS).toContain(entry.matmul);
    const measured = Object.values(entry.measured ?? {});
    expect(measured.length).toBeGreaterThan(0);
    const stats = gpu.stats();
    expect(stats.tuningRuns).toBeGreaterThanOrEqual(3 * measured.length); // a warm-up and two timed runs each (+ runs of a candidate cut short)
    // the bound: no run starts after budgetMs, so the class took at most budgetMs + its longest run
    expect(stats.tuningMs).toBeGreaterThan(0);
    expect(entry.spentMs!).toBeLessThanOrEqual(budgetMs + entry.longestRunMs! + 50);
    expect(stats.tuningMs!).toBeGreaterThanOrEqual(entry.spentMs!);
    expect(stats.tuningMs!).toBeLessThan(entry.spentMs! + 50);
    // a second call of the same class measures nothing more
    await checkSequence(gpu, { ...tiny, T: 5, seed: 92 }, full, options); // the same class: T is not part of it
    expect(gpu.stats().tuningRuns).toBe(stats.tuningRuns);
  });

  it("tries splitk (where B*h <= SPLITK_MAX_BH) and finalize 'multi' among its candidates", async () => {
    const tiny: SeqSpec = { cell: 'gru', L: 1, bi: true, T: 3, B: 3, d: 3, h: 5, q: 3, seed: 93 };
    // the forward step and finalize left free, so that the budget reaches finalize (tuned last)
    const gpu = await engineWith({ mode: 'lazy', budgetMs: 20_000, fixed: { backwardStep: 'tile4', matmul: 'tile32' } });
    await checkSequence(gpu, tiny, full, options);
    const entry = gpu.tuning().classes[classOf(tiny)];
    const names = Object.keys(entry.measured ?? {});
    expect(names.some((n) => n.startsWith('forward splitk,')), names.join('; ')).toBe(true);
    expect(names.some((n) => n.endsWith('finalize multi')), names.join('; ')).toBe(true);
    expect(['single', 'multi', undefined]).toContain(entry.finalize);
  });

  it('a budget of 0 measures nothing and keeps the defaults', async () => {
    const gpu = await engineWith({ budgetMs: 0 });
    await checkSequence(gpu, spec, full, options);
    expect(gpu.stats().tuningRuns).toBe(0);
    expect(gpu.tuning().classes[classOf(spec)]).toMatchObject(DEFAULT_CHOICE);
  });

  it('a table passed back is used as given (no measuring; its persistent choice shows in the dispatch count)', async () => {
    const key = classOf(spec);
    const choice: KernelChoice = { forwardStep: 'persistent', backwardStep: 'lanes16', matmul: 'tile16', wavefront: false };
    const gpu = await engineWith({ mode: 'lazy', table: { adapter: 'elsewhere', classes: { [key]: choice } } });
    await checkSequence(gpu, spec, full, options);
    expect(gpu.stats().tuningRuns).toBe(0);
    expect(gpu.tuning().classes[key]).toEqual(choice);
    const { T, L } = spec;
    expect(gpu.stats().dispatches).toBe(2 * L * T + L + L * 5 + (L - 1) + 5 + 2 + 1 - (L * T - L));
  });

  it("engine.tune tunes up front in 'manual' mode; a lazy engine's table reused by a new engine gives bit-identical results", async () => {
    const gpu = await engineWith({ mode: 'manual', budgetMs: 800 });
    const { model, batch } = randomSequenceProblem(spec);
    await gpu.gradients(model, batch, options);
    expect(gpu.stats().tuningRuns).toBe(0); // manual: calls never tune
    const choice = await gpu.tune(model, batch, options);
    expect(gpu.tuning().classes[classOf(spec)]).toMatchObject(choice);
    const a = await gpu.gradients(model, batch, options);
    const b = await gpu.gradients(model, batch, options);
    const again = await engineWith({ mode: 'manual', table: gpu.tuning() });
    const c = await again.gradients(model, batch, options);
    const flat = (g: SequenceGradients) => [...g.layers.flatMap((l) => [...l.dWx, ...l.dWh, ...l.dbx!, ...l.dbh!]), ...g.head!.dW, ...g.dh0, ...g.gradNormPerStep!, g.loss, g.gradNorm];
    expect(flat(b)).toEqual(flat(a));
    expect(flat(c)).toEqual(flat(a));
  });

  it("'off' and the default on a software adapter measure nothing", async () => {
    for (const tuning of ['off', undefined] as const) {
      const gpu = await engineWith(tuning);
      await checkSequence(gpu, spec, full, options);
      expect(gpu.stats().tuningRuns).toBe(0);
      if (gpu.adapter?.isFallbackAdapter || tuning === 'off') expect(gpu.tuning().classes).toEqual({});
    }
  });

  it('bad tuning input is refused by createEngine, naming options.tuning...', async () => {
    const bad: Array<[unknown, string]> = [
      ['fast', 'options.tuning'],
      [{ mode: 'eager' }, 'options.tuning.mode'],
      [{ budgetMs: -1 }, 'options.tuning.budgetMs'],
      [{ budgetMs: Number.NaN }, 'options.tuning.budgetMs'],
      [{ fixed: { forwardStep: 'warp' } }, 'options.tuning.fixed.forwardStep'],
      [{ fixed: { tiles: 'tile16' } }, 'options.tuning.fixed.tiles'],
      [{ fixed: { wavefront: 'yes' } }, 'options.tuning.fixed.wavefront'],
      [{ table: { adapter: 'x', classes: { k: { forwardStep: 'direct' } } } }, 'options.tuning.table.classes["k"].backwardStep'],
      [{ table: [] }, 'options.tuning.table'],
      [{ budget: 5 }, 'options.tuning.budget'],
    ];
    for (const [tuning, argument] of bad) {
      const call = createEngine({ backend: 'webgpu', tuning: tuning as never });
      await expect(call, JSON.stringify(tuning)).rejects.toThrow(BpttInputError);
      await expect(call).rejects.toMatchObject({ argument });
    }
  });
});

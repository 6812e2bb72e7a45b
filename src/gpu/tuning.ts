// Tuning on the user's adapter: for each shape class a call meets, time the
// kernel variants that can run there (whole command buffers, submit to
// completion, by wall clock), keep the fastest for the engine's life, and
// offer the table for reuse (engine.tuning(), createEngine({ tuning: { table } })).
//
// How: greedy over the kernels, forward step, backward step (the persistent
// sweep among them), matmul, then the wavefront and the backward wavefront, then finalize
// (unidirectional stacks); each candidate is a whole gradient call (forward,
// loss, reverse sweep, weight gradients) at the call's B and h and min(T, 4)
// steps on zeros, run once to compile and warm up and then twice, the faster run
// counting. The default of each kernel is measured first and a candidate
// replaces it only when faster. No run starts once budgetMs (default 500) has
// passed for the class (a candidate cut short is dropped), so a class takes
// at most budgetMs plus one run (the table records both: spentMs,
// longestRunMs). The choice then is fixed: results are bit-identical run
// after run (no kernel uses atomics).
import { BpttInputError } from '../errors.js';
import type { Batch } from '../types.js';
import { type KernelChoice, type TuningOption, type TuningTable, BACKWARD_STEP_VARIANTS, DEFAULT_CHOICE, FORWARD_STEP_VARIANTS, MATMUL_VARIANTS } from '../tuning-types.js';
import { DEFAULT_RNN_CHOICE, FINALIZE_VARIANTS, RNN_BACKWARD_STEP_VARIANTS, RNN_FORWARD_STEP_VARIANTS, WINDOW_STEP_VARIANTS } from '../tuning-types.js';
import type { GpuContext } from './context.js';
import { acquireSequenceBuffers, releaseSequenceBuffers, uploadSequenceBatch } from './sequence-gradients.js';
import { type SeqShape, recordSequenceBackward, recordSequenceForward, recordSequenceHead, seqBufferSizes, sequenceDispatches } from './sequence-encode.js';
import { SPLITK_MAX_BH, assertFits, shapeClass, unfitReason, withChoice } from './variants.js';
import { assertRnnFits, unfitRnnReason, vanillaClass } from './chapter-kernels.js';

export const DEFAULT_BUDGET_MS = 500;
const TUNE_STEPS = 4;
/**
 * A vanilla candidate replaces the choice so far only when at least 5% faster:
 * its runs are short (min(T, 4) steps), and on a loaded machine their noise
 * alone made the tuner pick variants that a side-by-side run showed 1.2x slower.
 */
const VANILLA_MARGIN = 0.95;

export interface ResolvedTuning {
  mode: 'off' | 'lazy' | 'manual';
  budgetMs: number;
  fixed: Partial<KernelChoice>;
  table: TuningTable | null;
}

/** The engine's tuning option on an adapter: 'auto' tunes lazily on hardware, not on a software adapter. */
export function resolveTuning(option: TuningOption | undefined, softwareAdapter: boolean): ResolvedTuning {
  if (option === undefined || option === 'auto') return { mode: softwareAdapter ? 'off' : 'lazy', budgetMs: DEFAULT_BUDGET_MS, fixed: {}, table: null };
  if (option === 'off') return { mode: 'off', budgetMs: 0, fixed: {}, table: null };
  return { mode: option.mode ?? 'lazy', budgetMs: option.budgetMs ?? DEFAULT_BUDGET_MS, fixed: option.fixed ?? {}, table: option.table ?? null };
}

export class Tuner {
  private readonly classes = new Map<string, TuningTable['classes'][string]>();
  /** Wall-clock ms spent measuring, over the engine's life. */
  milliseconds = 0;
  /** Candidate calls measured, over the engine's life. */
  measurements = 0;
  private inBudget = () => true;
  private longestRunMs = 0;

  constructor(
    private readonly ctx: GpuContext,
    readonly options: ResolvedTuning,
    private readonly adapter: string,
  ) {
    for (const [key, c] of Object.entries(options.table?.classes ?? {})) this.classes.set(key, { ...c });
  }

  table(): TuningTable {
    const classes: TuningTable['classes'] = {};
    for (const [key, c] of this.classes) classes[key] = { ...c, ...(c.measured ? { measured: { ...c.measured } } : {}) };
    return { adapter: this.adapter, classes };
  }

  /** s with the variants to run it with: fixed, from the table, tuned now (lazy), or the defaults. */
  async choose(s: SeqShape, tuneNow = this.options.mode === 'lazy'): Promise<SeqShape> {
    if (s.chapter) return this.chooseVanilla(s, tuneNow);
    const key = shapeClass(s);
    const fixed = this.options.fixed;
    const known = this.classes.get(key);
    let choice: KernelChoice;
    let argument = 'options.tuning.fixed';
    if (known) {
      choice = { forwardStep: known.forwardStep, backwardStep: known.backwardStep, matmul: known.matmul, wavefront: known.wavefront, backwardWavefront: known.backwardWavefront ?? false, ...(known.finalize ? { finalize: known.finalize } : {}), ...fixed };
      argument = `options.tuning.table.classes[${JSON.stringify(key)}]`;
    } else if (tuneNow && this.options.mode !== 'off' && SEQUENCE_KERNELS.some((k) => fixed[k] === undefined)) {
      assertFits(this.ctx.device, s, { ...DEFAULT_CHOICE, ...fixed }, argument); // a fixed part that cannot run is refused, not measured
      choice = await this.measure(s, key);
    } else {
      choice = { ...DEFAULT_CHOICE, ...fixed };
    }
    assertFits(this.ctx.device, s, choice, argument);
    return withChoice(s, choice);
  }

  private async measure(s: SeqShape, key: string): Promise<KernelChoice> {
    const start = performance.now();
    const fixed = this.options.fixed;
    const measured: Record<string, number> = {};
    const small = shorten(s, Math.min(s.T, TUNE_STEPS));
    const timeOf = async (choice: KernelChoice): Promise<number> => {
      const name = describeChoice(choice);
      if (measured[name] === undefined) {
        const ms = await this.timeCall(withChoice(small, choice));
        if (!Number.isFinite(ms)) return ms; // cut short by the budget: not recorded
        measured[name] = ms;
      }
      return measured[name];
    };
    let best: KernelChoice = { ...DEFAULT_CHOICE, ...fixed };
    const inBudget = () => performance.now() - start < this.options.budgetMs;
    this.inBudget = inBudget;
    this.longestRunMs = 0;
    let spent = 0;
    try {
      if (inBudget()) {
        let bestMs = await timeOf(best);
        const tryEach = async <K extends keyof KernelChoice>(k: K, values: readonly KernelChoice[K][]) => {
          if (fixed[k] !== undefined) return;
          for (const v of values) {
            if (!inBudget()) return;
            const cand = { ...best, [k]: v };
            if (v === best[k] || unfitReason(this.ctx.device, small, cand) || unfitReason(this.ctx.device, s, cand)) continue;
            if (k === 'forwardStep' && v === 'splitk' && s.B * s.h > SPLITK_MAX_BH) continue; // split-K only where B*h leaves units idle
            const ms = await timeOf(cand);
            if (ms < bestMs) {
              best = cand;
              bestMs = ms;
            }
          }
        };
        await tryEach('forwardStep', FORWARD_STEP_VARIANTS);
        await tryEach('backwardStep', BACKWARD_STEP_VARIANTS);
        await tryEach('matmul', MATMUL_VARIANTS);
        if (s.L > 1 && s.dirs === 1 && best.forwardStep !== 'persistent' && best.forwardStep !== 'splitk') await tryEach('wavefront', [false, true]);
        if (s.L > 1 && s.dirs === 1 && s.window === 0 && best.backwardStep !== 'persistent') await tryEach('backwardWavefront', [false, true]);
        // the default 'single' was measured with everything above (absent from the choice: tables from before stay valid)
        await tryEach('finalize', FINALIZE_VARIANTS.filter((v) => v !== DEFAULT_RNN_CHOICE.finalize));
      }
    } finally {
      spent = performance.now() - start;
      this.milliseconds += spent;
    }
    this.classes.set(key, { ...best, measured, spentMs: spent, longestRunMs: this.longestRunMs });
    return best;
  }

  /**
   * A shape the chapter's kernels run (s.chapter: an RnnModel's) with the variants to run it with:
   * fixed, from the table, tuned now (lazy), or the defaults. The same rules as choose(): a class of
   * its own (vanillaClass), greedy over the kernels it runs (vanillaKernels), the same budget and bound.
   */
  private async chooseVanilla(s: SeqShape, tuneNow: boolean): Promise<SeqShape> {
    const key = vanillaClass(s);
    const fixed = this.options.fixed;
    const known = this.classes.get(key);
    const kernels = vanillaKernels(s);
    const defaults: KernelChoice = { ...DEFAULT_CHOICE, ...DEFAULT_RNN_CHOICE };
    let choice: KernelChoice;
    let argument = 'options.tuning.fixed';
    if (known) {
      const given: Partial<KernelChoice> = {};
      for (const k of Object.keys(VANILLA_VARIANTS) as VanillaKernel[]) if (known[k] !== undefined) Object.assign(given, { [k]: known[k] });
      choice = { ...defaults, ...given, ...fixed };
      argument = `options.tuning.table.classes[${JSON.stringify(key)}]`;
    } else if (tuneNow && this.options.mode !== 'off' && kernels.some((k) => fixed[k] === undefined)) {
      assertRnnFits(this.ctx.device, s, { ...defaults, ...fixed }, argument); // a fixed part that cannot run is refused, not measured
      choice = await this.measureVanilla(s, key, kernels, { ...defaults, ...fixed });
    } else {
      choice = { ...defaults, ...fixed };
    }
    assertRnnFits(this.ctx.device, s, choice, argument);
    return withChoice(s, choice);
  }

  /** Greedy over `kernels` from `start` (the defaults and the fixed parts), each candidate a whole gradient call at min(T, 4) steps. */
  private async measureVanilla(s: SeqShape, key: string, kernels: VanillaKernel[], start: KernelChoice): Promise<KernelChoice> {
    const t0 = performance.now();
    const fixed = this.options.fixed;
    const measured: Record<string, number> = {};
    const small = shorten(s, Math.min(s.T, TUNE_STEPS));
    const inBudget = () => performance.now() - t0 < this.options.budgetMs;
    this.inBudget = inBudget;
    this.longestRunMs = 0;
    const timeOf = async (choice: KernelChoice): Promise<number> => {
      const name = describeVanillaChoice(choice, kernels);
      if (measured[name] === undefined) {
        const ms = await this.timeCall(withChoice(small, choice));
        if (!Number.isFinite(ms)) return ms; // cut short by the budget: not recorded
        measured[name] = ms;
      }
      return measured[name];
    };
    let best = start;
    let spent = 0;
    try {
      if (inBudget()) {
        let bestMs = await timeOf(best);
        for (const k of kernels) {
          if (fixed[k] !== undefined) continue;
          for (const v of VANILLA_VARIANTS[k]) {
            if (!inBudget()) break;
            const cand = { ...best, [k]: v };
            if (v === best[k] || unfitRnnReason(this.ctx.device, s, cand)) continue;
            const ms = await timeOf(cand);
            if (ms < bestMs * VANILLA_MARGIN) {
              best = cand;
              bestMs = ms;
            }
          }
        }
      }
    } finally {
      spent = performance.now() - t0;
      this.milliseconds += spent;
    }
    this.classes.set(key, { ...best, measured, spentMs: spent, longestRunMs: this.longestRunMs });
    return best;
  }

  /** One gradient call of shape s on zeros: once to compile and warm up, then the faster of two runs (ms). */
  private async timeCall(s: SeqShape): Promise<number> {
    const ctx = this.ctx;
    const sizes = seqBufferSizes(s, false);
    const bufs = acquireSequenceBuffers(ctx, sizes);
    const R = s.T * s.B;
    const batch: Batch = { steps: s.T, batchSize: s.B, x: s.tokens ? new Int32Array(R) : new Float32Array(R * s.d) };
    if (s.q === 0) batch.dY = new Float32Array(R * s.dirs * s.h);
    else if (s.loss === 'cross-entropy') batch.y = new Int32Array(R);
    else if (s.loss === 'mse') batch.y = new Float32Array(R * s.q);
    else batch.dO = new Float32Array(R * s.q);
    const once = async () => {
      if (!this.inBudget()) return Infinity; // out of time: this candidate is dropped
      const t0 = performance.now();
      const rec = ctx.record(sequenceDispatches(s, { dx: false, clip: false }));
      rec.clear(bufs.params, 0, s.layout.total * 4);
      uploadSequenceBatch(ctx, rec, s, bufs, batch);
      recordSequenceForward(rec, s, bufs);
      recordSequenceHead(rec, s, bufs);
      recordSequenceBackward(rec, s, bufs, { perStepNorms: true, dx: false, clipNorm: 0, applyClip: false, countStep: false });
      rec.finish();
      await ctx.guard(ctx.device.queue.onSubmittedWorkDone());
      this.measurements++;
      const ms = performance.now() - t0;
      this.longestRunMs = Math.max(this.longestRunMs, ms);
      return ms;
    };
    try {
      await once();
      const a = await once();
      const b = await once();
      return Math.max(a, b) === Infinity ? Infinity : Math.min(a, b); // both timed runs, or the candidate is dropped
    } finally {
      releaseSequenceBuffers(ctx, bufs);
      ctx.pool.settle();
    }
  }
}

/** The kernels of a cell-kernel call's choice (the chapter's, VANILLA_KERNELS, are an RnnModel's: s.chapter). */
const SEQUENCE_KERNELS = ['forwardStep', 'backwardStep', 'matmul', 'wavefront', 'backwardWavefront', 'finalize'] as const;

/** Every variant of each of the chapter's kernels (chapter-kernels.ts), which an RnnModel call runs. */
const VANILLA_VARIANTS = {
  rnnForwardStep: RNN_FORWARD_STEP_VARIANTS,
  rnnBackwardStep: RNN_BACKWARD_STEP_VARIANTS,
  windowStep: WINDOW_STEP_VARIANTS,
  matmul: MATMUL_VARIANTS,
  finalize: FINALIZE_VARIANTS,
} as const;
type VanillaKernel = keyof typeof VANILLA_VARIANTS;

/** The kernels an RnnModel shape runs, in the order they are tuned: the reverse sweep's is the window's under window(tau). */
export function vanillaKernels(s: Pick<SeqShape, 'window'>): VanillaKernel[] {
  return ['rnnForwardStep', s.window > 0 ? 'windowStep' : 'rnnBackwardStep', 'matmul', 'finalize'];
}

/** s with the variants of the engine's tuner (none: the defaults). */
export async function chooseVariants(ctx: GpuContext, s: SeqShape): Promise<SeqShape> {
  return ctx.tuner ? ctx.tuner.choose(s) : s;
}

/** The shape at T steps (xi and window cut to fit), for the tuner's short calls. */
function shorten(s: SeqShape, T: number): SeqShape {
  return { ...s, T, R: T * s.B, xi: s.xi.slice(0, T), window: Math.min(s.window, T), kPerSplit: Math.ceil((T * s.B) / s.splits / 16) * 16 };
}

/** The vanilla kernels' part of a choice, as the tuner's table names a candidate. */
export function describeVanillaChoice(c: KernelChoice, kernels: readonly string[]): string {
  return kernels.map((k) => `${k} ${String(c[k as keyof KernelChoice])}`).join(', ');
}

export function describeChoice(c: KernelChoice): string {
  return `forward ${c.forwardStep}, backward ${c.backwardStep}, matmul ${c.matmul}${c.wavefront ? ', wavefront' : ''}${c.backwardWavefront ? ', backward wavefront' : ''}${c.finalize === 'multi' ? ', finalize multi' : ''}`;
}

/** Refuses a tuning option that is not one of the documented forms, naming the part that is wrong. */
export function validateTuningOption(option: unknown): void {
  if (option === undefined || option === 'auto' || option === 'off') return;
  const fail = (arg: string, expected: string, got: unknown): never => {
    throw new BpttInputError(arg, expected, got === undefined ? 'undefined' : typeof got === 'string' ? JSON.stringify(got) : typeof got === 'object' ? JSON.stringify(got) : String(got));
  };
  if (typeof option !== 'object' || option === null || Array.isArray(option)) fail('options.tuning', "'auto', 'off' or { mode?, budgetMs?, fixed?, table? }", option);
  const o = option as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!['mode', 'budgetMs', 'fixed', 'table'].includes(k)) fail(`options.tuning.${k}`, 'no such field (mode, budgetMs, fixed, table)', o[k]);
  if (o.mode !== undefined && o.mode !== 'lazy' && o.mode !== 'manual') fail('options.tuning.mode', "'lazy' or 'manual'", o.mode);
  if (o.budgetMs !== undefined && !(typeof o.budgetMs === 'number' && Number.isFinite(o.budgetMs) && o.budgetMs >= 0 && o.budgetMs <= 600_000)) {
    fail('options.tuning.budgetMs', 'a number of milliseconds in [0, 600000]', o.budgetMs);
  }
  if (o.fixed !== undefined) validateChoice(o.fixed, 'options.tuning.fixed', true);
  if (o.table !== undefined) {
    const t = o.table as Record<string, unknown>;
    if (typeof t !== 'object' || t === null || typeof t.classes !== 'object' || t.classes === null) fail('options.tuning.table', 'a TuningTable ({ adapter, classes }) from engine.tuning()', o.table);
    for (const [key, c] of Object.entries(t.classes as object)) validateChoice(c, `options.tuning.table.classes[${JSON.stringify(key)}]`, false);
  }

  function validateChoice(c: unknown, arg: string, partial: boolean): void {
    if (typeof c !== 'object' || c === null || Array.isArray(c)) fail(arg, 'an object { forwardStep, backwardStep, matmul, wavefront, backwardWavefront? }', c);
    const v = c as Record<string, unknown>;
    const allowed: Record<keyof KernelChoice, readonly unknown[]> = {
      forwardStep: FORWARD_STEP_VARIANTS,
      backwardStep: BACKWARD_STEP_VARIANTS,
      matmul: MATMUL_VARIANTS,
      wavefront: [true, false],
      backwardWavefront: [true, false],
      rnnForwardStep: RNN_FORWARD_STEP_VARIANTS,
      rnnBackwardStep: RNN_BACKWARD_STEP_VARIANTS,
      windowStep: WINDOW_STEP_VARIANTS,
      finalize: FINALIZE_VARIANTS,
    };
    for (const k of Object.keys(v)) {
      if (k === 'measured' || k === 'spentMs' || k === 'longestRunMs') continue; // what engine.tuning() adds beside the choice
      if (!(k in allowed)) fail(`${arg}.${k}`, `no such kernel (${Object.keys(allowed).join(', ')})`, v[k]);
    }
    for (const [k, values] of Object.entries(allowed)) {
      // optional: backwardWavefront (tables from before it stay valid) and the vanilla kernels (their defaults)
      if (v[k] === undefined && (partial || k === 'backwardWavefront' || k in DEFAULT_RNN_CHOICE)) continue;
      if (!values.includes(v[k])) fail(`${arg}.${k}`, `one of ${values.map((x) => JSON.stringify(x)).join(', ')}`, v[k]);
    }
  }
}

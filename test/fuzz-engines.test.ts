// The hostile user as a test (issue 9): thousands of random legal and illegal
// calls at every engine of fuzz-engines-list.ts, from a seeded generator.
// Each call must equal the float64 reference within float32's tolerance (the
// non-finite rule of README when the gradients are not finite), or be refused
// with a BpttInputError naming the argument it must name; calls pending when
// an engine is disposed (or its device lost) end with a BpttDeviceError.
// Trainers run concurrently, some disposed while a step is pending; memory
// and caches must stay bounded. The calls that could kill a process (arrays
// on a SharedArrayBuffer into Dawn, device loss) run in a child process.
//
// FUZZ_SEED=n replays a run (the seed is printed); FUZZ_ONLY=i replays one
// call of it; FUZZ_SCALE=x scales the number of calls.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../src/index.js';
import { GpuContext } from '../src/gpu/context.js';
import { POOL_MIN_FREE_BYTES } from '../src/gpu/buffers.js';
import { ENGINES, reference } from './fuzz-engines-list.js';
import { fuzzDisposal, fuzzGradients, fuzzTrainers, newTally, type FuzzTally } from './fuzz-run.js';
import { runChild } from './child-process.js';
import { fuzzSequenceForward, fuzzSequenceGradients, fuzzSequenceTrainers, seqGradientCall } from './fuzz-sequence.js';
import { callRng, trainerCall } from './fuzz-cases.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261202);
const ONLY = process.env.FUZZ_ONLY === undefined ? null : Number(process.env.FUZZ_ONLY);
const SCALE = Number(process.env.FUZZ_SCALE ?? 1);
const N = {
  gradients: Math.round(2000 * SCALE), // per engine, indices 0..
  trainers: Math.round(200 * SCALE), // per engine, indices 100000..
  siblings: Math.round(20 * SCALE), // per engine, indices 500000..
  shared: Math.round(120 * SCALE), // child, per engine, indices 200000..
  disposals: Math.round(15 * SCALE), // child, per engine, indices 300000..
  losses: Math.round(3 * SCALE), // child, engines with a device, indices 400000..
  seqGradients: Math.round(1500 * SCALE), // SequenceModel, per engine, indices 600000..
  seqForward: Math.round(300 * SCALE), // SequenceModel engine.forward, per engine, indices 700000..
  seqTrainers: Math.round(150 * SCALE), // SequenceModel trainers, per engine, indices 800000..
};
const range = (from: number, n: number) => (ONLY !== null ? (ONLY >= from && ONLY < from + n ? [ONLY] : []) : Array.from({ length: n }, (_, k) => from + k));

console.log(`[fuzz] seed ${SEED} (replay: FUZZ_SEED=${SEED}${ONLY !== null ? ` FUZZ_ONLY=${ONLY}` : ''}), engines ${ENGINES.map((e) => e.name).join(', ')}`);

function report(name: string, t: FuzzTally, seconds: number): void {
  console.log(
    `[fuzz] ${name}: ${t.calls} calls in ${seconds.toFixed(1)} s: ${t.legal} equal to the reference, ${t.refused} refused naming the right argument, ` +
      `${t.nonFinite} non-finite as the reference, ${t.deviceErrors} device errors where allowed; ${t.failures.length} failures` +
      t.failures.slice(0, 10).map((f) => `\n  ${f}`).join('') +
      (t.known?.length ? `; ${t.known.length} KNOWN ENGINE BUG (see test/fuzz-sequence.ts KNOWN_BUGS):` + t.known.slice(0, 10).map((f) => `\n  known: ${f}`).join('') : ''),
  );
}

let ref: Engine;
beforeAll(async () => {
  ref = await reference();
});

for (const factory of ENGINES) {
  describe(`fuzz: ${factory.name}`, () => {
    let engine: Engine;
    const memory: { rss: number; liveBytes: number; bindGroups: number }[] = [];
    const sample = () => {
      const context = (engine as unknown as { impl?: { context?: GpuContext } }).impl?.context;
      memory.push({ rss: process.memoryUsage().rss, liveBytes: engine.stats().liveBytes, bindGroups: context?.cachedBindGroups ?? 0 });
    };

    beforeAll(async () => {
      engine = await factory.create();
    });
    afterAll(() => engine?.dispose());

    it('random gradient calls: the reference, or refused naming the argument', async () => {
      const t = newTally();
      const start = performance.now();
      await fuzzGradients(engine, ref, SEED, range(0, N.gradients), ['plain', 'offset'], t, sample);
      report(`${factory.name} gradients`, t, (performance.now() - start) / 1000);
      expect(t.failures.slice(0, 10)).toEqual([]);
      if (ONLY === null) expect(t.calls).toBe(N.gradients);
    });

    it('random trainers, four at a time, some disposed with a step pending: as the CPU trainer', async () => {
      const t = newTally();
      const start = performance.now();
      await fuzzTrainers(engine, ref, SEED, range(100_000, N.trainers), t, sample);
      report(`${factory.name} trainers`, t, (performance.now() - start) / 1000);
      expect(t.failures.slice(0, 10)).toEqual([]);
    });

    it('random SequenceModel gradient calls: the reference, or refused naming the argument', async () => {
      const t = newTally();
      const start = performance.now();
      await fuzzSequenceGradients(engine, ref, SEED, range(600_000, N.seqGradients), t, sample);
      report(`${factory.name} SequenceModel gradients`, t, (performance.now() - start) / 1000);
      expect(t.failures.slice(0, 10)).toEqual([]);
      if (ONLY === null) expect(t.calls).toBe(N.seqGradients);
    });

    it('random SequenceModel engine.forward calls: the reference, or refused naming the argument', async () => {
      const t = newTally();
      const start = performance.now();
      await fuzzSequenceForward(engine, ref, SEED, range(700_000, N.seqForward), t);
      report(`${factory.name} SequenceModel forward`, t, (performance.now() - start) / 1000);
      expect(t.failures.slice(0, 10)).toEqual([]);
    });

    it('random SequenceModel trainers: as the CPU trainer', async () => {
      const t = newTally();
      const start = performance.now();
      await fuzzSequenceTrainers(engine, ref, SEED, range(800_000, N.seqTrainers), t);
      report(`${factory.name} SequenceModel trainers`, t, (performance.now() - start) / 1000);
      expect(t.failures.slice(0, 10)).toEqual([]);
    });

    it('second engines disposed at random points: every call ends with a result or a BpttDeviceError', async () => {
      const t = newTally();
      const start = performance.now();
      await fuzzDisposal(factory, engine, ref, SEED, range(500_000, N.siblings), ['plain', 'offset'], false, t);
      report(`${factory.name} disposal`, t, (performance.now() - start) / 1000);
      expect(t.failures.slice(0, 10)).toEqual([]);
    });

    it('memory and caches stay bounded over the run', () => {
      if (memory.length < 8) return; // a replay of one call
      const quarter = memory[Math.floor(memory.length / 4)];
      const last = memory.at(-1)!;
      const mib = (b: number) => (b / 2 ** 20).toFixed(0);
      console.log(
        `[fuzz] ${factory.name} memory: process ${mib(quarter.rss)} MiB after a quarter of the run, ${mib(last.rss)} MiB at the end; ` +
          `engine ${last.liveBytes} B held; bind groups at most ${Math.max(...memory.map((m) => m.bindGroups))}`,
      );
      expect(Math.max(...memory.map((m) => m.liveBytes))).toBeLessThanOrEqual(2 * POOL_MIN_FREE_BYTES);
      expect(Math.max(...memory.map((m) => m.bindGroups))).toBeLessThanOrEqual(GpuContext.MAX_BIND_GROUPS);
      expect(last.rss - quarter.rss, 'process memory over the last three quarters of the run').toBeLessThan(200 * 2 ** 20);
    });
  });
}

describe('what the fuzz draws', () => {
  it('legal calls of window with lengths, and RnnModel trainer sessions with steps with lengths', () => {
    if (ONLY !== null) return; // a replay of one call
    const windowLengths = range(600_000, N.seqGradients).filter((i) => {
      const c = seqGradientCall(callRng(SEED, i));
      return c.refusedAs === null && c.options.truncation?.kind === 'window' && c.batch.lengths !== undefined;
    }).length;
    const rnnTrainers = range(100_000, N.trainers).filter((i) => trainerCall(callRng(SEED, i)).steps.some((s) => s.batch.lengths !== undefined)).length;
    console.log(`[fuzz] draws: ${windowLengths} legal SequenceModel gradient calls with window and lengths, ${rnnTrainers} RnnModel trainer sessions with lengths`);
    expect(windowLengths).toBeGreaterThanOrEqual(Math.round(20 * SCALE));
    expect(rnnTrainers).toBeGreaterThanOrEqual(Math.round(40 * SCALE));
  });
});

describe('fuzz in a child process: shared arrays, dispose and device loss at random points', () => {
  it('the child ends normally, every call as it must be', async () => {
    const start = performance.now();
    const run = await runChild<FuzzTally & { perEngine: Record<string, { calls: number; failures: number }> }>(
      'fuzz-risky.ts',
      { seed: SEED, shared: N.shared, disposals: N.disposals, losses: N.losses, only: ONLY },
      { timeoutMs: 300_000 },
    );
    expect(run.signal, `the child was killed: ${run.stderr.slice(-3000)}`).toBeNull();
    expect(run.code, run.stderr.slice(-3000)).toBe(0);
    const t = run.result!;
    report(`child (${Object.entries(t.perEngine).map(([k, v]) => `${k} ${v.calls}`).join(', ')})`, t, (performance.now() - start) / 1000);
    expect(t.failures.slice(0, 10)).toEqual([]);
  });
});

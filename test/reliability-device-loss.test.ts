// Reliability, device loss (issue 6): the device is destroyed in the middle
// of a training run, with trainer steps, a gradient call and a read pending.
// Every pending call rejects with a clear BpttDeviceError (none hangs: each is
// raced against a timeout), every later call is refused the same way, and a
// new engine ('auto': the CPU fallback on a software adapter) carries on from
// the parameters last read.
import { afterAll, describe, expect, it } from 'vitest';
import { gpuEngine } from './gpu-setup.js';
import { BpttDeviceError, createEngine, packParams, type Engine } from '../src/index.js';
import type { RnnModel, Trainer, TrainerOptions } from '../src/types.js';
import { randomProblem } from './helpers.js';

const HANG_MS = 10_000; // a call not settled this long after the loss counts as hung
const LOST = /the GPU device was lost \(destroyed.*\); create a new engine/;

interface Outcome {
  what: string;
  ok: boolean;
  error?: unknown;
  settledMs: number; // after the start of the run
}

/** Settles `p` into an Outcome, or fails the test when it does not settle within HANG_MS. */
function track(what: string, p: Promise<unknown>, t0: number): Promise<Outcome> {
  let timer: ReturnType<typeof setTimeout>;
  const hang = new Promise<Outcome>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: still pending ${HANG_MS} ms later (hung)`)), HANG_MS);
  });
  const settled = p.then(
    () => ({ what, ok: true, settledMs: performance.now() - t0 }),
    (error: unknown) => ({ what, ok: false, error, settledMs: performance.now() - t0 }),
  );
  return Promise.race([settled, hang]).finally(() => clearTimeout(timer));
}

describe('device loss in the middle of a training run', () => {
  let engine: Engine | null = null;
  let next: Engine | null = null;
  afterAll(() => {
    engine?.dispose();
    next?.dispose();
  });

  const spec = { T: 6, B: 4, d: 5, h: 8, q: 5 };
  const options: TrainerOptions = { optimizer: { kind: 'adam', learningRate: 0.02 }, loss: 'cross-entropy', clipNorm: 1 };
  const batchOf = (i: number) => randomProblem({ ...spec, seed: 300 + (i % 7) }).batch;

  it('pending calls reject with a clear error, later calls too, and a new engine carries on from the last read', async () => {
    engine = await gpuEngine();
    const { model } = randomProblem({ ...spec, seed: 299 });
    const trainer: Trainer = engine.trainer(model, options);
    // warm up (pipelines compiled) and take a few steps
    for (let i = 0; i < 3; i++) await trainer.step(batchOf(i));
    let last: RnnModel = await trainer.read();
    let lastStep = 3;

    // The run: each round, three steps, a gradient call and a read are in flight together.
    const t0 = performance.now();
    const outcomes: Promise<Outcome>[] = [];
    let destroyedAt = Infinity;
    let rounds = 0;
    const destroyAfterRounds = 4;
    for (let round = 0; round < 100; round++) {
      const steps = [0, 1, 2].map((k) => track(`round ${round} step ${k}`, trainer.step(batchOf(round * 3 + k)), t0));
      const g = randomProblem({ ...spec, seed: 400 + round });
      const grad = track(`round ${round} gradients`, engine.gradients(g.model, g.batch, { loss: 'cross-entropy' }), t0);
      const readP = trainer.read();
      const read = track(`round ${round} read`, readP, t0);
      outcomes.push(...steps, grad, read);
      if (round === destroyAfterRounds) {
        // everything of this round is pending now: lose the device under it
        destroyedAt = performance.now() - t0;
        engine.device!.destroy();
      }
      const settled = await Promise.all([...steps, grad, read]);
      rounds++;
      if (settled.some((o) => !o.ok)) break;
      last = await readP;
      lastStep += 3;
    }
    const all = await Promise.all(outcomes);
    const failed = all.filter((o) => !o.ok);
    const slowest = Math.max(...failed.map((o) => o.settledMs - destroyedAt));
    console.log(
      `[device-loss] destroyed after ${destroyedAt.toFixed(0)} ms (round ${destroyAfterRounds}); ${all.length - failed.length} calls resolved before, ` +
        `${failed.length} rejected, the slowest ${slowest.toFixed(0)} ms after destroy(); first message: ${(failed[0]?.error as Error)?.message}`,
    );
    expect(rounds).toBe(destroyAfterRounds + 1);
    // every call of the round in flight at the loss rejected, each with the clear error
    expect(failed.map((o) => o.what)).toEqual([0, 1, 2].map((k) => `round ${destroyAfterRounds} step ${k}`).concat([`round ${destroyAfterRounds} gradients`, `round ${destroyAfterRounds} read`]));
    for (const o of failed) {
      expect(o.error, o.what).toBeInstanceOf(BpttDeviceError);
      expect((o.error as Error).message, o.what).toMatch(LOST);
      expect(o.settledMs).toBeGreaterThanOrEqual(destroyedAt);
    }
    expect(slowest, 'rejected promptly after the loss').toBeLessThan(5000);

    // later calls are refused the same way, at once
    const { batch } = randomProblem({ ...spec, seed: 500 });
    const later: [string, () => Promise<unknown>][] = [
      ['trainer.step', () => trainer.step(batch)],
      ['trainer.read', () => trainer.read()],
      ['engine.gradients', () => engine!.gradients(model, batch, { loss: 'cross-entropy' })],
      ['engine.selfCheck', () => engine!.selfCheck()],
      ['engine.trainer', async () => engine!.trainer(model, options)],
    ];
    for (const [what, call] of later) {
      const o = await track(what, Promise.resolve().then(call), performance.now());
      expect(o.ok, `${what} after the loss`).toBe(false);
      expect(o.error, what).toBeInstanceOf(BpttDeviceError);
      expect((o.error as Error).message, what).toMatch(LOST);
      expect(o.settledMs, `${what} refused at once`).toBeLessThan(1000);
    }
    trainer.dispose();
    engine.dispose();
    expect(engine.stats().liveBuffers, 'dispose() after a loss still releases everything').toBe(0);

    // carry on from the parameters last read, on a new engine ('auto': the CPU fallback here)
    next = await createEngine({ backend: 'auto' });
    console.log(`[device-loss] carrying on with backend ${next.backend} (${next.backendReason}) from the parameters read after step ${lastStep}`);
    const resumed = next.trainer(last, options);
    expect(Array.from(packParams(await resumed.read()))).toEqual(Array.from(packParams(last)));
    const b = batchOf(1000);
    const want = await next.gradients(last, b, { loss: 'cross-entropy' });
    const first = await resumed.step(b);
    expect(first.skipped).toBe(false);
    expect(first.loss).toBeCloseTo(want.loss, 5);
    let loss = first.loss;
    for (let i = 0; i < 20; i++) loss = (await resumed.step(b)).loss;
    expect(loss, 'training goes on: the loss on a repeated batch falls').toBeLessThan(first.loss);
    resumed.dispose();
  });
});

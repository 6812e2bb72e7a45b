// The fuzz test's loops: many calls of fuzz-cases.ts against one engine and
// the float64 reference, in flights of concurrent calls, collecting every
// failure with the seed and index that replay it. Used in the test process
// and in its child process (no vitest here).
import type { Engine } from '../src/index.js';
import { packParams } from '../src/params.js';
import type { GradientResult, StepResult, Trainer } from '../src/types.js';
import type { ArrayKind } from './child/array-kinds.js';
import type { EngineFactory } from './fuzz-engines-list.js';
import {
  callRng,
  checkGradientOutcome,
  closeError,
  describeOutcome,
  gradientCall,
  outcome,
  resultError,
  trainerCall,
  type Outcome,
} from './fuzz-cases.js';
import { knownBug } from './fuzz-sequence.js';

export interface FuzzTally {
  calls: number; // every public call made on the engine under test
  legal: number; // legal gradient calls compared with the reference
  refused: number; // calls refused with a named BpttInputError, as they had to be
  nonFinite: number; // legal calls whose gradients were non-finite (flags compared)
  deviceErrors: number; // calls that ended in a BpttDeviceError where one was allowed (dispose, device loss)
  failures: string[];
  known?: string[]; // differences of a known engine bug (reported with their replay line, not failures)
}

export const newTally = (): FuzzTally => ({ calls: 0, legal: 0, refused: 0, nonFinite: 0, deviceErrors: 0, failures: [], known: [] });

export function mergeTally(into: FuzzTally, t: FuzzTally): void {
  into.calls += t.calls;
  into.legal += t.legal;
  into.refused += t.refused;
  into.nonFinite += t.nonFinite;
  into.deviceErrors += t.deviceErrors;
  into.failures.push(...t.failures);
  (into.known ??= []).push(...(t.known ?? []));
}

const replay = (seed: number, i: number) => `FUZZ_SEED=${seed} FUZZ_ONLY=${i}`;

async function inFlights<T>(items: T[], flight: number, each: (item: T) => Promise<void>, after?: () => void): Promise<void> {
  for (let k = 0; k < items.length; k += flight) {
    await Promise.all(items.slice(k, k + flight).map(each));
    after?.();
  }
}

/** Gradient calls i in `indices`: each equals the reference, or is refused naming the argument it must. */
export async function fuzzGradients(engine: Engine, ref: Engine, seed: number, indices: number[], kinds: readonly ArrayKind[], tally: FuzzTally, after?: () => void): Promise<void> {
  await inFlights(indices, 16, async (i) => {
    const call = gradientCall(callRng(seed, i), kinds);
    const want = await outcome(() => ref.gradients(call.model, call.batch, call.options));
    const got = await outcome(() => engine.gradients(call.model, call.batch, call.options));
    tally.calls++;
    const why = checkGradientOutcome(call, got, want);
    if (why) tally.failures.push(`${engine.backend} gradients call ${i} (${replay(seed, i)}): ${call.desc}: ${why}`);
    else if (call.refusedAs) tally.refused++;
    else if (got.ok && got.value.nonFinite) tally.nonFinite++;
    else tally.legal++;
  }, after);
}

function sameRefusal(a: Outcome<unknown>, b: Outcome<unknown>): boolean {
  return !a.ok && !b.ok && 'input' in a && 'input' in b && a.input.argument === b.input.argument && a.input.message === b.input.message;
}

function stepError(got: StepResult, want: StepResult): string | null {
  if (got.skipped !== want.skipped) return `skipped ${got.skipped}, want ${want.skipped}`;
  if (got.step !== want.step) return `step ${got.step}, want ${want.step}`;
  if (want.skipped) return null;
  const scalar = { rtol: 2e-3, atolRel: 0 };
  return closeError('loss', [got.loss], [want.loss], scalar) ?? (want.gradNorm !== undefined ? closeError('gradNorm', [got.gradNorm ?? NaN], [want.gradNorm], scalar) : null);
}

/** Trainer sessions i in `indices`, `flight` at a time on one engine: created, stepped and read like the reference's CPU trainer. */
export async function fuzzTrainers(engine: Engine, ref: Engine, seed: number, indices: number[], tally: FuzzTally, after?: () => void): Promise<void> {
  await inFlights(indices, 4, async (i) => {
    const call = trainerCall(callRng(seed, i));
    const fail = (why: string) => tally.failures.push(`${engine.backend} trainer session ${i} (${replay(seed, i)}): ${call.desc}: ${why}`);
    const want = await outcome(() => ref.trainer(call.model, call.options));
    const got = await outcome(() => engine.trainer(call.model, call.options));
    tally.calls++;
    if (call.refusedAs !== null || !want.ok || !got.ok) {
      if (!want.ok && 'input' in want && (call.refusedAs === null || want.input.argument === call.refusedAs) && sameRefusal(got, want)) tally.refused++;
      else fail(`creation: expected ${call.refusedAs ? `a refusal naming ${call.refusedAs}` : 'a trainer'}; reference: ${describeOutcome(want)}; engine: ${describeOutcome(got)}`);
      if (want.ok) want.value.dispose();
      if (got.ok) got.value.dispose();
      return;
    }
    const [r, t] = [want.value, got.value] as [Trainer, Trainer];
    try {
      for (let k = 0; k < call.steps.length; k++) {
        const { batch, stepOptions } = call.steps[k];
        if (call.disposeAfter === k) {
          // dispose while the step is pending: it ends either with its result or with a BpttDeviceError; later calls with one
          const pending = outcome(() => t.step(batch, stepOptions));
          t.dispose();
          const o = await pending;
          tally.calls += 2;
          if (!o.ok && !('device' in o) && !('input' in o)) fail(`step pending at dispose: ${describeOutcome(o)}`);
          const later = await outcome(() => t.step(batch));
          if (later.ok || !('device' in later) || !/disposed/.test(later.device.message)) fail(`a step after dispose: ${describeOutcome(later)}`);
          else tally.deviceErrors++;
          return;
        }
        const [a, b] = await Promise.all([outcome(() => r.step(batch, stepOptions)), outcome(() => t.step(batch, stepOptions))]);
        tally.calls++;
        if (!a.ok || !b.ok) {
          if (sameRefusal(a, b)) {
            tally.refused++;
            continue;
          }
          fail(`step ${k}: reference ${describeOutcome(a)}; engine ${describeOutcome(b)}`);
          return;
        }
        const why = stepError(b.value, a.value);
        const known = why && knownBug(engine.backend, call.model, call.steps.map((s) => s.batch), why);
        if (known) return void (tally.known ??= []).push(`${engine.backend} trainer session ${i} (${replay(seed, i)}): ${known}: ${call.desc}: step ${k}: ${why}`);
        if (why) {
          fail(`step ${k}: ${why}`);
          return;
        }
        if (a.value.skipped) tally.nonFinite++;
        else tally.legal++;
      }
      const [pa, pb] = await Promise.all([r.read(), t.read()]);
      tally.calls++;
      // Adam moves every parameter by about lr a step, whatever the gradient's size: a gradient
      // near zero on one engine and exactly zero on the other differs by up to lr there.
      const o = call.options.optimizer;
      const slack = o.kind === 'adam' ? { rtol: 2e-3, atolRel: 0, abs: 1.1 * o.learningRate * call.steps.length } : { rtol: 2e-3, atolRel: 1e-4, abs: 0 };
      const want64 = packParams(pa);
      const got64 = packParams(pb);
      const e = slack.abs > 0 ? paramsError(got64, want64, slack.abs) : closeError('parameters', got64, want64, slack);
      if (e) fail(`read(): ${e}`);
    } finally {
      r.dispose();
      t.dispose();
    }
  }, after);
}

function paramsError(got: Float32Array, want: Float32Array, abs: number): string | null {
  for (let i = 0; i < want.length; i++) {
    if (!(Math.abs(got[i] - want[i]) <= abs + 2e-3 * Math.abs(want[i]))) return `parameters[${i}] = ${got[i]}, want ${want[i]} (within ${abs})`;
  }
  return null;
}

/**
 * Sibling engines, each given a few legal calls and then disposed (or, with
 * `loseDevice`, its device destroyed) at a random point: every call ends with
 * the reference's result or a BpttDeviceError, and every later call with a
 * BpttDeviceError; nothing else, and no crash.
 */
export async function fuzzDisposal(factory: EngineFactory, base: Engine, ref: Engine, seed: number, indices: number[], kinds: readonly ArrayKind[], loseDevice: boolean, tally: FuzzTally): Promise<void> {
  for (const i of indices) {
    const rng = callRng(seed, i);
    const fail = (why: string) => tally.failures.push(`${factory.name} ${loseDevice ? 'device loss' : 'dispose'} ${i} (${replay(seed, i)}): ${why}`);
    const engine = loseDevice ? await factory.create() : await factory.sibling(base);
    const calls = Array.from({ length: 1 + Math.floor(rng() * 4) }, () => gradientCall(rng, kinds)).filter((c) => c.refusedAs === null);
    const wants = await Promise.all(calls.map((c) => outcome(() => ref.gradients(c.model, c.batch, c.options))));
    const trainer = await outcome(() => engine.trainer(calls[0]?.model ?? { inputSize: 1, hiddenSize: 1, outputSize: 1, activation: 'tanh', Whx: new Float32Array(1), Whh: new Float32Array(1), Wqh: new Float32Array(1) }, { optimizer: { kind: 'sgd', learningRate: 0.1 }, loss: calls[0]?.options.loss ?? 'cross-entropy' }));
    const pending = calls.map((c) => outcome(() => engine.gradients(c.model, c.batch, c.options)));
    const stepping = trainer.ok && calls[0] ? outcome(() => trainer.value.step(calls[0].batch)) : null;
    const when = Math.floor(rng() * 3);
    if (when === 1 && pending.length > 0) await Promise.race(pending);
    else if (when === 2) await new Promise((r) => setTimeout(r, Math.floor(rng() * 3)));
    const end = () => (loseDevice ? engine.device!.destroy() : engine.dispose());
    end();
    const settled = await Promise.all(pending);
    tally.calls += calls.length + (stepping ? 1 : 0);
    settled.forEach((o, k) => {
      if (o.ok) {
        const w = wants[k];
        const why = w.ok ? resultError(o.value as GradientResult, w.value, calls[k].options.clipNorm) : `the reference failed: ${describeOutcome(w)}`;
        if (why) fail(`call ${k} (${calls[k].desc}) finished but differs: ${why}`);
        else tally.legal++;
      } else if ('device' in o) tally.deviceErrors++;
      else fail(`call ${k} pending at ${loseDevice ? 'device loss' : 'dispose'}: ${describeOutcome(o)}`);
    });
    if (stepping) {
      const o = await stepping;
      if (!o.ok && !('device' in o)) fail(`a trainer step pending: ${describeOutcome(o)}`);
    }
    // later calls: a BpttDeviceError (for a lost device, once the loss is known: lost is resolved asynchronously)
    if (loseDevice) await engine.device!.lost;
    const c = calls[0];
    if (c) {
      const later = await outcome(() => engine.gradients(c.model, c.batch, c.options));
      tally.calls++;
      if (later.ok || !('device' in later)) fail(`a call after ${loseDevice ? 'device loss' : 'dispose'}: ${describeOutcome(later)}`);
      else tally.deviceErrors++;
    }
    if (loseDevice) engine.dispose();
  }
}

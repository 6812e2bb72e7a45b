// The fuzz test's calls: random legal and illegal calls from a seeded
// generator, each knowing what must happen (the argument a refusal must
// name), and the comparison of a result with the float64 reference. Shared by
// test/fuzz-engines.test.ts and its child process (test/child/fuzz-risky.ts),
// so nothing here imports vitest.
//
// Every call i of a run draws from its own generator, callRng(seed, i): a
// failure prints the seed and i, and FUZZ_SEED=seed FUZZ_ONLY=i replays that
// one call.
import { makeRng, uniformArray, type Rng } from '../src/rng.js';
import { BpttDeviceError, BpttInputError } from '../src/errors.js';
import type { Activation, Batch, GradientOptions, GradientResult, LossKind, RnnModel, StepOptions, TrainerOptions, Truncation } from '../src/types.js';
import { asKind, type ArrayKind } from './child/array-kinds.js';

export function callRng(seed: number, i: number): Rng {
  return makeRng(Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(i + 1, 0xc2b2ae35));
}

const pick = <T>(rng: Rng, a: readonly T[]): T => a[Math.floor(rng() * a.length)];
const int = (rng: Rng, lo: number, hi: number) => lo + Math.floor(rng() * (hi - lo + 1));

/** Any call's inputs, possibly malformed on purpose (hence the loose types). */
export interface GradientCall {
  desc: string;
  model: RnnModel;
  batch: Batch;
  options: GradientOptions;
  refusedAs: string | null; // the argument a BpttInputError must name, or null: a legal call
}

interface Dims {
  T: number;
  B: number;
  d: number;
  h: number;
  q: number;
}

function randomModel(rng: Rng, d: number, h: number, q: number): RnnModel {
  const activation = pick<Activation>(rng, ['tanh', 'relu', 'identity']);
  const s = pick(rng, [0.3, 0.6, 1.2]);
  const model: RnnModel = {
    inputSize: d, hiddenSize: h, outputSize: q, activation,
    Whx: uniformArray(rng, h * d, s), Whh: uniformArray(rng, h * h, s / Math.sqrt(h)), Wqh: uniformArray(rng, q * h, s),
  };
  if (rng() < 0.5) {
    model.bh = uniformArray(rng, h, 0.2);
    model.bq = uniformArray(rng, q, 0.2);
  }
  return model;
}

function randomBatch(rng: Rng, dims: Dims, loss: LossKind, tokens: boolean): Batch {
  const { T, B, d, h, q } = dims;
  const batch: Batch = {
    steps: T, batchSize: B,
    x: tokens ? Int32Array.from({ length: T * B }, () => int(rng, 0, d - 1)) : uniformArray(rng, T * B * d, 1),
  };
  if (loss === 'cross-entropy') batch.y = Int32Array.from({ length: T * B }, () => int(rng, 0, q - 1));
  else if (loss === 'mse') batch.y = uniformArray(rng, T * B * q, 1);
  else batch.dO = uniformArray(rng, T * B * q, 0.2);
  if (rng() < 0.4) batch.h0 = uniformArray(rng, B * h, 0.5);
  if (rng() < 0.3) batch.dhT = uniformArray(rng, B * h, 0.2);
  return batch;
}

function randomTruncation(rng: Rng, T: number, allowXi = true): Truncation | undefined {
  switch (int(rng, 0, allowXi ? 5 : 4)) {
    case 0: return undefined;
    case 1: return { kind: 'full' };
    case 2: return { kind: 'chunked', steps: int(rng, 1, T + 1) };
    case 3: return { kind: 'window', steps: int(rng, 1, T + 2) };
    case 4: return { kind: 'randomized', keepProbability: pick(rng, [0.3, 0.7, 1]), seed: int(rng, 0, 1000) };
    default: return { kind: 'randomized', xi: Float32Array.from({ length: T }, () => pick(rng, [0, 1, 0.5, 2])) };
  }
}

/** Every typed array of a model and batch as views of a random kind from `kinds`. */
function convertArrays(rng: Rng, o: Record<string, unknown>, kinds: readonly ArrayKind[]): string[] {
  const used: string[] = [];
  for (const [k, v] of Object.entries(o)) {
    if (v instanceof Float32Array || v instanceof Int32Array) {
      const kind = pick(rng, kinds);
      o[k] = asKind(v, kind);
      if (kind !== 'plain') used.push(`${k}:${kind}`);
    }
  }
  return used;
}

type Mutation = [name: string, argument: string, applies: (c: GradientCall, dims: Dims, tokens: boolean) => boolean, apply: (c: GradientCall, dims: Dims) => void];

const always = () => true;
const shorter = (a: Float32Array | Int32Array) => (a.length > 1 ? a.subarray(0, a.length - 1) : new (a.constructor as Float32ArrayConstructor)(2));

/** One illegal change each, and the argument its refusal must name (validation's first complaint). */
const MUTATIONS: Mutation[] = [
  ['steps 0', 'batch.steps', always, (c) => (c.batch.steps = 0)],
  ['steps 1.5', 'batch.steps', always, (c) => (c.batch.steps = 1.5)],
  ["steps '3'", 'batch.steps', always, (c) => ((c.batch as { steps: unknown }).steps = '3')],
  ['batchSize NaN', 'batch.batchSize', always, (c) => (c.batch.batchSize = NaN)],
  ['batchSize -1', 'batch.batchSize', always, (c) => (c.batch.batchSize = -1)],
  ['x one short', 'batch.x', always, (c) => (c.batch.x = shorter(c.batch.x))],
  ['x a plain Array', 'batch.x', always, (c) => ((c.batch as { x: unknown }).x = Array.from(c.batch.x))],
  ['x a Float64Array', 'batch.x', always, (c) => ((c.batch as { x: unknown }).x = Float64Array.from(c.batch.x))],
  ['token id = d', 'batch.x', (_c, _d, t) => t, (c, d) => ((c.batch.x as Int32Array)[0] = d.d)],
  ['token id -1', 'batch.x', (_c, _d, t) => t, (c) => ((c.batch.x as Int32Array)[c.batch.x.length - 1] = -1)],
  ['y missing', 'batch.y', (c) => c.options.loss !== 'none', (c) => delete c.batch.y],
  ['class id = q', 'batch.y', (c) => c.options.loss === 'cross-entropy', (c, d) => ((c.batch.y as Int32Array)[0] = d.q)],
  ['y a Float32Array for cross-entropy', 'batch.y', (c) => c.options.loss === 'cross-entropy', (c) => (c.batch.y = Float32Array.from(c.batch.y!))],
  ['mse y one short', 'batch.y', (c) => c.options.loss === 'mse', (c) => (c.batch.y = shorter(c.batch.y!))],
  ['dO missing', 'batch.dO', (c) => c.options.loss === 'none', (c) => delete c.batch.dO],
  ['h0 one short', 'batch.h0', always, (c, d) => (c.batch.h0 = new Float32Array(d.B * d.h - 1))],
  ['dhT too long', 'batch.dhT', always, (c, d) => (c.batch.dhT = new Float32Array(d.B * d.h + 1))],
  ['Whh one short', 'model.Whh', always, (c) => (c.model.Whh = shorter(c.model.Whh) as Float32Array)],
  ['Whx a Float64Array', 'model.Whx', always, (c) => ((c.model as { Whx: unknown }).Whx = Float64Array.from(c.model.Whx))],
  ['Wqh missing', 'model.Wqh', always, (c) => delete (c.model as Partial<RnnModel>).Wqh],
  ['bq without bh', 'model.bh', always, (c, d) => { delete c.model.bh; c.model.bq = new Float32Array(d.q); }],
  ['bh without bq', 'model.bq', always, (c, d) => { delete c.model.bq; c.model.bh = new Float32Array(d.h); }],
  ["activation 'sigmoid'", 'model.activation', always, (c) => ((c.model as { activation: unknown }).activation = 'sigmoid')],
  ['inputSize 0', 'model.inputSize', always, (c) => (c.model.inputSize = 0)],
  ['outputSize 2.5', 'model.outputSize', always, (c) => (c.model.outputSize = 2.5)],
  ['hiddenSize + 1', 'model.Whx', always, (c) => (c.model.hiddenSize += 1)],
  ["loss 'hinge'", 'options.loss', always, (c) => ((c.options as { loss: unknown }).loss = 'hinge')],
  ["truncation kind 'bogus'", 'options.truncation.kind', always, (c) => ((c.options as { truncation: unknown }).truncation = { kind: 'bogus' })],
  ["truncation 'full'", 'options.truncation', always, (c) => ((c.options as { truncation: unknown }).truncation = 'full')],
  ['chunked steps 0', 'options.truncation.steps', always, (c) => (c.options.truncation = { kind: 'chunked', steps: 0 })],
  ['window steps 2.5', 'options.truncation.steps', always, (c) => (c.options.truncation = { kind: 'window', steps: 2.5 })],
  ['keepProbability 0', 'options.truncation.keepProbability', always, (c) => (c.options.truncation = { kind: 'randomized', keepProbability: 0, seed: 1 })],
  ['keepProbability 1.5', 'options.truncation.keepProbability', always, (c) => (c.options.truncation = { kind: 'randomized', keepProbability: 1.5, seed: 1 })],
  ['keepProbability 1e-40', 'options.truncation.keepProbability', always, (c) => (c.options.truncation = { kind: 'randomized', keepProbability: 1e-40, seed: 1 })],
  ['seed 1.5', 'options.truncation.seed', always, (c) => (c.options.truncation = { kind: 'randomized', keepProbability: 0.5, seed: 1.5 })],
  ['xi one short', 'options.truncation.xi', always, (c, d) => (c.options.truncation = { kind: 'randomized', xi: new Float32Array(d.T - 1) })],
  ['xi NaN', 'options.truncation.xi', always, (c, d) => (c.options.truncation = { kind: 'randomized', xi: new Float32Array(d.T).fill(NaN) })],
  ['clipNorm 0', 'options.clipNorm', always, (c) => (c.options.clipNorm = 0)],
  ['clipNorm NaN', 'options.clipNorm', always, (c) => (c.options.clipNorm = NaN)],
  ["clipNorm '1'", 'options.clipNorm', always, (c) => ((c.options as { clipNorm: unknown }).clipNorm = '1')],
  ['clipNorm 1e-39', 'options.clipNorm', always, (c) => (c.options.clipNorm = 1e-39)],
  ["inputGradient 'yes'", 'options.inputGradient', always, (c) => ((c.options as { inputGradient: unknown }).inputGradient = 'yes')],
  ['gradNormPerStep 1', 'options.gradNormPerStep', always, (c) => ((c.options as { gradNormPerStep: unknown }).gradNormPerStep = 1)],
  ["checkFinite 'no'", 'options.checkFinite', always, (c) => ((c.options as { checkFinite: unknown }).checkFinite = 'no')],
  ['inputGradient with token ids', 'options.inputGradient', (_c, _d, t) => t, (c) => (c.options.inputGradient = true)],
  ['options null', 'options', always, (c) => ((c as { options: unknown }).options = null)],
  ['batch null', 'batch', always, (c) => ((c as { batch: unknown }).batch = null)],
  ['model 5', 'model', always, (c) => ((c as { model: unknown }).model = 5)],
];

/** Extreme but legal values: NaN and infinities (refused with checkFinite), and large or tiny finite ones. */
const EXTREMES = [NaN, Infinity, -Infinity, 1e18, -1e18, 1e-30, 0];

/** A random gradient call: legal, illegal (one mutation), or legal with an extreme value. */
export function gradientCall(rng: Rng, kinds: readonly ArrayKind[] = ['plain', 'offset']): GradientCall {
  const dims: Dims = { T: int(rng, 1, 6), B: int(rng, 1, 5), d: int(rng, 1, 6), h: int(rng, 1, 8), q: int(rng, 1, 5) };
  const loss = pick<LossKind>(rng, ['cross-entropy', 'mse', 'none']);
  const tokens = rng() < 0.3;
  const model = randomModel(rng, dims.d, dims.h, dims.q);
  const batch = randomBatch(rng, dims, loss, tokens);
  const options: GradientOptions = { loss, truncation: randomTruncation(rng, dims.T) };
  if (rng() < 0.3) options.clipNorm = pick(rng, [1e-3, 0.1, 1, 10, Infinity, 1e-20]);
  if (!tokens && rng() < 0.3) options.inputGradient = true;
  if (rng() < 0.4) options.gradNormPerStep = true;
  if (rng() < 0.2) options.checkFinite = true;
  const call: GradientCall = { desc: '', model, batch, options, refusedAs: null };
  const parts = [`T=${dims.T} B=${dims.B} d=${dims.d} h=${dims.h} q=${dims.q} ${model.activation}${model.bh ? ' bias' : ''} ${loss}${tokens ? ' tokens' : ''}`, JSON.stringify({ ...options, truncation: options.truncation && { ...options.truncation, xi: undefined } })];
  const r = rng();
  if (r < 0.4) {
    const usable = MUTATIONS.filter(([, , applies]) => applies(call, dims, tokens));
    const [name, argument, , apply] = pick(rng, usable);
    apply(call, dims);
    call.refusedAs = argument;
    parts.push(`mutation: ${name}`);
  } else if (r < 0.6) {
    const arrays: [string, Float32Array][] = [['model.Whx', model.Whx], ['model.Whh', model.Whh], ['model.Wqh', model.Wqh]];
    if (!tokens) arrays.push(['batch.x', batch.x as Float32Array]);
    if (loss === 'mse') arrays.push(['batch.y', batch.y as Float32Array]);
    if (loss === 'none') arrays.push(['batch.dO', batch.dO!]);
    if (batch.h0) arrays.push(['batch.h0', batch.h0]);
    if (batch.dhT) arrays.push(['batch.dhT', batch.dhT]);
    if (model.bh) arrays.push(['model.bh', model.bh]);
    const [name, a] = pick(rng, arrays);
    const i = int(rng, 0, a.length - 1);
    a[i] = pick(rng, EXTREMES);
    if (options.checkFinite && !Number.isFinite(a[i])) call.refusedAs = name;
    parts.push(`${name}[${i}] = ${a[i]}`);
  }
  if (call.model && typeof call.model === 'object') parts.push(...convertArrays(rng, call.model as unknown as Record<string, unknown>, kinds));
  if (call.batch && typeof call.batch === 'object') parts.push(...convertArrays(rng, call.batch as unknown as Record<string, unknown>, kinds));
  call.desc = parts.join('; ');
  return call;
}

/** A random trainer: options (sometimes illegal), and steps of random batches (some illegal, some non-finite). */
export interface TrainerCall {
  desc: string;
  model: RnnModel;
  options: TrainerOptions;
  refusedAs: string | null; // at creation
  steps: { batch: Batch; stepOptions?: StepOptions }[];
  disposeAfter: number | null; // dispose the trainer while step k is pending
}

type OptionMutation = [name: string, argument: string, apply: (o: TrainerOptions) => void];
const TRAINER_MUTATIONS: OptionMutation[] = [
  ["optimizer kind 'rmsprop'", 'options.optimizer.kind', (o) => ((o.optimizer as { kind: unknown }).kind = 'rmsprop')],
  ['optimizer null', 'options.optimizer', (o) => ((o as { optimizer: unknown }).optimizer = null)],
  ['learningRate 0', 'options.optimizer.learningRate', (o) => (o.optimizer.learningRate = 0)],
  ["learningRate '0.1'", 'options.optimizer.learningRate', (o) => ((o.optimizer as { learningRate: unknown }).learningRate = '0.1')],
  ['learningRate 1e-46', 'options.optimizer.learningRate', (o) => (o.optimizer.learningRate = 1e-46)],
  ['adam beta1 1', 'options.optimizer.beta1', (o) => (o.optimizer = { kind: 'adam', learningRate: 0.01, beta1: 1 })],
  ['adam beta2 0.99999999', 'options.optimizer.beta2', (o) => (o.optimizer = { kind: 'adam', learningRate: 0.01, beta2: 0.99999999 })],
  ['adam epsilon 1e-40', 'options.optimizer.epsilon', (o) => (o.optimizer = { kind: 'adam', learningRate: 0.01, epsilon: 1e-40 })],
  ["carryState 'yes'", 'options.carryState', (o) => ((o as { carryState: unknown }).carryState = 'yes')],
  ['checkFinite 1', 'options.checkFinite', (o) => ((o as { checkFinite: unknown }).checkFinite = 1)],
  ['clipNorm -1', 'options.clipNorm', (o) => (o.clipNorm = -1)],
  ["loss 'l1'", 'options.loss', (o) => ((o as { loss: unknown }).loss = 'l1')],
  ['window steps 0', 'options.truncation.steps', (o) => (o.truncation = { kind: 'window', steps: 0 })],
];

/** Batch mutations that apply to any trainer step (the CPU trainer says which argument is refused). */
const STEP_MUTATIONS = ['steps 0', 'steps 1.5', 'batchSize -1', 'x one short', 'x a plain Array', 'h0 one short', 'dhT too long'];

export function trainerCall(rng: Rng): TrainerCall {
  const d = int(rng, 1, 6), h = int(rng, 1, 8), q = int(rng, 1, 5);
  const loss = pick<LossKind>(rng, ['cross-entropy', 'mse', 'none']);
  const tokens = rng() < 0.3;
  const model = randomModel(rng, d, h, q);
  const optimizer = rng() < 0.5
    ? { kind: 'sgd' as const, learningRate: pick(rng, [0.01, 0.1, 0.5]) }
    : { kind: 'adam' as const, learningRate: pick(rng, [0.001, 0.01]), ...(rng() < 0.3 ? { beta1: 0.99, beta2: 0.999999, epsilon: 1e-30 } : {}) };
  const options: TrainerOptions = { optimizer, loss, truncation: randomTruncation(rng, 4, false) };
  if (rng() < 0.3) options.clipNorm = pick(rng, [0.01, 1, 10]);
  if (rng() < 0.5) options.carryState = true;
  if (rng() < 0.15) options.checkFinite = true;
  const parts = [`d=${d} h=${h} q=${q} ${model.activation}${model.bh ? ' bias' : ''} ${loss}${tokens ? ' tokens' : ''}`, JSON.stringify(options)];
  let refusedAs: string | null = null;
  if (rng() < 0.15) {
    const [name, argument, apply] = pick(rng, TRAINER_MUTATIONS);
    apply(options);
    refusedAs = argument;
    parts.push(`mutation: ${name}`);
  }
  const steps: TrainerCall['steps'] = [];
  const shapes: { T: number; B: number }[] = [];
  let B = int(rng, 1, 4);
  for (let s = int(rng, 1, 4); s > 0; s--) {
    if (rng() < 0.2) B = int(rng, 1, 4); // a new batch size: refused while a state is carried, unless h0 is given
    const T = int(rng, 1, 5);
    shapes.push({ T, B });
    const batch = randomBatch(rng, { T, B, d, h, q }, loss, tokens);
    const r = rng();
    if (r < 0.15) {
      const [name, , , apply] = pick(rng, MUTATIONS.filter(([n]) => STEP_MUTATIONS.includes(n)));
      apply({ desc: '', model, batch, options: { loss }, refusedAs: null }, { T, B, d, h, q });
      parts.push(`step ${steps.length}: ${name}`);
    } else if (r < 0.3 && !tokens) {
      const x = batch.x as Float32Array;
      x[int(rng, 0, x.length - 1)] = pick(rng, [NaN, Infinity, 1e18]);
      parts.push(`step ${steps.length}: an extreme x`);
    }
    steps.push({ batch, stepOptions: rng() < 0.5 ? { readGradNorm: true } : undefined });
  }
  const disposeAfter = rng() < 0.1 ? int(rng, 0, steps.length - 1) : null;
  if (disposeAfter !== null) parts.push(`dispose while step ${disposeAfter} is pending`);
  // sequences of different lengths in some steps (drawn last, so the draws above replay as before)
  steps.forEach((s, k) => {
    if (rng() >= 0.3) return;
    s.batch.lengths = Int32Array.from({ length: shapes[k].B }, () => int(rng, 1, shapes[k].T));
    parts.push(`step ${k}: lengths ${Array.from(s.batch.lengths).join(',')}`);
  });
  return { desc: parts.join('; '), model, options, refusedAs, steps, disposeAfter };
}

/** Tolerance of float32 engines against the float64 reference (see test/gpu-setup.ts). */
export const FUZZ_TOL = { rtol: 2e-3, atolRel: 1e-5 };

/** The largest finite |a_i| (a result may hold NaN where the reference does, e.g. dx next to a NaN weight). */
function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) if (Number.isFinite(a[i])) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/** The first element outside |got - want| <= rtol |want| + atolRel max|want|, or null. */
export function closeError(name: string, got: ArrayLike<number> | undefined, want: ArrayLike<number> | undefined, tol = FUZZ_TOL): string | null {
  if (!got || !want) return got === want ? null : `${name}: present on one side only`;
  if (got.length !== want.length) return `${name}: length ${got.length}, want ${want.length}`;
  const atol = Math.max(tol.atolRel * maxAbs(want), 1e-30);
  for (let i = 0; i < want.length; i++) {
    const g = got[i], w = want[i];
    if (Number.isNaN(w) && Number.isNaN(g)) continue;
    if (!Number.isFinite(w) || !Number.isFinite(g)) {
      if (g !== w) return `${name}[${i}] = ${g}, want ${w}`; // NaN where NaN, the same infinity
      continue;
    }
    if (!(Math.abs(g - w) <= atol + tol.rtol * Math.abs(w))) return `${name}[${i}] = ${g}, want ${w}`;
  }
  return null;
}

/** Why `got` is not the reference's result `want` (the rule of README "Non-finite values"), or null. */
export function resultError(got: GradientResult, want: GradientResult, clipNorm?: number): string | null {
  if (want.nonFinite || got.nonFinite) {
    if (got.nonFinite !== want.nonFinite) return `nonFinite ${got.nonFinite}, want ${want.nonFinite} (gradNorm ${got.gradNorm}, want ${want.gradNorm})`;
    if (Number.isFinite(got.gradNorm)) return `gradNorm ${got.gradNorm} finite in a non-finite result`;
    if (got.clipped) return 'clipped in a non-finite result';
    return null;
  }
  const borderline = clipNorm !== undefined && Math.abs(want.gradNorm - clipNorm) <= 1e-3 * clipNorm;
  if (!borderline && got.clipped !== want.clipped) return `clipped ${got.clipped}, want ${want.clipped}`;
  for (const key of ['dWhx', 'dWhh', 'dWqh', 'dbh', 'dbq', 'dh0', 'hT', 'dx', 'gradNormPerStep'] as const) {
    const e = closeError(key, got[key], want[key]);
    if (e) return e;
  }
  const scalar = { rtol: FUZZ_TOL.rtol, atolRel: 0 };
  return closeError('loss', [got.loss], [want.loss], scalar) ?? closeError('gradNorm', [got.gradNorm], [want.gradNorm], scalar) ?? closeError('xi', got.xi, want.xi, { rtol: 0, atolRel: 0 });
}

/** How a call ended: a value, or an error of the library (anything else is a failure). */
export type Outcome<T> = { ok: true; value: T } | { ok: false; input: BpttInputError } | { ok: false; device: BpttDeviceError } | { ok: false; other: unknown };

export async function outcome<T>(f: () => T | Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await f() };
  } catch (e) {
    if (e instanceof BpttInputError) return { ok: false, input: e };
    if (e instanceof BpttDeviceError) return { ok: false, device: e };
    return { ok: false, other: e };
  }
}

export function describeOutcome(o: Outcome<unknown>): string {
  if (o.ok) return 'a result';
  if ('input' in o) return `BpttInputError(${o.input.argument}): ${o.input.message}`;
  if ('device' in o) return `BpttDeviceError: ${o.device.message}`;
  const e = o.other as Error;
  return `${e?.constructor?.name ?? typeof e} ${e?.name ?? ''}: ${e?.message ?? String(e)}`;
}

/** Checks one gradient call's outcome against what it must be; returns why not, or null. */
export function checkGradientOutcome(call: GradientCall, got: Outcome<GradientResult>, want: Outcome<GradientResult>): string | null {
  if (call.refusedAs !== null) {
    if (!got.ok && 'input' in got && got.input.argument === call.refusedAs) return null;
    return `expected a refusal naming ${call.refusedAs}, got ${describeOutcome(got)}`;
  }
  if (!want.ok) return `the reference failed a legal call: ${describeOutcome(want)}`;
  if (!got.ok) return `a legal call failed: ${describeOutcome(got)}`;
  return resultError(got.value, want.value, call.options.clipNorm);
}

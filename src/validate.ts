// Validation at the boundary: every public call checks its arguments here,
// before any work, and throws a BpttInputError that names the argument, the
// expected shape and the received one.
import { BpttInputError, describe } from './errors.js';
import { F32_MIN_NORMAL, POSITIVE_F32, UNIT_F32, checkFloat32Number } from './float32.js';
import type { Batch, GradientOptions, LossKind, OptimizerOptions, RnnModel, StepOptions, TrainerOptions, Truncation } from './types.js';

export interface Dims {
  T: number;
  B: number;
  d: number;
  h: number;
  q: number;
}

/** A checked gradient call: sizes, and the flags the CPU and GPU paths branch on. */
export interface Problem {
  dims: Dims;
  tokens: boolean; // x holds token ids [T, B]
  hasBias: boolean;
  loss: LossKind;
  truncation: Truncation;
  clipNorm: number | undefined;
  inputGradient: boolean;
  gradNormPerStep: boolean;
  lengths?: Int32Array | null; // [B], each in 1..T (packed sequences, MATH.md)
}

export function fail(argument: string, expected: string, value: unknown): never {
  throw new BpttInputError(argument, expected, describe(value));
}

/** An optional flag: true, false or absent. Every engine reads flags through this, so 'yes' means the same everywhere: refused. */
export function checkOptionalBoolean(argument: string, value: unknown): boolean {
  if (value !== undefined && typeof value !== 'boolean') fail(argument, 'true, false or undefined', value);
  return value === true;
}

export function checkPositiveInt(argument: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    fail(argument, 'a positive integer', value);
  }
  return value;
}

export function checkFloat32(argument: string, value: unknown, length: number, shape: string): Float32Array {
  if (!(value instanceof Float32Array)) fail(argument, `Float32Array of length ${length} (${shape})`, value);
  if (value.length !== length) fail(argument, `Float32Array of length ${length} (${shape})`, value);
  return value;
}

export function checkFiniteArray(argument: string, a: Float32Array): void {
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i])) {
      throw new BpttInputError(argument, 'finite values (checkFinite is on)', `${a[i]} at index ${i}`);
    }
  }
}

export function checkIds(argument: string, ids: Int32Array, bound: number, what: string): void {
  for (let i = 0; i < ids.length; i++) {
    const v = ids[i];
    if (v < 0 || v >= bound) {
      throw new BpttInputError(argument, `${what} in [0, ${bound})`, `${v} at index ${i}`);
    }
  }
}

export const ACTIVATIONS = ['identity', 'tanh', 'relu'];
const LOSSES = ['cross-entropy', 'mse', 'none'];

/** batch.lengths: absent, or Int32Array [B] with each length in 1..T. */
export function checkLengths(lengths: unknown, T: number, B: number): Int32Array | null {
  if (lengths === undefined) return null;
  if (!(lengths instanceof Int32Array) || lengths.length !== B) fail('batch.lengths', `Int32Array of length B = ${B} (each in 1..T = 1..${T})`, lengths);
  for (let b = 0; b < B; b++) {
    const n = lengths[b];
    if (n < 1 || n > T) throw new BpttInputError('batch.lengths', `each length in 1..T = 1..${T}`, `${n} at index ${b}`);
  }
  return lengths;
}

export function validateModel(model: RnnModel, checkFinite = false): Dims & { hasBias: boolean } {
  if (typeof model !== 'object' || model === null) fail('model', 'an RnnModel object', model);
  const d = checkPositiveInt('model.inputSize', model.inputSize);
  const h = checkPositiveInt('model.hiddenSize', model.hiddenSize);
  const q = checkPositiveInt('model.outputSize', model.outputSize);
  if (!ACTIVATIONS.includes(model.activation)) fail('model.activation', `one of ${ACTIVATIONS.join(', ')}`, model.activation);
  checkFloat32('model.Whx', model.Whx, h * d, `[h, d] = [${h}, ${d}]`);
  checkFloat32('model.Whh', model.Whh, h * h, `[h, h] = [${h}, ${h}]`);
  checkFloat32('model.Wqh', model.Wqh, q * h, `[q, h] = [${q}, ${h}]`);
  const hasBh = model.bh !== undefined;
  const hasBq = model.bq !== undefined;
  if (hasBh !== hasBq) {
    const [given, missing] = hasBh ? ['bh', 'bq'] : ['bq', 'bh'];
    throw new BpttInputError(`model.${missing}`, `both biases or neither (model.${given} is given)`, 'undefined');
  }
  if (hasBh) {
    checkFloat32('model.bh', model.bh, h, `[h] = [${h}]`);
    checkFloat32('model.bq', model.bq, q, `[q] = [${q}]`);
  }
  if (checkFinite) {
    checkFiniteArray('model.Whx', model.Whx);
    checkFiniteArray('model.Whh', model.Whh);
    checkFiniteArray('model.Wqh', model.Wqh);
    if (hasBh) {
      checkFiniteArray('model.bh', model.bh!);
      checkFiniteArray('model.bq', model.bq!);
    }
  }
  return { T: 0, B: 0, d, h, q, hasBias: hasBh };
}

export function validateTruncation(truncation: Truncation | undefined, T: number, argument = 'options.truncation'): Truncation {
  if (truncation === undefined) return { kind: 'full' };
  if (typeof truncation !== 'object' || truncation === null) fail(argument, '{ kind: "full" | "chunked" | "window" | "randomized", ... }', truncation);
  switch (truncation.kind) {
    case 'full':
      return truncation;
    case 'chunked':
    case 'window': {
      const s = truncation.steps;
      if (typeof s !== 'number' || !Number.isInteger(s) || s < 1) fail(`${argument}.steps`, 'an integer >= 1', s);
      return truncation;
    }
    case 'randomized': {
      if ('xi' in truncation && truncation.xi !== undefined) {
        checkFloat32(`${argument}.xi`, truncation.xi, T, `[T] = [${T}]`);
        checkFiniteArray(`${argument}.xi`, truncation.xi);
        return truncation;
      }
      const r = truncation as { keepProbability?: unknown; seed?: unknown };
      // xi = 1/p is a float32: p must be a normal float32 (1/p then stays finite)
      checkFloat32Number(`${argument}.keepProbability`, r.keepProbability, { min: F32_MIN_NORMAL, max: 1, text: `a number in (0, 1], at least ${F32_MIN_NORMAL} (float32's smallest normal number)` });
      if (typeof r.seed !== 'number' || !Number.isInteger(r.seed)) fail(`${argument}.seed`, 'an integer', r.seed);
      return truncation;
    }
    default:
      return fail(`${argument}.kind`, 'one of "full", "chunked", "window", "randomized"', (truncation as { kind?: unknown }).kind);
  }
}

export function validateClipNorm(clipNorm: unknown, argument = 'options.clipNorm'): number | undefined {
  if (clipNorm === undefined) return undefined;
  // below float32's normal range a GPU reads it as 0, "no clipping"; Infinity (or beyond float32) clips nothing, on every engine
  return checkFloat32Number(argument, clipNorm, { min: F32_MIN_NORMAL, max: Infinity, text: `a positive number, at least ${F32_MIN_NORMAL} (float32's smallest normal number), or Infinity` });
}

export function validateLoss(loss: unknown, argument = 'options.loss'): LossKind {
  if (!LOSSES.includes(loss as string)) fail(argument, `one of ${LOSSES.map((l) => `"${l}"`).join(', ')}`, loss);
  return loss as LossKind;
}

/** Checks a batch against model sizes; returns T and B and whether x holds token ids. */
export function validateBatch(
  batch: Batch,
  dims: { d: number; h: number; q: number },
  loss: LossKind,
  checkFinite = false,
): { T: number; B: number; tokens: boolean; lengths: Int32Array | null } {
  if (typeof batch !== 'object' || batch === null) fail('batch', 'a Batch object', batch);
  const T = checkPositiveInt('batch.steps', batch.steps);
  const B = checkPositiveInt('batch.batchSize', batch.batchSize);
  const { d, h, q } = dims;
  const x = batch.x;
  let tokens = false;
  if (x instanceof Int32Array) {
    if (x.length !== T * B) fail('batch.x', `Int32Array of length T*B = ${T * B} ([T, B] = [${T}, ${B}] token ids)`, x);
    checkIds('batch.x', x, d, 'token ids');
    tokens = true;
  } else if (x instanceof Float32Array) {
    if (x.length !== T * B * d) fail('batch.x', `Float32Array of length T*B*d = ${T * B * d} ([T, B, d] = [${T}, ${B}, ${d}])`, x);
    if (checkFinite) checkFiniteArray('batch.x', x);
  } else {
    fail('batch.x', `Float32Array [T, B, d] = [${T}, ${B}, ${d}] or Int32Array [T, B] = [${T}, ${B}] of token ids`, x);
  }
  if (loss === 'cross-entropy') {
    if (!(batch.y instanceof Int32Array)) fail('batch.y', `Int32Array of length T*B = ${T * B} ([T, B] class ids, for cross-entropy)`, batch.y);
    if (batch.y.length !== T * B) fail('batch.y', `Int32Array of length T*B = ${T * B} ([T, B] class ids, for cross-entropy)`, batch.y);
    checkIds('batch.y', batch.y, q, 'class ids');
  } else if (loss === 'mse') {
    checkFloat32('batch.y', batch.y, T * B * q, `[T, B, q] = [${T}, ${B}, ${q}] targets, for mse`);
    if (checkFinite) checkFiniteArray('batch.y', batch.y as Float32Array);
  } else {
    checkFloat32('batch.dO', batch.dO, T * B * q, `[T, B, q] = [${T}, ${B}, ${q}] upstream gradient, for loss "none"`);
    if (checkFinite) checkFiniteArray('batch.dO', batch.dO!);
  }
  if (batch.h0 !== undefined) {
    checkFloat32('batch.h0', batch.h0, B * h, `[B, h] = [${B}, ${h}]`);
    if (checkFinite) checkFiniteArray('batch.h0', batch.h0);
  }
  if (batch.dhT !== undefined) {
    checkFloat32('batch.dhT', batch.dhT, B * h, `[B, h] = [${B}, ${h}]`);
    if (checkFinite) checkFiniteArray('batch.dhT', batch.dhT);
  }
  return { T, B, tokens, lengths: checkLengths(batch.lengths, T, B) };
}

/** Checks one gradient call and returns the normalised problem. Throws before any work. */
export function validateGradientCall(model: RnnModel, batch: Batch, options: GradientOptions): Problem {
  if (typeof options !== 'object' || options === null) fail('options', 'a GradientOptions object with a loss', options);
  const loss = validateLoss(options.loss);
  const checkFinite = checkOptionalBoolean('options.checkFinite', options.checkFinite);
  const m = validateModel(model, checkFinite);
  const { T, B, tokens, lengths } = validateBatch(batch, m, loss, checkFinite);
  const truncation = validateTruncation(options.truncation, T);
  const clipNorm = validateClipNorm(options.clipNorm);
  const inputGradient = checkOptionalBoolean('options.inputGradient', options.inputGradient);
  const gradNormPerStep = checkOptionalBoolean('options.gradNormPerStep', options.gradNormPerStep);
  if (inputGradient && tokens) {
    throw new BpttInputError('options.inputGradient', 'value inputs (Float32Array x) for dx', 'token ids (Int32Array x)');
  }
  return {
    dims: { T, B, d: m.d, h: m.h, q: m.q },
    tokens,
    hasBias: m.hasBias,
    loss,
    truncation,
    clipNorm,
    inputGradient,
    gradNormPerStep,
    lengths,
  };
}

export function validateOptimizer(optimizer: OptimizerOptions): OptimizerOptions {
  if (typeof optimizer !== 'object' || optimizer === null) fail('options.optimizer', '{ kind: "sgd" | "adam", learningRate }', optimizer);
  if (optimizer.kind !== 'sgd' && optimizer.kind !== 'adam') fail('options.optimizer.kind', 'one of "sgd", "adam"', (optimizer as { kind?: unknown }).kind);
  const lr = checkFloat32Number('options.optimizer.learningRate', optimizer.learningRate, POSITIVE_F32);
  if (optimizer.kind === 'adam') {
    const { beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8 } = optimizer;
    checkFloat32Number('options.optimizer.beta1', beta1, UNIT_F32); // 1 in float32: 1 - beta^t = 0, a division by zero
    checkFloat32Number('options.optimizer.beta2', beta2, UNIT_F32);
    checkFloat32Number('options.optimizer.epsilon', epsilon, POSITIVE_F32); // flushed to zero: 0/0 where v = 0
    return { kind: 'adam', learningRate: lr, beta1, beta2, epsilon };
  }
  return { kind: 'sgd', learningRate: lr };
}

/**
 * Checks a trainer's options and returns a snapshot of them: plain values and
 * copies, so that a caller who changes (or freezes, or wraps in getters) the
 * object later changes nothing in the trainer.
 */
export function validateTrainerOptions(model: RnnModel, options: TrainerOptions): TrainerOptions {
  if (typeof options !== 'object' || options === null) fail('options', 'a TrainerOptions object with optimizer and loss', options);
  validateModel(model, checkOptionalBoolean('options.checkFinite', options.checkFinite));
  return snapshotTrainerOptions(options);
}

/** The model-independent part of validateTrainerOptions (SequenceModel trainers use it too): checked, and snapshotted. */
export function snapshotTrainerOptions(options: TrainerOptions): TrainerOptions {
  if (typeof options !== 'object' || options === null) fail('options', 'a TrainerOptions object with optimizer and loss', options);
  const checkFinite = checkOptionalBoolean('options.checkFinite', options.checkFinite);
  const carryState = checkOptionalBoolean('options.carryState', options.carryState);
  const optimizer = validateOptimizer(options.optimizer);
  const loss = validateLoss(options.loss);
  const clipNorm = validateClipNorm(options.clipNorm);
  const given = options.truncation;
  let truncation: Truncation | undefined;
  if (given !== undefined && typeof given === 'object' && given !== null && given.kind === 'randomized' && 'xi' in given && given.xi !== undefined) {
    // An explicit xi fixes T; it is checked against each batch in step(), on a copy taken now.
    const xi = given.xi;
    truncation = { kind: 'randomized', xi: xi instanceof Float32Array ? Float32Array.from(xi) : xi };
  } else {
    const t = validateTruncation(given, 1);
    truncation = t.kind === 'randomized' ? { kind: 'randomized', keepProbability: (t as { keepProbability: number }).keepProbability, seed: (t as { seed: number }).seed } : { ...t };
  }
  return { optimizer, loss, clipNorm, truncation, carryState, checkFinite };
}

/** StepOptions: absent, or an object whose flags are booleans. */
export function validateStepOptions(options: unknown): Required<StepOptions> {
  if (options === undefined) return { readGradNorm: false };
  if (typeof options !== 'object' || options === null) fail('options', 'a StepOptions object ({ readGradNorm? }) or undefined', options);
  return { readGradNorm: checkOptionalBoolean('options.readGradNorm', (options as StepOptions).readGradNorm) };
}

/** EngineOptions.limits: absent, or an object of positive byte counts. */
export function validateEngineLimits(limits: unknown): void {
  if (limits === undefined) return;
  if (typeof limits !== 'object' || limits === null) fail('options.limits', '{ maxStorageBufferBindingSize?, maxBufferSize? } in bytes', limits);
  for (const key of ['maxStorageBufferBindingSize', 'maxBufferSize'] as const) {
    const v = (limits as Record<string, unknown>)[key];
    if (v !== undefined && (typeof v !== 'number' || !(v > 0))) fail(`options.limits.${key}`, 'a positive number of bytes', v);
  }
}

// Validation of a SequenceModel, its batch and its options (API.md "Gated cells,
// stacks, both directions, different lengths"): every field is checked before
// any work, and a refusal names the argument, the expected shape and the received one.
import { BpttInputError, describe } from './errors.js';
import { CELLS, stackShape } from './sequence-model.js';
import type { Activation, Batch, CellKind, GradientOptions, LossKind, SequenceModel, TrainerOptions, Truncation } from './types.js';
import {
  ACTIVATIONS,
  checkFiniteArray,
  checkFloat32,
  checkIds,
  checkLengths,
  checkOptionalBoolean,
  snapshotTrainerOptions,
  checkPositiveInt,
  fail,
  validateClipNorm,
  validateLoss,
  validateTruncation,
  type Problem,
} from './validate.js';

/** Sizes of a checked SequenceModel. q = 0 without a head. */
export interface SequenceDims {
  cell: CellKind;
  activation: Activation; // 'tanh' for gated cells (unused there)
  d: number;
  h: number;
  q: number;
  L: number;
  dirs: number;
  G: number;
  hasBias: boolean; // layer biases bx, bh
  hasHead: boolean;
  hasHeadBias: boolean;
  rnnModel?: true; // an RnnModel's call (rnnSequenceDims): refusals name its fields (model.outputSize, not model.head.outputSize)
}

/** A checked SequenceModel call: what the CPU reference and the GPU host branch on. */
export interface SequenceProblem extends SequenceDims {
  T: number;
  B: number;
  tokens: boolean;
  loss: LossKind;
  truncation: Truncation;
  clipNorm: number | undefined;
  inputGradient: boolean;
  gradNormPerStep: boolean;
  lengths: Int32Array | null; // [B], each in 1..T
}

export function validateSequenceModel(model: SequenceModel, checkFinite = false): SequenceDims {
  if (typeof model !== 'object' || model === null) fail('model', 'an RnnModel or SequenceModel object', model);
  if (!CELLS.includes(model.cell)) fail('model.cell', `one of ${CELLS.map((c) => `"${c}"`).join(', ')}`, model.cell);
  const d = checkPositiveInt('model.inputSize', model.inputSize);
  const h = checkPositiveInt('model.hiddenSize', model.hiddenSize);
  if (model.numLayers !== undefined) {
    const L = model.numLayers;
    if (typeof L !== 'number' || !Number.isInteger(L) || L < 1 || L > 8) fail('model.numLayers', 'an integer in 1..8', L);
  }
  if (model.bidirectional !== undefined && typeof model.bidirectional !== 'boolean') fail('model.bidirectional', 'a boolean', model.bidirectional);
  let activation: Activation = 'tanh';
  if (model.cell === 'rnn') {
    if (model.activation !== undefined) {
      if (!ACTIVATIONS.includes(model.activation)) fail('model.activation', `one of ${ACTIVATIONS.join(', ')}`, model.activation);
      activation = model.activation;
    }
  } else if (model.activation !== undefined) {
    fail('model.activation', `no activation for a ${model.cell} cell (its gates fix sigma and tanh)`, model.activation);
  }
  const { L, dirs, G, inputWidth } = stackShape(model);
  if (!Array.isArray(model.layers) || model.layers.length !== L * dirs) {
    fail('model.layers', `an Array of L*dirs = ${L * dirs} layers (numLayers ${L}, ${dirs === 2 ? 'bidirectional' : 'one direction'})`, model.layers);
  }
  const hasBias = typeof model.layers[0] === 'object' && model.layers[0] !== null && model.layers[0].bx !== undefined;
  for (let k = 0; k < L * dirs; k++) {
    const layer = model.layers[k];
    const name = `model.layers[${k}]`;
    if (typeof layer !== 'object' || layer === null) fail(name, '{ Wx, Wh, bx?, bh? }', layer);
    const nIn = inputWidth(Math.floor(k / dirs));
    checkFloat32(`${name}.Wx`, layer.Wx, G * h * nIn, `[G*h, n_in] = [${G * h}, ${nIn}]`);
    checkFloat32(`${name}.Wh`, layer.Wh, G * h * h, `[G*h, h] = [${G * h}, ${h}]`);
    for (const key of ['bx', 'bh'] as const) {
      const given = layer[key] !== undefined;
      if (given !== hasBias) {
        const why = hasBias ? 'model.layers[0].bx is given' : 'model.layers[0].bx is absent';
        throw new BpttInputError(`${name}.${key}`, `both biases in every layer, or neither (${why})`, describe(layer[key]));
      }
      if (given) checkFloat32(`${name}.${key}`, layer[key], G * h, `[G*h] = [${G * h}]`);
    }
    if (checkFinite) {
      checkFiniteArray(`${name}.Wx`, layer.Wx);
      checkFiniteArray(`${name}.Wh`, layer.Wh);
      if (hasBias) {
        checkFiniteArray(`${name}.bx`, layer.bx!);
        checkFiniteArray(`${name}.bh`, layer.bh!);
      }
    }
  }
  let q = 0;
  let hasHeadBias = false;
  const head = model.head;
  if (head !== undefined) {
    if (typeof head !== 'object' || head === null) fail('model.head', '{ outputSize, W, b? } or undefined', head);
    q = checkPositiveInt('model.head.outputSize', head.outputSize);
    checkFloat32('model.head.W', head.W, q * dirs * h, `[q, dirs*h] = [${q}, ${dirs * h}]`);
    if (head.b !== undefined) {
      checkFloat32('model.head.b', head.b, q, `[q] = [${q}]`);
      hasHeadBias = true;
    }
    if (checkFinite) {
      checkFiniteArray('model.head.W', head.W);
      if (head.b) checkFiniteArray('model.head.b', head.b);
    }
  }
  return { cell: model.cell, activation, d, h, q, L, dirs, G, hasBias, hasHead: head !== undefined, hasHeadBias };
}

/** A model whose layers are the loss: the loss kind its head (or lack of one) allows. */
function checkLossForHead(loss: LossKind, dims: SequenceDims, argument: string): void {
  if (!dims.hasHead && loss !== 'none') fail(argument, '"none" for a model without head (give batch.dY)', loss);
}

/** Checks a batch against a SequenceModel's sizes; returns T, B, whether x holds token ids, and the lengths. */
export function validateSequenceBatch(
  batch: Batch,
  dims: SequenceDims,
  loss: LossKind | null, // null: a forward-only call, which needs no y, dO or dY
  checkFinite = false,
): { T: number; B: number; tokens: boolean; lengths: Int32Array | null } {
  if (typeof batch !== 'object' || batch === null) fail('batch', 'a Batch object', batch);
  const T = checkPositiveInt('batch.steps', batch.steps);
  const B = checkPositiveInt('batch.batchSize', batch.batchSize);
  const { d, h, q, L, dirs } = dims;
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
  if (loss === null) {
    // forward only: nothing upstream to check
  } else if (dims.hasHead) {
    if (batch.dY !== undefined) fail('batch.dY', 'undefined for a model with a head (give y, or dO with loss "none")', batch.dY);
    if (loss === 'cross-entropy') {
      if (!(batch.y instanceof Int32Array) || batch.y.length !== T * B) fail('batch.y', `Int32Array of length T*B = ${T * B} ([T, B] class ids, for cross-entropy)`, batch.y);
      checkIds('batch.y', batch.y, q, 'class ids');
    } else if (loss === 'mse') {
      checkFloat32('batch.y', batch.y, T * B * q, `[T, B, q] = [${T}, ${B}, ${q}] targets, for mse`);
      if (checkFinite) checkFiniteArray('batch.y', batch.y as Float32Array);
    } else if (loss === 'none') {
      checkFloat32('batch.dO', batch.dO, T * B * q, `[T, B, q] = [${T}, ${B}, ${q}] upstream gradient, for loss "none"`);
      if (checkFinite) checkFiniteArray('batch.dO', batch.dO!);
    }
  } else {
    if (batch.dO !== undefined) fail('batch.dO', 'undefined for a model without head (give dY on the top layer output)', batch.dO);
    checkFloat32('batch.dY', batch.dY, T * B * dirs * h, `[T, B, dirs*h] = [${T}, ${B}, ${dirs * h}] upstream gradient on the top layer output`);
    if (checkFinite) checkFiniteArray('batch.dY', batch.dY!);
  }
  const stateShape = `[L*dirs, B, h] = [${L * dirs}, ${B}, ${h}]`;
  for (const key of ['h0', 'dhT', 'c0', 'dcT'] as const) {
    const v = batch[key];
    if (v === undefined) continue;
    if ((key === 'c0' || key === 'dcT') && dims.cell !== 'lstm') fail(`batch.${key}`, `undefined for a ${dims.cell} cell (a cell state is lstm only)`, v);
    checkFloat32(`batch.${key}`, v, L * dirs * B * h, stateShape);
    if (checkFinite) checkFiniteArray(`batch.${key}`, v);
  }
  const lengths = checkLengths(batch.lengths, T, B);
  return { T, B, tokens, lengths };
}

/** window(tau) is defined for one direction only (MATH.md). */
function checkTruncationForStack(truncation: Truncation | undefined, dims: SequenceDims, argument: string): void {
  if (truncation?.kind === 'window' && dims.dirs === 2) {
    fail(argument, 'full, chunked or randomized truncation for a bidirectional model (window is one-directional)', 'window');
  }
}

export function validateSequenceCall(model: SequenceModel, batch: Batch, options: GradientOptions): SequenceProblem {
  if (typeof options !== 'object' || options === null) fail('options', 'a GradientOptions object with a loss', options);
  const loss = validateLoss(options.loss);
  const checkFinite = checkOptionalBoolean('options.checkFinite', options.checkFinite);
  const dims = validateSequenceModel(model, checkFinite);
  checkLossForHead(loss, dims, 'options.loss');
  const { T, B, tokens, lengths } = validateSequenceBatch(batch, dims, loss, checkFinite);
  checkTruncationForStack(options.truncation, dims, 'options.truncation');
  const truncation = validateTruncation(options.truncation, T);
  const clipNorm = validateClipNorm(options.clipNorm);
  const inputGradient = checkOptionalBoolean('options.inputGradient', options.inputGradient);
  const gradNormPerStep = checkOptionalBoolean('options.gradNormPerStep', options.gradNormPerStep);
  if (inputGradient && tokens) throw new BpttInputError('options.inputGradient', 'value inputs (Float32Array x) for dx', 'token ids (Int32Array x)');
  return { ...dims, T, B, tokens, loss, truncation, clipNorm, inputGradient, gradNormPerStep, lengths };
}

export function validateSequenceTrainerOptions(model: SequenceModel, options: TrainerOptions): TrainerOptions & { dims: SequenceDims } {
  if (typeof options !== 'object' || options === null) fail('options', 'a TrainerOptions object with optimizer and loss', options);
  const dims = validateSequenceModel(model, checkOptionalBoolean('options.checkFinite', options.checkFinite));
  checkTruncationForStack(options.truncation, dims, 'options.truncation');
  const snapshot = snapshotTrainerOptions(options);
  checkLossForHead(snapshot.loss, dims, 'options.loss');
  return { ...snapshot, dims };
}

/** A SequenceModel call's sizes with T and B, for problems built by the library itself (trainers). */
export function sequenceProblem(
  dims: SequenceDims,
  shape: { T: number; B: number; tokens: boolean; lengths: Int32Array | null },
  rest: { loss: LossKind; truncation: Truncation; clipNorm?: number; inputGradient?: boolean; gradNormPerStep?: boolean },
): SequenceProblem {
  return {
    ...dims,
    ...shape,
    loss: rest.loss,
    truncation: rest.truncation,
    clipNorm: rest.clipNorm,
    inputGradient: rest.inputGradient === true,
    gradNormPerStep: rest.gradNormPerStep === true,
  };
}

/** The SequenceProblem of a checked RnnModel call (rnnAsSequence's model: one rnn layer, bias bx only, a head). */
export function sequenceProblemOfRnn(activation: Activation, p: Problem, lengths: Int32Array | null): SequenceProblem {
  const { T, B, d, h, q } = p.dims;
  return {
    ...rnnSequenceDims(activation, d, h, q, p.hasBias),
    T,
    B,
    tokens: p.tokens,
    loss: p.loss,
    truncation: p.truncation,
    clipNorm: p.clipNorm,
    inputGradient: p.inputGradient,
    gradNormPerStep: p.gradNormPerStep,
    lengths,
  };
}

/** The SequenceDims of an RnnModel's sizes (rnnAsSequence: one rnn layer, a head, bh as bx). */
export function rnnSequenceDims(activation: Activation, d: number, h: number, q: number, hasBias: boolean): SequenceDims {
  return { cell: 'rnn', activation, d, h, q, L: 1, dirs: 1, G: 1, hasBias, hasHead: true, hasHeadBias: hasBias, rnnModel: true };
}

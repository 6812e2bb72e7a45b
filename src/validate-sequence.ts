// Validation of SequenceModel calls (MATH.md part 2, API.md): every shape of
// the model and the batch is checked before any work, naming the argument.
// (Provisional for the WebGPU engine; the CPU engine's branch brings the full
// checks of issue 10, which replace these when the branches meet.)
import { BpttInputError, describe } from './errors.js';
import type { Batch, GradientOptions, LossKind, SequenceModel, TrainerOptions, Truncation } from './types.js';
import { GATE_COUNT, type SequenceDims, sequenceDims } from './sequence-layout.js';
import { checkFiniteArray, checkFloat32, checkIds, checkPositiveInt, fail, validateClipNorm, validateLoss, validateOptimizer, validateTruncation } from './validate.js';

export interface SequenceProblem {
  dims: SequenceDims;
  T: number;
  B: number;
  tokens: boolean;
  loss: LossKind;
  truncation: Truncation;
  clipNorm: number | undefined;
  inputGradient: boolean;
  gradNormPerStep: boolean;
}

export function isSequenceModel(model: unknown): model is SequenceModel {
  return typeof model === 'object' && model !== null && 'cell' in model;
}

export function validateSequenceModel(model: SequenceModel, checkFinite = false): SequenceDims {
  if (typeof model !== 'object' || model === null) fail('model', 'a SequenceModel object', model);
  if (!(model.cell in GATE_COUNT)) fail('model.cell', "one of 'rnn', 'gru', 'lstm'", model.cell);
  const d = checkPositiveInt('model.inputSize', model.inputSize);
  const h = checkPositiveInt('model.hiddenSize', model.hiddenSize);
  const L = model.numLayers === undefined ? 1 : checkPositiveInt('model.numLayers', model.numLayers);
  if (L > 8) fail('model.numLayers', 'an integer in 1..8', L);
  if (model.bidirectional !== undefined && typeof model.bidirectional !== 'boolean') fail('model.bidirectional', 'true or false', model.bidirectional);
  if (model.activation !== undefined) {
    if (model.cell !== 'rnn') fail('model.activation', `no activation for cell '${model.cell}' (only 'rnn' takes one)`, model.activation);
    if (!['identity', 'tanh', 'relu'].includes(model.activation)) fail('model.activation', 'one of identity, tanh, relu', model.activation);
  }
  const dirs = model.bidirectional ? 2 : 1;
  const G = GATE_COUNT[model.cell];
  if (!Array.isArray(model.layers) || model.layers.length !== L * dirs) fail('model.layers', `an array of L*dirs = ${L * dirs} layer-directions`, model.layers);
  const hasBias = model.layers[0]?.bx !== undefined;
  model.layers.forEach((layer, k) => {
    const nIn = k < dirs ? d : dirs * h;
    const name = `model.layers[${k}]`;
    if (typeof layer !== 'object' || layer === null) fail(name, '{ Wx, Wh, bx?, bh? }', layer);
    checkFloat32(`${name}.Wx`, layer.Wx, G * h * nIn, `[G*h, n_in] = [${G * h}, ${nIn}]`);
    checkFloat32(`${name}.Wh`, layer.Wh, G * h * h, `[G*h, h] = [${G * h}, ${h}]`);
    for (const key of ['bx', 'bh'] as const) {
      const v = layer[key];
      if ((v !== undefined) !== hasBias) {
        throw new BpttInputError(`${name}.${key}`, hasBias ? `a bias [G*h] = [${G * h}] (every layer has both biases, or none)` : 'no bias (layer 0 has none: every layer has both, or none)', describe(v));
      }
      if (v !== undefined) checkFloat32(`${name}.${key}`, v, G * h, `[G*h] = [${G * h}]`);
    }
    if (checkFinite) for (const key of ['Wx', 'Wh', 'bx', 'bh'] as const) if (layer[key]) checkFiniteArray(`${name}.${key}`, layer[key]!);
  });
  if (model.head !== undefined) {
    const head = model.head;
    if (typeof head !== 'object' || head === null) fail('model.head', '{ outputSize, W, b? }', head);
    const q = checkPositiveInt('model.head.outputSize', head.outputSize);
    checkFloat32('model.head.W', head.W, q * dirs * h, `[q, dirs*h] = [${q}, ${dirs * h}]`);
    if (head.b !== undefined) checkFloat32('model.head.b', head.b, q, `[q] = [${q}]`);
    if (checkFinite) checkFiniteArray('model.head.W', head.W);
  }
  return sequenceDims(model);
}

function checkStates(batch: Batch, s: SequenceDims, B: number, checkFinite: boolean): void {
  const K = s.L * s.dirs;
  for (const key of ['h0', 'dhT', 'c0', 'dcT'] as const) {
    const v = batch[key];
    if (v === undefined) continue;
    if ((key === 'c0' || key === 'dcT') && s.cell !== 'lstm') fail(`batch.${key}`, `no ${key} (only an lstm has a cell state)`, v);
    checkFloat32(`batch.${key}`, v, K * B * s.h, `[L*dirs, B, h] = [${K}, ${B}, ${s.h}]`);
    if (checkFinite) checkFiniteArray(`batch.${key}`, v);
  }
}

export function validateSequenceBatch(batch: Batch, s: SequenceDims, loss: LossKind, checkFinite = false): { T: number; B: number; tokens: boolean } {
  if (typeof batch !== 'object' || batch === null) fail('batch', 'a Batch object', batch);
  const T = checkPositiveInt('batch.steps', batch.steps);
  const B = checkPositiveInt('batch.batchSize', batch.batchSize);
  const x = batch.x;
  let tokens = false;
  if (x instanceof Int32Array) {
    if (x.length !== T * B) fail('batch.x', `Int32Array of length T*B = ${T * B} ([T, B] = [${T}, ${B}] token ids)`, x);
    checkIds('batch.x', x, s.d, 'token ids');
    tokens = true;
  } else if (x instanceof Float32Array) {
    if (x.length !== T * B * s.d) fail('batch.x', `Float32Array of length T*B*d = ${T * B * s.d} ([T, B, d] = [${T}, ${B}, ${s.d}])`, x);
    if (checkFinite) checkFiniteArray('batch.x', x);
  } else {
    fail('batch.x', `Float32Array [T, B, d] = [${T}, ${B}, ${s.d}] or Int32Array [T, B] = [${T}, ${B}] of token ids`, x);
  }
  const q = s.q;
  const top = s.dirs * s.h;
  if (q === 0) {
    if (loss !== 'none') fail('options.loss', `"none" (the model has no head: the gradient comes as batch.dY)`, loss);
    checkFloat32('batch.dY', batch.dY, T * B * top, `[T, B, dirs*h] = [${T}, ${B}, ${top}] upstream gradient on the top layer's output`);
  } else {
    if (batch.dY !== undefined) fail('batch.dY', 'no dY (the model has a head: give y, or dO with loss "none")', batch.dY);
    if (loss === 'cross-entropy') {
      if (!(batch.y instanceof Int32Array) || batch.y.length !== T * B) fail('batch.y', `Int32Array of length T*B = ${T * B} ([T, B] class ids, for cross-entropy)`, batch.y);
      checkIds('batch.y', batch.y as Int32Array, q, 'class ids');
    } else if (loss === 'mse') {
      checkFloat32('batch.y', batch.y, T * B * q, `[T, B, q] = [${T}, ${B}, ${q}] targets, for mse`);
    } else {
      checkFloat32('batch.dO', batch.dO, T * B * q, `[T, B, q] = [${T}, ${B}, ${q}] upstream gradient, for loss "none"`);
    }
  }
  if (batch.lengths !== undefined) fail('batch.lengths', 'no lengths (different lengths are not supported by this engine yet)', batch.lengths);
  checkStates(batch, s, B, checkFinite);
  return { T, B, tokens };
}

export function validateSequenceCall(model: SequenceModel, batch: Batch, options: GradientOptions): SequenceProblem {
  if (typeof options !== 'object' || options === null) fail('options', 'a GradientOptions object with a loss', options);
  const loss = validateLoss(options.loss);
  const checkFinite = options.checkFinite === true;
  const dims = validateSequenceModel(model, checkFinite);
  const { T, B, tokens } = validateSequenceBatch(batch, dims, loss, checkFinite);
  const truncation = validateTruncation(options.truncation, T);
  if (truncation.kind === 'window' && dims.dirs === 2) fail('options.truncation', 'full, chunked or randomized truncation (window is defined for one direction only)', 'window with bidirectional');
  const inputGradient = options.inputGradient === true;
  if (inputGradient && tokens) throw new BpttInputError('options.inputGradient', 'value inputs (Float32Array x) for dx', 'token ids (Int32Array x)');
  return { dims, T, B, tokens, loss, truncation, clipNorm: validateClipNorm(options.clipNorm), inputGradient, gradNormPerStep: options.gradNormPerStep === true };
}

/** Trainer options for a SequenceModel: the model, optimizer, loss, clipping and truncation (window refused with both directions). */
export function validateSequenceTrainerOptions(model: SequenceModel, options: TrainerOptions): TrainerOptions {
  if (typeof options !== 'object' || options === null) fail('options', 'a TrainerOptions object with optimizer and loss', options);
  const dims = validateSequenceModel(model, options.checkFinite === true);
  const optimizer = validateOptimizer(options.optimizer);
  const loss = validateLoss(options.loss);
  const clipNorm = validateClipNorm(options.clipNorm);
  if (!(options.truncation?.kind === 'randomized' && 'xi' in options.truncation)) validateTruncation(options.truncation, 1);
  if (options.truncation?.kind === 'window' && dims.dirs === 2) fail('options.truncation', 'full, chunked or randomized truncation (window is defined for one direction only)', 'window with bidirectional');
  if (dims.q === 0 && loss !== 'none') fail('options.loss', '"none" (the model has no head: the gradient comes as batch.dY)', loss);
  return { ...options, optimizer, loss, clipNorm };
}

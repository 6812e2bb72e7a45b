// Validation of the forward-only calls (API.md "Forward only"): engine.forward
// and engine.generate take any model; an RnnModel is checked as itself and then
// run as its SequenceModel (sequence-model.ts rnnAsSequence).
import { BpttInputError } from './errors.js';
import { isSequenceModel, rnnAsSequence } from './sequence-model.js';
import type { AnyModel, Batch, ForwardOptions, GenerateOptions, LossKind, SequenceModel } from './types.js';
import { checkIds, fail, validateModel } from './validate.js';
import { rnnSequenceDims, validateSequenceBatch, validateSequenceModel, type SequenceDims, type SequenceProblem } from './validate-sequence.js';

/** The dims of any model, and the model as a SequenceModel. */
export function modelAsSequence(model: AnyModel): { sequence: SequenceModel; dims: SequenceDims } {
  if (typeof model === 'object' && model !== null && isSequenceModel(model)) return { sequence: model, dims: validateSequenceModel(model) };
  const m = validateModel(model);
  return { sequence: rnnAsSequence(model), dims: rnnSequenceDims(model.activation, m.d, m.h, m.q, m.hasBias) };
}

export interface ForwardCall {
  sequence: SequenceModel;
  problem: SequenceProblem; // loss 'none' without y
  outputs: { O: boolean; Y: boolean };
  withLoss: boolean;
}

export function validateForwardCall(model: AnyModel, batch: Batch, options: ForwardOptions = {}): ForwardCall {
  if (typeof options !== 'object' || options === null) fail('options', "a ForwardOptions object ({ outputs?: ['O', 'Y'] })", options);
  const { sequence, dims } = modelAsSequence(model);
  const outputs = { O: false, Y: false };
  if (options.outputs !== undefined) {
    if (!Array.isArray(options.outputs) || options.outputs.some((o) => o !== 'O' && o !== 'Y')) fail('options.outputs', "an Array of 'O' and 'Y'", options.outputs);
    for (const o of options.outputs) outputs[o] = true;
  }
  if (outputs.O && !dims.hasHead) fail('options.outputs', "'Y' only for a model without head (O is the head's output)", options.outputs);
  if (typeof batch !== 'object' || batch === null) fail('batch', 'a Batch object', batch);
  let loss: LossKind | null = null;
  if (batch.y !== undefined) {
    if (!dims.hasHead) fail('batch.y', 'undefined for a model without head (there is no loss)', batch.y);
    if (batch.y instanceof Int32Array) loss = 'cross-entropy';
    else if (batch.y instanceof Float32Array) loss = 'mse';
    else fail('batch.y', 'Int32Array [T, B] class ids (cross-entropy) or Float32Array [T, B, q] targets (mse)', batch.y);
  }
  const shape = validateSequenceBatch(batch, dims, loss);
  const problem: SequenceProblem = {
    ...dims,
    ...shape,
    loss: loss ?? 'none',
    truncation: { kind: 'full' },
    clipNorm: undefined,
    inputGradient: false,
    gradNormPerStep: false,
  };
  return { sequence, problem, outputs, withLoss: loss !== null };
}

export interface GenerateCall {
  sequence: SequenceModel;
  dims: SequenceDims;
  prefix: Int32Array;
  steps: number;
  temperature: number;
  seed: number;
}

export function validateGenerateCall(model: AnyModel, options: GenerateOptions): GenerateCall {
  const { sequence, dims } = modelAsSequence(model);
  if (!dims.hasHead || dims.q !== dims.d) {
    const argument = isSequenceModel(model) ? 'model.head.outputSize' : 'model.outputSize';
    fail(argument, `the vocabulary size d = ${dims.d} (generate feeds each prediction back in as a token id)`, dims.hasHead ? dims.q : undefined);
  }
  if (dims.dirs !== 1) throw new BpttInputError('model.bidirectional', 'a one-directional model for generate (the reverse direction would need the future)', 'true');
  if (typeof options !== 'object' || options === null) fail('options', '{ prefix: Int32Array, steps, temperature?, seed? }', options);
  const { prefix, steps, temperature = 0, seed = 0 } = options;
  if (!(prefix instanceof Int32Array) || prefix.length < 1) fail('options.prefix', 'an Int32Array of at least one token id', prefix);
  checkIds('options.prefix', prefix, dims.d, 'token ids');
  if (typeof steps !== 'number' || !Number.isInteger(steps) || steps < 1) fail('options.steps', 'a positive integer (the number of new tokens)', steps);
  if (typeof temperature !== 'number' || !(temperature >= 0) || !Number.isFinite(temperature)) fail('options.temperature', 'a finite number >= 0 (0: argmax)', temperature);
  if (typeof seed !== 'number' || !Number.isInteger(seed)) fail('options.seed', 'an integer', seed);
  return { sequence, dims, prefix, steps, temperature, seed };
}

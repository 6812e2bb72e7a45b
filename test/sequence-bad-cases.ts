// The bad SequenceModel calls of the validation tests, shared by
// cpu-sequence-validation.test.ts (the CPU engine) and the bad-input battery
// (reliability-bad-input.test.ts: the 'wasm' engine): each is refused before
// any work with a BpttInputError naming the argument, the expected shape and
// the received one, and the engine then gives the same answer to the valid call.
import { expect } from 'vitest';
import { BpttInputError, type Engine } from '../src/index.js';
import type { Batch, GradientOptions, SequenceModel } from '../src/types.js';
import { randomSequenceProblem, type SequenceSpec } from './cpu-sequence-helpers.js';

export interface Call {
  model: SequenceModel;
  batch: Batch;
  options: GradientOptions;
}

// T=4 B=3 d=5 h=4 q=6, 2 layers
export const BASE: SequenceSpec = { cell: 'lstm', T: 4, B: 3, d: 5, h: 4, q: 6, L: 2, states: true, seed: 5 };

export function valid(spec: Partial<SequenceSpec> = {}): Call {
  const s = { ...BASE, ...spec };
  const { model, batch } = randomSequenceProblem(s);
  return { model, batch, options: { loss: s.q ? 'cross-entropy' : 'none', gradNormPerStep: true } };
}

export interface BadCase {
  name: string;
  spec?: Partial<SequenceSpec>;
  change: (c: Call) => void;
  argument: string;
  expected: string[];
  received: string;
}

export const BAD_SEQUENCE_CASES: BadCase[] = [
  { name: 'cell', change: (c) => ((c.model as { cell: string }).cell = 'transformer'), argument: 'model.cell', expected: ['"rnn", "gru", "lstm"'], received: '"transformer"' },
  { name: 'numLayers 9', change: (c) => (c.model.numLayers = 9), argument: 'model.numLayers', expected: ['integer in 1..8'], received: '9' },
  { name: 'layer count other than L*dirs', change: (c) => c.model.layers.pop(), argument: 'model.layers', expected: ['L*dirs = 2'], received: 'Array of length 1' },
  { name: 'layer count, bidirectional', change: (c) => (c.model.bidirectional = true), argument: 'model.layers', expected: ['L*dirs = 4', 'bidirectional'], received: 'Array of length 2' },
  { name: "a layer's Wx of the wrong width", change: (c) => (c.model.layers[1].Wx = new Float32Array(16 * 5)), argument: 'model.layers[1].Wx', expected: ['length 64', '[G*h, n_in] = [16, 4]'], received: 'Float32Array of length 80' },
  { name: 'Wh', change: (c) => (c.model.layers[0].Wh = new Float32Array(15)), argument: 'model.layers[0].Wh', expected: ['length 64', '[G*h, h] = [16, 4]'], received: 'Float32Array of length 15' },
  { name: 'biases in some layers only', change: (c) => delete c.model.layers[1].bx, argument: 'model.layers[1].bx', expected: ['both biases in every layer, or neither', 'layers[0].bx is given'], received: 'undefined' },
  { name: 'bh without bx', spec: { bias: false }, change: (c) => (c.model.layers[1].bh = new Float32Array(16)), argument: 'model.layers[1].bh', expected: ['or neither', 'absent'], received: 'Float32Array of length 16' },
  { name: 'bias length', change: (c) => (c.model.layers[0].bh = new Float32Array(4)), argument: 'model.layers[0].bh', expected: ['length 16', '[G*h] = [16]'], received: 'Float32Array of length 4' },
  { name: 'activation on a gated cell', change: (c) => (c.model.activation = 'relu'), argument: 'model.activation', expected: ['no activation for a lstm cell'], received: '"relu"' },
  { name: 'head.W', change: (c) => (c.model.head!.W = new Float32Array(23)), argument: 'model.head.W', expected: ['length 24', '[q, dirs*h] = [6, 4]'], received: 'Float32Array of length 23' },
  { name: 'c0 on a non-LSTM', spec: { cell: 'gru' }, change: (c) => (c.batch.c0 = new Float32Array(24)), argument: 'batch.c0', expected: ['undefined for a gru cell'], received: 'Float32Array of length 24' },
  { name: 'dcT on a non-LSTM', spec: { cell: 'rnn' }, change: (c) => (c.batch.dcT = new Float32Array(24)), argument: 'batch.dcT', expected: ['undefined for a rnn cell'], received: 'Float32Array of length 24' },
  { name: 'h0 shape', change: (c) => (c.batch.h0 = new Float32Array(12)), argument: 'batch.h0', expected: ['length 24', '[L*dirs, B, h] = [2, 3, 4]'], received: 'Float32Array of length 12' },
  { name: 'c0 shape', change: (c) => (c.batch.c0 = new Float32Array(25)), argument: 'batch.c0', expected: ['length 24'], received: 'Float32Array of length 25' },
  { name: 'dY with a head', change: (c) => (c.batch.dY = new Float32Array(48)), argument: 'batch.dY', expected: ['undefined for a model with a head'], received: 'Float32Array of length 48' },
  { name: 'dY missing without head', spec: { q: undefined }, change: (c) => delete c.batch.dY, argument: 'batch.dY', expected: ['length 48', '[T, B, dirs*h] = [4, 3, 4]'], received: 'undefined' },
  { name: 'dY of the wrong size', spec: { q: undefined, bidirectional: true }, change: (c) => (c.batch.dY = new Float32Array(48)), argument: 'batch.dY', expected: ['length 96', '[T, B, dirs*h] = [4, 3, 8]'], received: 'Float32Array of length 48' },
  { name: 'a loss without head', spec: { q: undefined }, change: (c) => (c.options.loss = 'mse'), argument: 'options.loss', expected: ['"none" for a model without head'], received: '"mse"' },
  { name: 'dO without head', spec: { q: undefined }, change: (c) => (c.batch.dO = new Float32Array(48)), argument: 'batch.dO', expected: ['undefined for a model without head'], received: 'Float32Array of length 48' },
  { name: 'window with bidirectional', spec: { bidirectional: true }, change: (c) => (c.options.truncation = { kind: 'window', steps: 2 }), argument: 'options.truncation', expected: ['bidirectional', 'window is one-directional'], received: 'window' },
  { name: 'a length of 0', change: (c) => (c.batch.lengths = Int32Array.from([4, 0, 2])), argument: 'batch.lengths', expected: ['each length in 1..T = 1..4'], received: '0 at index 1' },
  { name: 'a length above T', change: (c) => (c.batch.lengths = Int32Array.from([5, 1, 2])), argument: 'batch.lengths', expected: ['1..4'], received: '5 at index 0' },
  { name: 'non-integer lengths', change: (c) => ((c.batch as { lengths: unknown }).lengths = Float32Array.from([1.5, 2, 3])), argument: 'batch.lengths', expected: ['Int32Array of length B = 3'], received: 'Float32Array of length 3' },
  { name: 'lengths of the wrong size', change: (c) => (c.batch.lengths = Int32Array.from([1, 2])), argument: 'batch.lengths', expected: ['Int32Array of length B = 3'], received: 'Int32Array of length 2' },
  { name: 'token id out of range', spec: { tokens: true }, change: (c) => ((c.batch.x as Int32Array)[3] = 5), argument: 'batch.x', expected: ['token ids in [0, 5)'], received: '5 at index 3' },
  { name: 'a flag that is not a boolean', change: (c) => ((c.options as { gradNormPerStep: unknown }).gradNormPerStep = 'yes'), argument: 'options.gradNormPerStep', expected: ['true, false or undefined'], received: '"yes"' },
  { name: 'dx with token ids', spec: { tokens: true }, change: (c) => (c.options.inputGradient = true), argument: 'options.inputGradient', expected: ['value inputs'], received: 'token ids' },
];

/** The bad call refused as it must be, and the valid call's answer the same before and after it. */
export async function expectRefused(engine: Engine, bad: BadCase): Promise<void> {
  const good = valid(bad.spec);
  const before = await engine.gradients(good.model, good.batch, good.options);
  const c = valid(bad.spec);
  bad.change(c);
  const err = await engine.gradients(c.model, c.batch, c.options).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BpttInputError);
  const e = err as BpttInputError;
  expect(e.argument).toBe(bad.argument);
  expect(e.message.startsWith(`${bad.argument}: expected `)).toBe(true);
  const [expectedPart, receivedPart] = e.message.split('; received ');
  for (const s of bad.expected) expect(expectedPart).toContain(s);
  expect(receivedPart).toContain(bad.received);
  // the engine still works, with the same answer
  const after = await engine.gradients(good.model, good.batch, good.options);
  expect(after).toEqual(before);
}

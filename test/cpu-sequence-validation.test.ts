// Bad input to a SequenceModel call is refused before any work with a
// BpttInputError naming the argument, the expected shape and the received one,
// and the engine then gives the same answer to the valid call as before.
// Also: fromTorch(toTorch(m)) round-trips, and fromTorch refuses bad records.
import { beforeAll, describe, expect, it } from 'vitest';
import { BpttInputError, createEngine, fromTorch, toTorch, type Engine } from '../src/index.js';
import type { Batch, GradientOptions, SequenceModel } from '../src/types.js';
import { randomSequenceProblem, type SequenceSpec } from './cpu-sequence-helpers.js';

let engine: Engine;
beforeAll(async () => {
  engine = await createEngine({ backend: 'cpu' });
});

interface Call {
  model: SequenceModel;
  batch: Batch;
  options: GradientOptions;
}

// T=4 B=3 d=5 h=4 q=6, 2 layers
const BASE: SequenceSpec = { cell: 'lstm', T: 4, B: 3, d: 5, h: 4, q: 6, L: 2, states: true, seed: 5 };

function valid(spec: Partial<SequenceSpec> = {}): Call {
  const s = { ...BASE, ...spec };
  const { model, batch } = randomSequenceProblem(s);
  return { model, batch, options: { loss: s.q ? 'cross-entropy' : 'none', gradNormPerStep: true } };
}

interface BadCase {
  name: string;
  spec?: Partial<SequenceSpec>;
  change: (c: Call) => void;
  argument: string;
  expected: string[];
  received: string;
}

const CASES: BadCase[] = [
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

describe('bad SequenceModel input is refused before any work, naming the argument', () => {
  for (const bad of CASES) {
    it(bad.name, async () => {
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
    });
  }
});

describe('fromTorch and toTorch', () => {
  for (const spec of [
    { cell: 'lstm', L: 2, bidirectional: true, q: 3 },
    { cell: 'gru', L: 3, bias: false, q: 2, headBias: false },
    { cell: 'rnn', L: 1, activation: 'relu', q: undefined },
  ] as Partial<SequenceSpec>[]) {
    it(`round-trips a ${spec.cell} with ${spec.L} layers${spec.bidirectional ? ', bidirectional' : ''}`, () => {
      const { model } = randomSequenceProblem({ ...BASE, ...spec });
      const dict = toTorch(model);
      const L = model.numLayers ?? 1;
      expect(dict.weight_ih_l0).toEqual(model.layers[0].Wx);
      if (spec.bidirectional) expect(dict[`bias_hh_l${L - 1}_reverse`]).toEqual(model.layers[2 * L - 1].bh);
      const back = fromTorch(dict, { cell: model.cell, numLayers: model.numLayers, bidirectional: model.bidirectional, activation: model.activation });
      expect(back).toEqual(model);
      expect(back.layers[0].Wx).not.toBe(model.layers[0].Wx); // copies
    });
  }
  it('refuses a missing tensor, a wrong size and an unknown name, naming the key', () => {
    const { model } = randomSequenceProblem({ ...BASE });
    const dict = toTorch(model);
    const opts = { cell: 'lstm' as const, numLayers: 2 };
    const missing = { ...dict };
    delete missing.weight_hh_l1;
    expect(() => fromTorch(missing, opts)).toThrow(expect.objectContaining({ argument: 'stateDict["weight_hh_l1"]' }));
    expect(() => fromTorch({ ...dict, extra: new Float32Array(1) }, opts)).toThrow(expect.objectContaining({ argument: 'stateDict["extra"]' }));
    expect(() => fromTorch({ ...dict, weight_ih_l1: new Float32Array(3) }, opts)).toThrow(expect.objectContaining({ argument: 'model.layers[1].Wx' }));
    expect(() => fromTorch(dict, { ...opts, numLayers: 0 })).toThrow(expect.objectContaining({ argument: 'options.numLayers' }));
    expect(() => fromTorch(dict, { ...opts, activation: 'relu' })).toThrow(expect.objectContaining({ argument: 'options.activation' }));
    expect(() => fromTorch(dict, { ...opts, cell: 'gru' })).toThrow(expect.objectContaining({ argument: 'stateDict["weight_hh_l0"]' }));
    expect(fromTorch(dict, opts)).toEqual(model);
  });
});

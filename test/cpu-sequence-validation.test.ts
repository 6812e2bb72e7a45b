// Bad input to a SequenceModel call is refused before any work with a
// BpttInputError naming the argument, the expected shape and the received one,
// and the engine then gives the same answer to the valid call as before.
// Also: fromTorch(toTorch(m)) round-trips, and fromTorch refuses bad records.
import { beforeAll, describe, expect, it } from 'vitest';
import { createEngine, fromTorch, toTorch, type Engine } from '../src/index.js';
import { randomSequenceProblem, type SequenceSpec } from './cpu-sequence-helpers.js';
import { BAD_SEQUENCE_CASES, BASE, expectRefused } from './sequence-bad-cases.js';

let engine: Engine;
beforeAll(async () => {
  engine = await createEngine({ backend: 'cpu' });
});

describe('bad SequenceModel input is refused before any work, naming the argument', () => {
  for (const bad of BAD_SEQUENCE_CASES) it(bad.name, () => expectRefused(engine, bad));
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

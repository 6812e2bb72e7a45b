// Bad input is rejected before any work with a BpttInputError whose message
// names the argument, the expected shape and the received one (API.md), and
// the engine still gives the right answer afterwards.
import { beforeAll, describe, expect, it } from 'vitest';
import { BpttInputError, createEngine, type Engine } from '../src/index.js';
import type { Batch, GradientOptions, GradientResult, LossKind, RnnModel, TrainerOptions } from '../src/types.js';
import { randomProblem } from './helpers.js';

// T=5 B=3 d=4 h=7 q=5 throughout
const SIZES = { T: 5, B: 3, d: 4, h: 7, q: 5 };

interface Call {
  model: RnnModel;
  batch: Batch;
  options: GradientOptions;
}

function valid(loss: LossKind = 'cross-entropy', tokens = false): Call {
  const { model, batch } = randomProblem({ ...SIZES, loss, tokens, h0: true, dhT: true, seed: 91 });
  return { model, batch, options: { loss, inputGradient: !tokens, gradNormPerStep: true } };
}

interface BadCase {
  name: string;
  call: () => Call;
  argument: string; // BpttInputError.argument, and the start of the message
  expected: string[]; // substrings of the "expected ..." part
  received: string; // substring of the "received ..." part
}

/** A valid call with one change. */
function bad(change: (c: Call) => void, loss: LossKind = 'cross-entropy', tokens = false): () => Call {
  return () => {
    const c = valid(loss, tokens);
    change(c);
    return c;
  };
}

const CASES: Record<string, BadCase[]> = {
  'wrong lengths': [
    { name: 'Whx', call: bad((c) => (c.model.Whx = new Float32Array(27))), argument: 'model.Whx', expected: ['Float32Array of length 28', '[h, d] = [7, 4]'], received: 'Float32Array of length 27' },
    { name: 'Whh', call: bad((c) => (c.model.Whh = new Float32Array(50))), argument: 'model.Whh', expected: ['length 49', '[h, h] = [7, 7]'], received: 'Float32Array of length 50' },
    { name: 'Wqh', call: bad((c) => (c.model.Wqh = new Float32Array(7))), argument: 'model.Wqh', expected: ['length 35', '[q, h] = [5, 7]'], received: 'Float32Array of length 7' },
    { name: 'bh', call: bad((c) => (c.model.bh = new Float32Array(5))), argument: 'model.bh', expected: ['length 7', '[h] = [7]'], received: 'Float32Array of length 5' },
    { name: 'bq', call: bad((c) => (c.model.bq = new Float32Array(7))), argument: 'model.bq', expected: ['length 5', '[q] = [5]'], received: 'Float32Array of length 7' },
    { name: 'x values', call: bad((c) => (c.batch.x = new Float32Array(59))), argument: 'batch.x', expected: ['T*B*d = 60', '[T, B, d] = [5, 3, 4]'], received: 'Float32Array of length 59' },
    { name: 'x token ids', call: bad((c) => (c.batch.x = new Int32Array(14)), 'cross-entropy', true), argument: 'batch.x', expected: ['T*B = 15', '[T, B] = [5, 3]'], received: 'Int32Array of length 14' },
    { name: 'y class ids', call: bad((c) => (c.batch.y = new Int32Array(16))), argument: 'batch.y', expected: ['T*B = 15', 'class ids'], received: 'Int32Array of length 16' },
    { name: 'y mse targets', call: bad((c) => (c.batch.y = new Float32Array(74)), 'mse'), argument: 'batch.y', expected: ['length 75', '[T, B, q] = [5, 3, 5]'], received: 'Float32Array of length 74' },
    { name: 'dO', call: bad((c) => (c.batch.dO = new Float32Array(76)), 'none'), argument: 'batch.dO', expected: ['length 75', '[T, B, q] = [5, 3, 5]'], received: 'Float32Array of length 76' },
    { name: 'h0', call: bad((c) => (c.batch.h0 = new Float32Array(20))), argument: 'batch.h0', expected: ['length 21', '[B, h] = [3, 7]'], received: 'Float32Array of length 20' },
    { name: 'dhT', call: bad((c) => (c.batch.dhT = new Float32Array(7))), argument: 'batch.dhT', expected: ['length 21', '[B, h] = [3, 7]'], received: 'Float32Array of length 7' },
    { name: 'xi', call: bad((c) => (c.options.truncation = { kind: 'randomized', xi: new Float32Array(4).fill(1) })), argument: 'options.truncation.xi', expected: ['length 5', '[T] = [5]'], received: 'Float32Array of length 4' },
  ],
  'ids out of range': [
    { name: 'token id = d', call: bad((c) => ((c.batch.x as Int32Array)[8] = 4), 'cross-entropy', true), argument: 'batch.x', expected: ['token ids in [0, 4)'], received: '4 at index 8' },
    { name: 'token id < 0', call: bad((c) => ((c.batch.x as Int32Array)[0] = -1), 'cross-entropy', true), argument: 'batch.x', expected: ['token ids in [0, 4)'], received: '-1 at index 0' },
    { name: 'class id = q', call: bad((c) => ((c.batch.y as Int32Array)[14] = 5)), argument: 'batch.y', expected: ['class ids in [0, 5)'], received: '5 at index 14' },
    { name: 'class id < 0', call: bad((c) => ((c.batch.y as Int32Array)[3] = -2)), argument: 'batch.y', expected: ['class ids in [0, 5)'], received: '-2 at index 3' },
  ],
  'a bias without the other': [
    { name: 'bh only', call: bad((c) => delete c.model.bq), argument: 'model.bq', expected: ['both biases or neither', 'model.bh is given'], received: 'undefined' },
    { name: 'bq only', call: bad((c) => delete c.model.bh), argument: 'model.bh', expected: ['both biases or neither', 'model.bq is given'], received: 'undefined' },
  ],
  'a missing y or dO': [
    { name: 'y for cross-entropy', call: bad((c) => delete c.batch.y), argument: 'batch.y', expected: ['Int32Array of length T*B = 15', 'cross-entropy'], received: 'undefined' },
    { name: 'y for mse', call: bad((c) => delete c.batch.y, 'mse'), argument: 'batch.y', expected: ['Float32Array of length 75', 'mse'], received: 'undefined' },
    { name: "dO for 'none'", call: bad((c) => delete c.batch.dO, 'none'), argument: 'batch.dO', expected: ['Float32Array of length 75', 'upstream gradient'], received: 'undefined' },
  ],
  'non-positive or non-integer sizes': [
    { name: 'steps 0', call: bad((c) => (c.batch.steps = 0)), argument: 'batch.steps', expected: ['a positive integer'], received: '0' },
    { name: 'batchSize -3', call: bad((c) => (c.batch.batchSize = -3)), argument: 'batch.batchSize', expected: ['a positive integer'], received: '-3' },
    { name: 'inputSize 0', call: bad((c) => (c.model.inputSize = 0)), argument: 'model.inputSize', expected: ['a positive integer'], received: '0' },
    { name: 'hiddenSize 6.5', call: bad((c) => (c.model.hiddenSize = 6.5)), argument: 'model.hiddenSize', expected: ['a positive integer'], received: '6.5' },
    { name: 'outputSize NaN', call: bad((c) => (c.model.outputSize = NaN)), argument: 'model.outputSize', expected: ['a positive integer'], received: 'NaN' },
    { name: 'steps as a string', call: bad((c) => ((c.batch as unknown as { steps: string }).steps = '5')), argument: 'batch.steps', expected: ['a positive integer'], received: '"5"' },
  ],
  'a truncation steps or keepProbability out of range': [
    { name: 'chunked steps 0', call: bad((c) => (c.options.truncation = { kind: 'chunked', steps: 0 })), argument: 'options.truncation.steps', expected: ['an integer >= 1'], received: '0' },
    { name: 'window steps 1.5', call: bad((c) => (c.options.truncation = { kind: 'window', steps: 1.5 })), argument: 'options.truncation.steps', expected: ['an integer >= 1'], received: '1.5' },
    { name: 'keepProbability 0', call: bad((c) => (c.options.truncation = { kind: 'randomized', keepProbability: 0, seed: 1 })), argument: 'options.truncation.keepProbability', expected: ['a number in (0, 1]'], received: '0' },
    { name: 'keepProbability 1.5', call: bad((c) => (c.options.truncation = { kind: 'randomized', keepProbability: 1.5, seed: 1 })), argument: 'options.truncation.keepProbability', expected: ['a number in (0, 1]'], received: '1.5' },
    { name: 'keepProbability NaN', call: bad((c) => (c.options.truncation = { kind: 'randomized', keepProbability: NaN, seed: 1 })), argument: 'options.truncation.keepProbability', expected: ['a number in (0, 1]'], received: 'NaN' },
    { name: 'seed 0.5', call: bad((c) => (c.options.truncation = { kind: 'randomized', keepProbability: 0.5, seed: 0.5 })), argument: 'options.truncation.seed', expected: ['an integer'], received: '0.5' },
    { name: 'clipNorm 0', call: bad((c) => (c.options.clipNorm = 0)), argument: 'options.clipNorm', expected: ['a positive number'], received: '0' },
  ],
  'wrong typed-array types': [
    { name: 'Whx as Float64Array', call: bad((c) => (c.model.Whx = new Float64Array(28) as unknown as Float32Array)), argument: 'model.Whx', expected: ['Float32Array of length 28'], received: 'Float64Array of length 28' },
    { name: 'x as a plain Array', call: bad((c) => (c.batch.x = Array.from(c.batch.x) as unknown as Float32Array)), argument: 'batch.x', expected: ['Float32Array [T, B, d] = [5, 3, 4]', 'Int32Array [T, B] = [5, 3]'], received: 'Array of length 60' },
    { name: 'x as Uint8Array', call: bad((c) => (c.batch.x = new Uint8Array(15) as unknown as Int32Array)), argument: 'batch.x', expected: ['Float32Array [T, B, d] = [5, 3, 4]'], received: 'Uint8Array of length 15' },
    { name: 'cross-entropy y as Float32Array', call: bad((c) => (c.batch.y = new Float32Array(15))), argument: 'batch.y', expected: ['Int32Array of length T*B = 15'], received: 'Float32Array of length 15' },
    { name: 'mse y as Int32Array', call: bad((c) => (c.batch.y = new Int32Array(75)), 'mse'), argument: 'batch.y', expected: ['Float32Array of length 75'], received: 'Int32Array of length 75' },
    { name: 'h0 as Float64Array', call: bad((c) => (c.batch.h0 = new Float64Array(21) as unknown as Float32Array)), argument: 'batch.h0', expected: ['Float32Array of length 21'], received: 'Float64Array of length 21' },
  ],
  'bad loss, activation or truncation kind': [
    { name: 'loss', call: bad((c) => (c.options.loss = 'l2' as LossKind)), argument: 'options.loss', expected: ['"cross-entropy", "mse", "none"'], received: '"l2"' },
    { name: 'activation', call: bad((c) => (c.model.activation = 'sigmoid' as RnnModel['activation'])), argument: 'model.activation', expected: ['identity, tanh, relu'], received: '"sigmoid"' },
    { name: 'truncation kind', call: bad((c) => (c.options.truncation = { kind: 'tbptt' } as unknown as GradientOptions['truncation'])), argument: 'options.truncation.kind', expected: ['"full", "chunked", "window", "randomized"'], received: '"tbptt"' },
    { name: 'truncation as a string', call: bad((c) => (c.options.truncation = 'full' as unknown as GradientOptions['truncation'])), argument: 'options.truncation', expected: ['kind'], received: '"full"' },
    { name: 'options null', call: bad((c) => (c.options = null as unknown as GradientOptions)), argument: 'options', expected: ['GradientOptions'], received: 'null' },
  ],
  'inputGradient with token ids': [
    { name: 'inputGradient', call: bad((c) => (c.options.inputGradient = true), 'cross-entropy', true), argument: 'options.inputGradient', expected: ['value inputs'], received: 'token ids' },
  ],
  'checkFinite with non-finite values': [
    { name: 'x NaN', call: bad((c) => (((c.batch.x as Float32Array)[7] = NaN), (c.options.checkFinite = true))), argument: 'batch.x', expected: ['finite values'], received: 'NaN at index 7' },
    { name: 'Whh Infinity', call: bad((c) => ((c.model.Whh[3] = Infinity), (c.options.checkFinite = true))), argument: 'model.Whh', expected: ['finite values'], received: 'Infinity at index 3' },
    { name: 'bq NaN', call: bad((c) => ((c.model.bq![4] = NaN), (c.options.checkFinite = true))), argument: 'model.bq', expected: ['finite values'], received: 'NaN at index 4' },
    { name: 'h0 -Infinity', call: bad((c) => ((c.batch.h0![20] = -Infinity), (c.options.checkFinite = true))), argument: 'batch.h0', expected: ['finite values'], received: '-Infinity at index 20' },
    { name: 'dhT NaN', call: bad((c) => ((c.batch.dhT![0] = NaN), (c.options.checkFinite = true))), argument: 'batch.dhT', expected: ['finite values'], received: 'NaN at index 0' },
    { name: 'mse y NaN', call: bad((c) => (((c.batch.y as Float32Array)[9] = NaN), (c.options.checkFinite = true)), 'mse'), argument: 'batch.y', expected: ['finite values'], received: 'NaN at index 9' },
    { name: 'dO NaN', call: bad((c) => ((c.batch.dO![74] = NaN), (c.options.checkFinite = true)), 'none'), argument: 'batch.dO', expected: ['finite values'], received: 'NaN at index 74' },
    { name: 'xi NaN (always checked)', call: bad((c) => (c.options.truncation = { kind: 'randomized', xi: Float32Array.from([1, 1, NaN, 1, 1]) })), argument: 'options.truncation.xi', expected: ['finite values'], received: 'NaN at index 2' },
  ],
};

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  return expect.fail('the call was not rejected');
}

function expectInputError(e: unknown, c: Pick<BadCase, 'argument' | 'expected' | 'received'>): void {
  expect(e).toBeInstanceOf(BpttInputError);
  const err = e as BpttInputError;
  expect(err.argument).toBe(c.argument);
  expect(err.message.startsWith(`${c.argument}: expected `), err.message).toBe(true);
  const [expectedPart, receivedPart] = err.message.split('; received ');
  for (const s of c.expected) expect(expectedPart, err.message).toContain(s);
  expect(receivedPart, err.message).toContain(c.received);
}

/** Outputs compared bit for bit. */
function expectIdentical(got: GradientResult, want: GradientResult): void {
  expect(got).toEqual(want);
  expect(Number.isNaN(want.loss) || got.loss === want.loss).toBe(true);
}

const fresh: Partial<Record<string, GradientResult>> = {};
async function freshResult(loss: LossKind, tokens: boolean): Promise<GradientResult> {
  const key = `${loss} ${tokens}`;
  if (!fresh[key]) {
    const e = await createEngine({ backend: 'cpu' });
    const { model, batch, options } = valid(loss, tokens);
    fresh[key] = await e.gradients(model, batch, options);
    e.dispose();
  }
  return fresh[key]!;
}

let engine: Engine;
beforeAll(async () => {
  engine = await createEngine({ backend: 'cpu' });
});

describe('gradients: bad input is rejected with a BpttInputError, and the engine still works', () => {
  for (const [group, cases] of Object.entries(CASES)) {
    describe(group, () => {
      it.each(cases)('$name', async (c) => {
        const { model, batch, options } = c.call();
        expectInputError(await rejection(engine.gradients(model, batch, options)), c);
        // a valid call on the same engine afterwards gives the fresh engine's answer
        for (const [loss, tokens] of [
          ['cross-entropy', false],
          ['mse', false],
          ['none', false],
          ['cross-entropy', true],
        ] as [LossKind, boolean][]) {
          const v = valid(loss, tokens);
          expectIdentical(await engine.gradients(v.model, v.batch, v.options), await freshResult(loss, tokens));
        }
      });
    });
  }

  it('without checkFinite, non-finite values are accepted and reported as nonFinite', async () => {
    const { model, batch, options } = valid();
    (batch.x as Float32Array)[7] = NaN;
    const r = await engine.gradients(model, batch, options);
    expect(r.nonFinite).toBe(true);
  });

  it('the valid baseline itself is accepted by every check', async () => {
    for (const loss of ['cross-entropy', 'mse', 'none'] as LossKind[]) {
      const { model, batch, options } = valid(loss);
      const r = await engine.gradients(model, batch, { ...options, checkFinite: true, clipNorm: 1, truncation: { kind: 'randomized', xi: new Float32Array(5).fill(1) } });
      expect(r.nonFinite).toBe(false);
    }
  });
});

describe('trainer: bad options and batches are rejected, and the trainer still works', () => {
  const options: TrainerOptions = { optimizer: { kind: 'sgd', learningRate: 0.5 }, loss: 'cross-entropy', truncation: { kind: 'chunked', steps: 2 } };

  const optionCases: (Pick<BadCase, 'argument' | 'expected' | 'received'> & { name: string; options: unknown })[] = [
    { name: 'optimizer kind', options: { ...options, optimizer: { kind: 'rmsprop', learningRate: 1 } }, argument: 'options.optimizer.kind', expected: ['"sgd", "adam"'], received: '"rmsprop"' },
    { name: 'learningRate 0', options: { ...options, optimizer: { kind: 'sgd', learningRate: 0 } }, argument: 'options.optimizer.learningRate', expected: ['a positive number'], received: '0' },
    { name: 'adam beta1 1', options: { ...options, optimizer: { kind: 'adam', learningRate: 0.01, beta1: 1 } }, argument: 'options.optimizer.beta1', expected: ['[0, 1)'], received: '1' },
    { name: 'adam epsilon -1', options: { ...options, optimizer: { kind: 'adam', learningRate: 0.01, epsilon: -1 } }, argument: 'options.optimizer.epsilon', expected: ['a positive number'], received: '-1' },
    { name: 'loss', options: { ...options, loss: 'hinge' }, argument: 'options.loss', expected: ['"cross-entropy"'], received: '"hinge"' },
    { name: 'truncation steps', options: { ...options, truncation: { kind: 'window', steps: 0 } }, argument: 'options.truncation.steps', expected: ['an integer >= 1'], received: '0' },
    { name: 'clipNorm', options: { ...options, clipNorm: -1 }, argument: 'options.clipNorm', expected: ['a positive number'], received: '-1' },
  ];
  it.each(optionCases)('options: $name', (c) => {
    const { model } = valid();
    let error: unknown;
    try {
      engine.trainer(model, c.options as TrainerOptions);
    } catch (e) {
      error = e;
    }
    expectInputError(error, c);
  });

  it('an explicit xi whose length is not the batch steps is rejected at step()', async () => {
    const { model, batch } = valid();
    const t = engine.trainer(model, { ...options, truncation: { kind: 'randomized', xi: new Float32Array(4).fill(1) } });
    expectInputError(await rejection(t.step(batch)), { argument: 'options.truncation.xi', expected: ['length 5', '[T] = [5]'], received: 'Float32Array of length 4' });
    expect((await t.step({ ...batch, steps: 4, x: batch.x.slice(0, 4 * 3 * 4), y: batch.y!.slice(0, 12) })).step).toBe(1);
  });

  it('carryState: a new batch size without h0 is rejected until resetState()', async () => {
    const { model, batch } = valid();
    const t = engine.trainer(model, { ...options, carryState: true });
    await t.step(batch);
    const small: Batch = { steps: 5, batchSize: 2, x: batch.x.slice(0, 5 * 2 * 4), y: batch.y!.slice(0, 10) };
    expectInputError(await rejection(t.step(small)), { argument: 'batch.batchSize', expected: ['3 (the batch size of the carried state'], received: '2' });
    expect((await t.step({ ...small, h0: new Float32Array(2 * 7) })).skipped).toBe(false);
    t.resetState();
    expect((await t.step(small)).step).toBe(3);
  });

  it('a bad batch is rejected and the trainer goes on as if it had not been seen', async () => {
    const { model, batch } = valid();
    const t = engine.trainer(model, options);
    const reference = engine.trainer(model, options);
    for (const ref of [t, reference]) await ref.step(batch);
    expectInputError(await rejection(t.step({ ...batch, y: new Int32Array(3) })), { argument: 'batch.y', expected: ['T*B = 15'], received: 'Int32Array of length 3' });
    expectInputError(await rejection(t.step({ ...batch, x: new Int32Array(15).fill(9) })), { argument: 'batch.x', expected: ['token ids in [0, 4)'], received: '9 at index 0' });
    const a = await t.step(batch);
    const b = await reference.step(batch);
    expect(a).toEqual(b);
    expect(a.step).toBe(2);
    expect(await t.read()).toEqual(await reference.read());
  });
});

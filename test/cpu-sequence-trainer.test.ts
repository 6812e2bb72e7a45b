// engine.trainer(SequenceModel) on the CPU: each step is the optimizer (SGD,
// Adam) applied to what engine.gradients returns for the current parameters,
// with clipping and truncation; carryState carries h and c of every layer and
// direction, each sequence from its own end; a skipped non-finite step changes
// nothing; read() returns a SequenceModel.
import { beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../src/index.js';
import { packSequence } from '../src/sequence-params.js';
import type { Batch, GradientOptions, SequenceModel, TrainerOptions } from '../src/types.js';
import { expectClose } from './helpers.js';
import { randomSequenceProblem, type SequenceSpec } from './cpu-sequence-helpers.js';

let engine: Engine;
beforeAll(async () => {
  engine = await createEngine({ backend: 'cpu' });
});

const SPEC: SequenceSpec = { cell: 'lstm', T: 5, B: 3, d: 4, h: 4, q: 5, L: 2, bidirectional: true, seed: 201 };
const OPTS = { loss: 'cross-entropy' as const, truncation: { kind: 'chunked' as const, steps: 2 }, clipNorm: 0.05 };

/** The gradients of a call in the flat parameter layout (float32, as the trainer applies them). */
async function flatGradient(model: SequenceModel, batch: Batch, options: GradientOptions = OPTS): Promise<{ g: Float32Array; loss: number; clipped: boolean; hT: Float32Array; cT?: Float32Array }> {
  const r = await engine.gradients(model, batch, options);
  const asModel: SequenceModel = {
    ...model,
    layers: r.layers.map((l) => ({ Wx: l.dWx, Wh: l.dWh, bx: l.dbx, bh: l.dbh })),
    head: model.head && { outputSize: model.head.outputSize, W: r.head!.dW, b: r.head!.db },
  };
  return { g: packSequence(asModel), loss: r.loss, clipped: r.clipped, hT: r.hT, cT: r.cT };
}

describe('one trainer step is the optimizer applied to engine.gradients', () => {
  it('sgd: p - lr * g with the clipped g, every layer, direction and the head', async () => {
    const { model, batch } = randomSequenceProblem(SPEC);
    const lr = 0.3;
    const trainer = engine.trainer(model, { ...OPTS, optimizer: { kind: 'sgd', learningRate: lr } });
    const { g, loss, clipped } = await flatGradient(model, batch);
    expect(clipped).toBe(true);
    const r = await trainer.step(batch);
    expect(r).toEqual({ loss, skipped: false, step: 1 });
    const after = await trainer.read();
    expect(after.cell).toBe('lstm');
    expect(after.layers.length).toBe(4);
    const want = packSequence(model).map((v, i) => v - lr * g[i]);
    expectClose('parameters', packSequence(after), want, { rtol: 1e-7, atol: 1e-9 });
  });

  it('adam: two steps of m, v with bias correction (gru, one direction, window)', async () => {
    const spec: SequenceSpec = { ...SPEC, cell: 'gru', bidirectional: false };
    const options = { loss: 'cross-entropy' as const, truncation: { kind: 'window' as const, steps: 2 } };
    const { model, batch } = randomSequenceProblem(spec);
    const [lr, b1, b2, eps] = [0.01, 0.8, 0.9, 1e-6];
    const trainer = engine.trainer(model, { ...options, optimizer: { kind: 'adam', learningRate: lr, beta1: b1, beta2: b2, epsilon: eps } });
    const p = Float64Array.from(packSequence(model));
    const m = new Float64Array(p.length);
    const v = new Float64Array(p.length);
    let current = model;
    for (let step = 1; step <= 2; step++) {
      const { g } = await flatGradient(current, batch, options);
      for (let j = 0; j < p.length; j++) {
        m[j] = b1 * m[j] + (1 - b1) * g[j];
        v[j] = b2 * v[j] + (1 - b2) * g[j] ** 2;
        p[j] = Math.fround(p[j] - (lr * (m[j] / (1 - b1 ** step))) / (Math.sqrt(v[j] / (1 - b2 ** step)) + eps));
      }
      expect((await trainer.step(batch)).step).toBe(step);
      current = await trainer.read();
    }
    expectClose('parameters', packSequence(current), p, { rtol: 1e-6, atol: 1e-9 });
  });

  it('trains: the loss of an lstm falls on a fixed batch', async () => {
    const { model, batch } = randomSequenceProblem({ ...SPEC, tokens: true, lengths: [5, 3, 4] });
    const trainer = engine.trainer(model, { loss: 'cross-entropy', optimizer: { kind: 'adam', learningRate: 0.05 } });
    const first = (await trainer.step(batch)).loss;
    let last = first;
    for (let i = 0; i < 30; i++) last = (await trainer.step(batch)).loss;
    expect(last).toBeLessThan(0.5 * first);
  });
});

describe('trainer state', () => {
  it('carryState: h and c of every layer and direction, each sequence from its own end', async () => {
    const { model, batch } = randomSequenceProblem({ ...SPEC, lengths: [5, 2, 4] });
    const other = randomSequenceProblem({ ...SPEC, seed: 202 }).batch;
    const options: TrainerOptions = { optimizer: { kind: 'sgd', learningRate: 0.5 }, loss: 'cross-entropy', carryState: true };
    const trainer = engine.trainer(model, options);
    const g1 = await flatGradient(model, batch, { loss: 'cross-entropy' });
    expect((await trainer.step(batch)).loss).toBe(g1.loss);
    const m1 = await trainer.read();
    const carried = { ...other, h0: g1.hT, c0: g1.cT };
    const g2 = await engine.gradients(m1, carried, { loss: 'cross-entropy' });
    expect((await trainer.step(other)).loss).toBe(g2.loss);
    // the carried state matters, and so does c
    expect((await engine.gradients(m1, { ...carried, c0: undefined }, { loss: 'cross-entropy' })).loss).not.toBe(g2.loss);
    // hT of the short sequence is its state at its own end: the same with its steps past the end changed
    const shifted = { ...batch, x: (batch.x as Float32Array).slice() };
    for (let t = 2; t < 5; t++) for (let j = 0; j < 4; j++) shifted.x[(t * 3 + 1) * 4 + j] += 1;
    const gs = await engine.gradients(model, shifted, { loss: 'cross-entropy' });
    const forwardPart = (a: Float32Array) => [0, 2].flatMap((k) => Array.from(a.subarray((k * 3 + 1) * 4, (k * 3 + 2) * 4)));
    expect(forwardPart(gs.hT)).toEqual(forwardPart(g1.hT));
    trainer.resetState();
    const m2 = await trainer.read();
    expect((await trainer.step(other)).loss).toBe((await engine.gradients(m2, other, { loss: 'cross-entropy' })).loss);
  });

  it('the carried batch size must match until resetState()', async () => {
    const { model, batch } = randomSequenceProblem({ ...SPEC, cell: 'gru' });
    const smaller = randomSequenceProblem({ ...SPEC, cell: 'gru', B: 2 }).batch;
    const trainer = engine.trainer(model, { optimizer: { kind: 'sgd', learningRate: 0.1 }, loss: 'cross-entropy', carryState: true });
    await trainer.step(batch);
    await expect(trainer.step(smaller)).rejects.toThrow(expect.objectContaining({ argument: 'batch.batchSize' }));
    trainer.resetState();
    expect((await trainer.step(smaller)).step).toBe(2);
  });

  it('a skipped non-finite step changes nothing: parameters, optimizer state, carried state', async () => {
    const { model, batch } = randomSequenceProblem(SPEC);
    const next = randomSequenceProblem({ ...SPEC, seed: 203 }).batch;
    for (const optimizer of [{ kind: 'sgd', learningRate: 0.5 }, { kind: 'adam', learningRate: 0.01 }] as TrainerOptions['optimizer'][]) {
      const options: TrainerOptions = { optimizer, loss: 'cross-entropy', carryState: true };
      const trainer = engine.trainer(model, options);
      const fresh = engine.trainer(model, options);
      await trainer.step(batch);
      await fresh.step(batch);
      const poisoned = { ...next, x: (next.x as Float32Array).slice() };
      poisoned.x[3] = NaN;
      const r = await trainer.step(poisoned, { readGradNorm: true });
      expect(r.skipped).toBe(true);
      expect(r.step).toBe(1);
      expect(r.gradNorm).toBeNaN();
      expect(await trainer.read()).toEqual(await fresh.read());
      const a = await trainer.step(next);
      const b = await fresh.step(next);
      expect(a).toEqual(b);
      expect(await trainer.read()).toEqual(await fresh.read());
    }
  });

  it('refuses window with bidirectional, and a loss without head, naming options', () => {
    const { model } = randomSequenceProblem(SPEC);
    expect(() => engine.trainer(model, { optimizer: { kind: 'sgd', learningRate: 0.1 }, loss: 'cross-entropy', truncation: { kind: 'window', steps: 2 } })).toThrow(
      expect.objectContaining({ argument: 'options.truncation' }),
    );
    const { model: bare } = randomSequenceProblem({ ...SPEC, q: undefined });
    expect(() => engine.trainer(bare, { optimizer: { kind: 'sgd', learningRate: 0.1 }, loss: 'mse' })).toThrow(expect.objectContaining({ argument: 'options.loss' }));
    // and still works
    expect(engine.trainer(bare, { optimizer: { kind: 'sgd', learningRate: 0.1 }, loss: 'none' }).backend).toBe('cpu');
  });

  it('options are a snapshot taken at creation; step options are checked', async () => {
    const { model, batch } = randomSequenceProblem({ ...SPEC, cell: 'gru' });
    const options: TrainerOptions = { optimizer: { kind: 'sgd', learningRate: 0.3 }, loss: 'cross-entropy', truncation: { kind: 'chunked', steps: 2 } };
    const a = engine.trainer(model, options);
    const b = engine.trainer(model, { optimizer: { kind: 'sgd', learningRate: 0.3 }, loss: 'cross-entropy', truncation: { kind: 'chunked', steps: 2 } });
    (options.optimizer as { learningRate: number }).learningRate = 10;
    (options.truncation as { steps: number }).steps = 1;
    expect(await a.step(batch)).toEqual(await b.step(batch));
    expect(await a.read()).toEqual(await b.read());
    await expect(a.step(batch, { readGradNorm: 'yes' as unknown as boolean })).rejects.toThrow(expect.objectContaining({ argument: 'options.readGradNorm' }));
    expect(() => engine.trainer(model, { ...options, carryState: 1 as unknown as boolean })).toThrow(expect.objectContaining({ argument: 'options.carryState' }));
  });

  it('without a head: trains on dY', async () => {
    const { model, batch } = randomSequenceProblem({ ...SPEC, q: undefined });
    const trainer = engine.trainer(model, { optimizer: { kind: 'sgd', learningRate: 0.1 }, loss: 'none' });
    const r = await trainer.step(batch);
    expect(r.loss).toBeNaN();
    expect((await trainer.read()).head).toBeUndefined();
  });
});

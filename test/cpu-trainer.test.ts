// The CPU trainer: it learns a small character-level task, each update is
// exactly the optimizer's formula applied to engine.gradients, carryState
// carries hT, read() returns the current model, non-finite steps are skipped,
// and dispose() ends it.
import { beforeAll, describe, expect, it } from 'vitest';
import { BpttDeviceError, createEngine, makeRng, uniformArray, type Engine } from '../src/index.js';
import type { Batch, GradientResult, RnnModel, TrainerOptions } from '../src/types.js';
import { expectClose, randomProblem } from './helpers.js';

let engine: Engine;
beforeAll(async () => {
  engine = await createEngine({ backend: 'cpu' });
});

const VOCAB = 27; // space and a..z

// The opening of H. G. Wells, The Time Machine (public domain; shared/data/timemachine.txt),
// lower-cased, letters and spaces only.
const TEXT = [
  'the time traveller for so it will be convenient to speak of him was expounding a recondite matter to',
  'us his pale grey eyes shone and twinkled and his usually pale face was flushed and animated the fire',
  'burnt brightly and the soft radiance of the incandescent lights in the lilies of silver caught the',
  'bubbles that flashed and passed in our glasses our chairs being his patents embraced and caressed us',
  'rather than submitted to be sat upon and there was that luxurious after dinner atmosphere when',
  'thought runs gracefully free of the trammels of precision and he put it to us in this way marking',
  'the points with a lean forefinger as we sat and lazily admired his earnestness over this new paradox',
  'as we thought it and his fecundity you must follow me carefully i shall have to controvert one or',
  'two ideas that are almost universally accepted the geometry for instance they taught you at school',
  'is founded on a misconception is not that rather a large thing to expect us to begin upon said filby',
  'an argumentative person with red hair i do not mean to ask you to accept anything without reasonable',
  'ground for it you will soon admit as much as i need from you you know of course that a mathematical',
  'line a line of thickness nil has no real existence they taught you that neither has a mathematical',
  'plane these things are mere abstractions that is all right said the psychologist nor having only',
  'length breadth and thickness can a cube have a real existence there i object said filby of course a',
  'solid body may exist all real things so most people think but wait a moment can an instantaneous',
  'cube exist don t follow you said filby can a cube that does not last for any time at all have a real',
  'existence filby became pensive clearly the time traveller proceeded any real body must have',
  'extension in four',
].join(' ');

/** The text as ids: space 0, a..z 1..26. */
function corpus(): Int32Array {
  expect(TEXT).toMatch(/^[a-z ]+$/);
  return Int32Array.from(TEXT, (c) => (c === ' ' ? 0 : c.charCodeAt(0) - 96));
}

/**
 * The stream cut into B contiguous lanes; batch k holds steps k*T..(k+1)*T of every
 * lane, time-major, so that hT of batch k is the right h0 for batch k+1.
 */
function batches(ids: Int32Array, T: number, B: number): Batch[] {
  const lane = Math.floor((ids.length - 1) / B);
  const n = Math.floor(lane / T);
  const out: Batch[] = [];
  for (let k = 0; k < n; k++) {
    const x = new Int32Array(T * B);
    const y = new Int32Array(T * B);
    for (let t = 0; t < T; t++) {
      for (let b = 0; b < B; b++) {
        const i = b * lane + k * T + t;
        x[t * B + b] = ids[i];
        y[t * B + b] = ids[i + 1];
      }
    }
    out.push({ steps: T, batchSize: B, x, y });
  }
  return out;
}

function charModel(h: number, seed: number): RnnModel {
  const rng = makeRng(seed);
  return {
    inputSize: VOCAB,
    hiddenSize: h,
    outputSize: VOCAB,
    activation: 'tanh',
    Whx: uniformArray(rng, h * VOCAB, 0.5),
    Whh: uniformArray(rng, h * h, 1 / Math.sqrt(h)),
    Wqh: uniformArray(rng, VOCAB * h, 1 / Math.sqrt(h)),
    bh: new Float32Array(h),
    bq: new Float32Array(VOCAB),
  };
}

describe('the CPU trainer learns a character-level task', () => {
  const data = batches(corpus(), 16, 8); // 14 batches of 16 steps x 8 lanes
  const STEPS = 300;

  it.each([
    { name: 'sgd', optimizer: { kind: 'sgd', learningRate: 2 } },
    { name: 'adam', optimizer: { kind: 'adam', learningRate: 0.01 } },
  ] as { name: string; optimizer: TrainerOptions['optimizer'] }[])('$name, chunked(8), carryState, clipNorm 1', async ({ optimizer }) => {
    const model = charModel(32, 7);
    const before = structuredClone(model);
    const trainer = engine.trainer(model, { optimizer, loss: 'cross-entropy', truncation: { kind: 'chunked', steps: 8 }, clipNorm: 1, carryState: true });
    const losses: number[] = [];
    for (let s = 0; s < STEPS; s++) {
      const k = s % data.length;
      if (k === 0) trainer.resetState(); // a new pass over the text
      const r = await trainer.step(data[k]);
      expect(r.skipped).toBe(false);
      expect(r.step).toBe(s + 1);
      losses.push(r.loss);
    }
    const first = losses[0];
    expect(first).toBeGreaterThan(0.9 * Math.log(VOCAB)); // starts near chance
    const last20 = losses.slice(-20).reduce((a, b) => a + b, 0) / 20;
    expect(last20, `first ${first}, mean of the last 20 ${last20}`).toBeLessThan(0.7 * first);

    // read() is the trained model, with the shape of the original; the caller's model is untouched
    const trained = await trainer.read();
    expect(model).toEqual(before);
    expect(trained.Whh.length).toBe(32 * 32);
    expect(trained.bq!.length).toBe(VOCAB);
    expect(trained.activation).toBe('tanh');
    expect(trained.Whh).not.toEqual(model.Whh);
    const check = await engine.gradients(trained, data[1], { loss: 'cross-entropy' });
    const initial = await engine.gradients(model, data[1], { loss: 'cross-entropy' });
    expect(check.loss).toBeLessThan(0.75 * initial.loss);
    trainer.dispose();
  });
});

describe('one trainer step is the optimizer applied to engine.gradients', () => {
  const opts = { loss: 'cross-entropy' as const, truncation: { kind: 'chunked' as const, steps: 3 }, clipNorm: 0.05 };

  function flatGrad(r: GradientResult): Float32Array[] {
    return [r.dWhx, r.dWhh, r.dWqh, r.dbh!, r.dbq!];
  }
  function flatModel(m: RnnModel): Float32Array[] {
    return [m.Whx, m.Whh, m.Wqh, m.bh!, m.bq!];
  }

  it('sgd: p - lr * g, with the clipped g', async () => {
    const { model, batch } = randomProblem({ T: 7, B: 3, d: 4, h: 6, q: 5, seed: 101 });
    const lr = 0.3;
    const trainer = engine.trainer(model, { ...opts, optimizer: { kind: 'sgd', learningRate: lr } });
    const g = await engine.gradients(model, batch, opts);
    expect(g.clipped).toBe(true); // the clipped path is the one exercised
    const r = await trainer.step(batch, { readGradNorm: true });
    expect(r).toEqual({ loss: g.loss, skipped: false, step: 1, gradNorm: g.gradNorm });
    const after = flatModel(await trainer.read());
    flatModel(model).forEach((p, i) => {
      const want = p.map((v, j) => v - lr * flatGrad(g)[i][j]);
      expectClose(`param block ${i}`, after[i], want, { rtol: 1e-7, atol: 1e-9 });
    });
  });

  it('randomized truncation draws a new xi every step: step k (from 0) uses seed + k', async () => {
    const { model, batch } = randomProblem({ T: 8, B: 2, d: 4, h: 6, q: 5, seed: 103 });
    const lr = 0.5;
    const truncation = { kind: 'randomized' as const, keepProbability: 0.5, seed: 3 };
    const trainer = engine.trainer(model, { loss: 'cross-entropy', truncation, optimizer: { kind: 'sgd', learningRate: lr } });
    let current = model;
    const draws = new Set<string>();
    for (let k = 0; k < 4; k++) {
      const g = await engine.gradients(current, batch, { loss: 'cross-entropy', truncation: { ...truncation, seed: 3 + k } });
      draws.add(Array.from(g.xi!).join());
      expect((await trainer.step(batch)).loss).toBe(g.loss);
      const after = await trainer.read();
      const want = flatModel(current).map((p, i) => p.map((v, j) => v - lr * flatGrad(g)[i][j]));
      flatModel(after).forEach((p, i) => expectClose(`step ${k}, param block ${i}`, p, want[i], { rtol: 1e-7, atol: 1e-9 }));
      current = after;
    }
    expect(draws.size, 'distinct xi over 4 steps').toBeGreaterThan(1);
  });

  it('adam: two steps of m, v with bias correction', async () => {
    const { model, batch } = randomProblem({ T: 7, B: 3, d: 4, h: 6, q: 5, seed: 102 });
    const [lr, b1, b2, eps] = [0.01, 0.8, 0.9, 1e-6];
    const trainer = engine.trainer(model, { ...opts, optimizer: { kind: 'adam', learningRate: lr, beta1: b1, beta2: b2, epsilon: eps } });
    // the same two updates, written out from the Adam paper's formulas in float64
    const p = flatModel(model).map((a) => Float64Array.from(a));
    const m = p.map((a) => new Float64Array(a.length));
    const v = p.map((a) => new Float64Array(a.length));
    for (let step = 1; step <= 2; step++) {
      const current: RnnModel = { ...model, Whx: Float32Array.from(p[0]), Whh: Float32Array.from(p[1]), Wqh: Float32Array.from(p[2]), bh: Float32Array.from(p[3]), bq: Float32Array.from(p[4]) };
      const g = flatGrad(await engine.gradients(current, batch, opts));
      p.forEach((block, i) => {
        for (let j = 0; j < block.length; j++) {
          m[i][j] = b1 * m[i][j] + (1 - b1) * g[i][j];
          v[i][j] = b2 * v[i][j] + (1 - b2) * g[i][j] ** 2;
          block[j] = Math.fround(block[j] - (lr * (m[i][j] / (1 - b1 ** step))) / (Math.sqrt(v[i][j] / (1 - b2 ** step)) + eps));
        }
      });
      expect((await trainer.step(batch)).step).toBe(step);
    }
    const after = flatModel(await trainer.read());
    p.forEach((block, i) => expectClose(`param block ${i}`, after[i], block, { rtol: 1e-6, atol: 1e-9 }));
  });
});

describe('trainer state', () => {
  it('carryState: each step starts from the previous hT; resetState starts from zeros again', async () => {
    const { model, batch } = randomProblem({ T: 5, B: 2, d: 4, h: 6, q: 5, seed: 111 });
    const other = randomProblem({ T: 5, B: 2, d: 4, h: 6, q: 5, seed: 112 }).batch;
    const options: TrainerOptions = { optimizer: { kind: 'sgd', learningRate: 0.5 }, loss: 'cross-entropy', carryState: true };
    const trainer = engine.trainer(model, options);
    const g1 = await engine.gradients(model, batch, { loss: 'cross-entropy' });
    expect((await trainer.step(batch)).loss).toBe(g1.loss);
    const m1 = await trainer.read();
    const g2 = await engine.gradients(m1, { ...other, h0: g1.hT }, { loss: 'cross-entropy' });
    expect((await trainer.step(other)).loss).toBe(g2.loss);
    // without the carried state the loss differs, so the check above is not vacuous
    expect((await engine.gradients(m1, other, { loss: 'cross-entropy' })).loss).not.toBe(g2.loss);
    trainer.resetState();
    const m2 = await trainer.read();
    expect((await trainer.step(other)).loss).toBe((await engine.gradients(m2, other, { loss: 'cross-entropy' })).loss);
    // without carryState every step starts from batch.h0 or zeros
    const plain = engine.trainer(model, { ...options, carryState: false });
    await plain.step(batch);
    expect((await plain.step(other)).loss).toBe((await engine.gradients(m1, other, { loss: 'cross-entropy' })).loss);
  });

  it('a step with non-finite gradients is skipped and leaves the parameters unchanged', async () => {
    const { model, batch } = randomProblem({ T: 5, B: 2, d: 4, h: 6, q: 5, seed: 121 });
    for (const optimizer of [{ kind: 'sgd', learningRate: 0.5 }, { kind: 'adam', learningRate: 0.01 }] as TrainerOptions['optimizer'][]) {
      const trainer = engine.trainer(model, { optimizer, loss: 'cross-entropy' });
      const poisoned = { ...batch, x: (batch.x as Float32Array).slice() };
      poisoned.x[3] = NaN;
      const r = await trainer.step(poisoned, { readGradNorm: true });
      expect(r.skipped).toBe(true);
      expect(r.step).toBe(0);
      expect(r.gradNorm).toBeNaN();
      expect(await trainer.read()).toEqual(model);
      // the next finite step is the first update, as if the skipped one had not happened
      const fresh = engine.trainer(model, { optimizer, loss: 'cross-entropy' });
      const a = await trainer.step(batch);
      const b = await fresh.step(batch);
      expect(a).toEqual(b);
      expect(a.step).toBe(1);
      expect(await trainer.read()).toEqual(await fresh.read());
    }
  });

  it('dispose(): later calls throw a BpttDeviceError; a disposed engine refuses new work', async () => {
    const { model, batch } = randomProblem({ T: 3, B: 2, d: 4, h: 6, q: 5, seed: 131 });
    const e = await createEngine({ backend: 'cpu' });
    const trainer = e.trainer(model, { optimizer: { kind: 'sgd', learningRate: 0.1 }, loss: 'cross-entropy' });
    await trainer.step(batch);
    trainer.dispose();
    await expect(trainer.step(batch)).rejects.toThrow(BpttDeviceError);
    await expect(trainer.read()).rejects.toThrow(/disposed/);
    e.dispose();
    await expect(e.gradients(model, batch, { loss: 'cross-entropy' })).rejects.toThrow(BpttDeviceError);
    expect(() => e.trainer(model, { optimizer: { kind: 'sgd', learningRate: 0.1 }, loss: 'cross-entropy' })).toThrow(BpttDeviceError);
  });
});

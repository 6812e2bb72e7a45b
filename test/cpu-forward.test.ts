// engine.forward and engine.generate on the CPU (API.md "Forward only"), for
// RnnModel and SequenceModel, and the same on a trainer; batch.lengths for
// RnnModel. forward is the forward part of gradients(): its loss, hT and cT
// are the same numbers bit for bit. generate greedy is a host loop of one-step
// forward calls; a seed makes temperature sampling repeatable.
import { beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../src/index.js';
import type { AnyModel, Batch, GenerateOptions, RnnModel, SequenceModel } from '../src/types.js';
import { expectClose, randomProblem } from './helpers.js';
import { forwardOutputs, randomSequenceProblem, type SequenceSpec } from './cpu-sequence-helpers.js';
import { drawU24, expQ24, pickToken } from '../src/cpu/sequence/infer.js';
import { makeRng } from '../src/rng.js';

let engine: Engine;
beforeAll(async () => {
  engine = await createEngine({ backend: 'cpu' });
});

const SEQ: SequenceSpec[] = [
  { cell: 'lstm', T: 6, B: 3, d: 4, h: 5, q: 3, L: 2, bidirectional: true, lengths: [6, 2, 4], states: true, seed: 301 },
  { cell: 'gru', T: 5, B: 2, d: 3, h: 4, q: 4, L: 2, loss: 'mse', seed: 302 },
  { cell: 'rnn', T: 7, B: 3, d: 5, h: 3, q: 5, L: 1, tokens: true, lengths: [1, 7, 3], activation: 'relu', seed: 303 },
];

describe('forward is the forward part of gradients', () => {
  for (const spec of SEQ) {
    it(`${spec.cell} L=${spec.L}${spec.bidirectional ? ' bidirectional' : ''}${spec.lengths ? ' lengths' : ''}`, async () => {
      const { model, batch } = randomSequenceProblem(spec);
      const loss = spec.loss ?? 'cross-entropy';
      const g = await engine.gradients(model, batch, { loss });
      const f = await engine.forward(model, batch, { outputs: ['O', 'Y'] });
      expect(f.loss).toBe(g.loss);
      expect(f.hT).toEqual(g.hT);
      expect(f.cT).toEqual(g.cT);
      // Y against the independent forward of the test helpers; zero past each sequence's end
      const dirs = spec.bidirectional ? 2 : 1;
      const w = dirs * spec.h;
      const want = forwardOutputs(model, batch);
      expectClose('Y', f.Y!, want.Y, { rtol: 1e-6, atol: 1e-7 });
      // O = Y W^T + b at valid rows, zero at padding
      const q = spec.q!;
      const O = new Float64Array(spec.T * spec.B * q);
      for (let r = 0; r < spec.T * spec.B; r++) {
        const valid = !spec.lengths || Math.floor(r / spec.B) < spec.lengths[r % spec.B];
        for (let c = 0; c < q && valid; c++) {
          let a = model.head!.b ? model.head!.b[c] : 0;
          for (let j = 0; j < w; j++) a += model.head!.W[c * w + j] * want.Y[r * w + j];
          O[r * q + c] = a;
        }
      }
      expectClose('O', f.O!, O, { rtol: 1e-6, atol: 1e-6 });
      if (spec.lengths) expect(O.some((v, i) => v === 0 && f.O![i] !== 0)).toBe(false);
    });
  }

  it('RnnModel: the same loss and hT as gradients, without and with lengths', async () => {
    const { model, batch } = randomProblem({ T: 6, B: 3, d: 4, h: 5, q: 3, h0: true, seed: 311 });
    for (const lengths of [undefined, Int32Array.from([6, 1, 3])]) {
      const b = { ...batch, lengths };
      const g = await engine.gradients(model, b, { loss: 'cross-entropy' });
      const f = await engine.forward(model, b, { outputs: ['Y'] });
      expect(f.loss).toBe(g.loss);
      expect(f.hT).toEqual(g.hT);
      expect(f.Y!.length).toBe(6 * 3 * 5);
      expect(f.O).toBeUndefined();
      expect(f.cT).toBeUndefined();
    }
  });

  it('without y there is no loss; without a head only Y; bad options are refused naming them', async () => {
    const { model, batch } = randomSequenceProblem({ ...SEQ[0] });
    const f = await engine.forward(model, { ...batch, y: undefined });
    expect(f.loss).toBeUndefined();
    expect(f.O).toBeUndefined();
    expect(f.Y).toBeUndefined();
    const { model: bare, batch: bareBatch } = randomSequenceProblem({ ...SEQ[0], q: undefined });
    const y = await engine.forward(bare, { ...bareBatch, dY: undefined }, { outputs: ['Y'] });
    expect(y.Y!.length).toBe(6 * 3 * 10);
    await expect(engine.forward(bare, bareBatch, { outputs: ['O'] })).rejects.toThrow(expect.objectContaining({ argument: 'options.outputs' }));
    await expect(engine.forward(bare, { ...bareBatch, y: new Int32Array(18) })).rejects.toThrow(expect.objectContaining({ argument: 'batch.y' }));
    await expect(engine.forward(model, batch, { outputs: ['H' as 'O'] })).rejects.toThrow(expect.objectContaining({ argument: 'options.outputs' }));
    await expect(engine.forward(model, { ...batch, lengths: Int32Array.from([0, 1, 1]) })).rejects.toThrow(expect.objectContaining({ argument: 'batch.lengths' }));
  });
});

/** A token model whose head predicts the next token (q = d). */
function tokenModel(cell: 'rnn' | 'gru' | 'lstm', L: number): SequenceModel {
  return randomSequenceProblem({ cell, T: 1, B: 1, d: 7, h: 6, q: 7, L, tokens: true, seed: 320 + L, scale: 3 }).model;
}

/** greedy decoding as a host loop of one-step engine.forward calls */
async function hostLoop(model: AnyModel, prefix: Int32Array, steps: number): Promise<Int32Array> {
  const out = new Int32Array(steps);
  let batch: Batch = { steps: prefix.length, batchSize: 1, x: prefix };
  for (let i = 0; i < steps; i++) {
    const f = await engine.forward(model, batch, { outputs: ['O'] });
    const q = f.O!.length / batch.steps;
    const last = Array.from(f.O!.subarray((batch.steps - 1) * q));
    out[i] = last.indexOf(Math.max(...last));
    batch = { steps: 1, batchSize: 1, x: Int32Array.of(out[i]), h0: f.hT, c0: f.cT };
  }
  return out;
}

describe('generate', () => {
  const prefix = Int32Array.from([1, 4, 2]);
  // (models whose greedy text is not one repeated token, so that the comparison means something)
  for (const [cell, L] of [['lstm', 1], ['gru', 2], ['rnn', 2]] as const) {
    it(`greedy equals a host loop of one-step forward calls: ${cell} L=${L}`, async () => {
      const model = tokenModel(cell, L);
      const ids = await engine.generate(model, { prefix, steps: 12 });
      expect(ids).toEqual(await hostLoop(model, prefix, 12));
      expect(new Set(ids).size).toBeGreaterThan(1); // not a constant sequence, so the check means something
    });
  }

  it('RnnModel: greedy equals the host loop', async () => {
    const { model } = randomProblem({ T: 1, B: 1, d: 6, h: 8, q: 6, seed: 331, scale: 2 });
    expect(await engine.generate(model, { prefix, steps: 10 })).toEqual(await hostLoop(model, prefix, 10));
  });

  it('temperature sampling with a seed is repeatable; other seeds give other text', async () => {
    const model = tokenModel('lstm', 2);
    const opts: GenerateOptions = { prefix, steps: 20, temperature: 1.5, seed: 9 };
    const a = await engine.generate(model, opts);
    expect(await engine.generate(model, opts)).toEqual(a);
    const others = await Promise.all([10, 11, 12].map((seed) => engine.generate(model, { ...opts, seed })));
    expect(others.some((o) => o.join() !== a.join())).toBe(true);
    expect(a.every((v) => v >= 0 && v < 7)).toBe(true);
  });

  it('sampling decides in integers the kernel repeats: expQ24 within one unit of 2^24 exp, U below 2^24, the draw as softmax', () => {
    let worst = 0;
    let notInteger = 0;
    for (let i = 0; i <= 50000; i++) {
      const X = -Math.floor(20 * 2 ** 24 * (i / 50000) ** 2); // denser near 0, where the probabilities are
      const got = expQ24(X);
      worst = Math.max(worst, Math.abs(got - 2 ** 24 * Math.exp(X / 2 ** 24)));
      if (!Number.isInteger(got)) notInteger++;
    }
    expect(worst).toBeLessThan(1.1);
    expect(notInteger).toBe(0);
    expect(expQ24(0)).toBe(2 ** 24);
    const rng = makeRng(4);
    for (let i = 0; i < 1000; i++) {
      const U = drawU24(rng);
      expect(Number.isInteger(U) && U >= 0 && U < 2 ** 24).toBe(true);
    }
    // the frequencies of 20000 draws are softmax(o / temperature)
    const o = [0.5, -1, 2, 0, 1.25];
    const counts = [0, 0, 0, 0, 0];
    const r = makeRng(5);
    for (let i = 0; i < 20000; i++) counts[pickToken(o, 0.8, r)]++;
    const z = o.map((v) => Math.exp(v / 0.8));
    const sum = z.reduce((a, b) => a + b, 0);
    z.forEach((v, c) => expect(Math.abs(counts[c] / 20000 - v / sum)).toBeLessThan(0.015));
  });

  it('refuses what it cannot generate from, naming the argument', async () => {
    const model = tokenModel('gru', 1);
    const bad: Array<[AnyModel, GenerateOptions, string]> = [
      [randomSequenceProblem({ cell: 'gru', T: 1, B: 1, d: 7, h: 6, q: 5 }).model, { prefix, steps: 3 }, 'model.head.outputSize'],
      [randomSequenceProblem({ cell: 'gru', T: 1, B: 1, d: 7, h: 6, q: 7, bidirectional: true }).model, { prefix, steps: 3 }, 'model.bidirectional'],
      [randomProblem({ T: 1, B: 1, d: 6, h: 8, q: 5 }).model as RnnModel, { prefix, steps: 3 }, 'model.outputSize'],
      [model, { prefix: new Int32Array(0), steps: 3 }, 'options.prefix'],
      [model, { prefix: Int32Array.from([7]), steps: 3 }, 'options.prefix'],
      [model, { prefix, steps: 0 }, 'options.steps'],
      [model, { prefix, steps: 2, temperature: -1 }, 'options.temperature'],
      [model, { prefix, steps: 2, seed: 0.5 }, 'options.seed'],
    ];
    for (const [m, o, argument] of bad) await expect(engine.generate(m, o)).rejects.toThrow(expect.objectContaining({ argument }));
    expect((await engine.generate(model, { prefix, steps: 2 })).length).toBe(2);
  });
});

describe('trainer.forward and trainer.generate use the current parameters', () => {
  it('SequenceModel and RnnModel', async () => {
    const { model, batch } = randomSequenceProblem({ ...SEQ[1], cell: 'lstm', loss: 'cross-entropy', q: 3, d: 3, tokens: true });
    const { model: rnn, batch: rnnBatch } = randomProblem({ T: 5, B: 2, d: 4, h: 5, q: 4, tokens: true, seed: 341 });
    for (const [m, b] of [[model, batch], [rnn, rnnBatch]] as Array<[AnyModel, Batch]>) {
      const trainer = engine.trainer(m as SequenceModel, { optimizer: { kind: 'sgd', learningRate: 0.5 }, loss: 'cross-entropy' });
      await trainer.step(b);
      const now = await trainer.read();
      const f = await trainer.forward(b, { outputs: ['O'] });
      expect(f).toEqual(await engine.forward(now, b, { outputs: ['O'] }));
      expect(f.loss).not.toBe((await engine.forward(m, b)).loss);
      const g = { prefix: Int32Array.from([0, 1]), steps: 5, temperature: 0.7, seed: 3 };
      expect(await trainer.generate(g)).toEqual(await engine.generate(now, g));
      trainer.dispose();
      await expect(trainer.forward(b)).rejects.toThrow(/disposed/);
    }
  });
});

describe('RnnModel with batch.lengths', () => {
  it('lengths all T equal no lengths; a short sequence equals itself run alone', async () => {
    const { model, batch } = randomProblem({ T: 6, B: 3, d: 4, h: 5, q: 3, loss: 'none', h0: true, dhT: true, seed: 351 });
    const options = { loss: 'none' as const, inputGradient: true, gradNormPerStep: true };
    const plain = await engine.gradients(model, batch, options);
    const full = await engine.gradients(model, { ...batch, lengths: Int32Array.from([6, 6, 6]) }, options);
    expect(full.dWhh).toEqual(plain.dWhh);
    expect(full.dh0).toEqual(plain.dh0);
    expect(full.dx).toEqual(plain.dx);
    // sequence 1 cut at 2: its dh0 and hT are those of its first 2 steps run alone
    const lengths = Int32Array.from([6, 2, 5]);
    const packed = await engine.gradients(model, { ...batch, lengths }, options);
    const pick = (a: ArrayLike<number>, t: number, b: number, w: number) => Array.from({ length: w }, (_, j) => a[(t * 3 + b) * w + j]);
    const alone = await engine.gradients(
      model,
      {
        steps: 2,
        batchSize: 1,
        x: Float32Array.from([0, 1].flatMap((t) => pick(batch.x, t, 1, 4))),
        dO: Float32Array.from([0, 1].flatMap((t) => pick(batch.dO!, t, 1, 3))),
        h0: batch.h0!.slice(5, 10),
        dhT: batch.dhT!.slice(5, 10),
      },
      options,
    );
    expectClose('dh0', packed.dh0.slice(5, 10), alone.dh0, { rtol: 1e-6, atol: 1e-8 });
    expectClose('hT', packed.hT.slice(5, 10), alone.hT, { rtol: 1e-6, atol: 1e-8 });
    expect(packed.gradNormPerStep!.length).toBe(6);
  });

  it('the RnnModel trainer takes lengths and carries each sequence from its own end', async () => {
    const { model, batch } = randomProblem({ T: 5, B: 2, d: 4, h: 5, q: 3, seed: 361 });
    const lengths = Int32Array.from([5, 2]);
    const trainer = engine.trainer(model, { optimizer: { kind: 'sgd', learningRate: 0.1 }, loss: 'cross-entropy', carryState: true });
    const g = await engine.gradients(model, { ...batch, lengths }, { loss: 'cross-entropy' });
    expect((await trainer.step({ ...batch, lengths })).loss).toBe(g.loss);
    const m1 = await trainer.read();
    expect((await trainer.step(batch)).loss).toBe((await engine.gradients(m1, { ...batch, h0: g.hT }, { loss: 'cross-entropy' })).loss);
  });
});

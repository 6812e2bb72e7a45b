// examples/classify-lengths: the hand-written last-step loss is the library's
// cross-entropy where the two coincide (every length 1), its gradient lands
// at each sequence's last step only, and the example's GRU learns the
// majority bit of strings of length 1..64 through batch.lengths.
import { describe, expect, it } from 'vitest';
import { createEngine, makeRng, type SequenceModel } from '../src/index.js';
// @ts-ignore: a plain .mjs example without types
import { lastStepLoss, makeBatch, makeModel, train } from '../examples/classify-lengths/task.mjs';

describe('examples/classify-lengths', () => {
  it('makes padded batches: lengths in 1..T, zeros past each end, labels by majority and parity', () => {
    const rng = makeRng(3);
    const T = 9;
    const B = 40;
    for (const task of ['majority', 'parity']) {
      const { batch, labels } = makeBatch(rng, T, B, task);
      const seen = new Set<number>();
      for (let b = 0; b < B; b++) {
        const n = batch.lengths[b];
        seen.add(n);
        expect(n >= 1 && n <= T).toBe(true);
        let ones = 0;
        for (let t = 0; t < T; t++) {
          const v = batch.x[t * B + b];
          if (t >= n) expect(v).toBe(0);
          ones += v;
        }
        expect(labels[b]).toBe(task === 'parity' ? ones % 2 : ones * 2 > n ? 1 : 0);
      }
      expect(seen.size).toBeGreaterThan(4);
    }
  });

  it('the last-step loss and dO are the library cross-entropy when every sequence has length 1, and dO sits at the last steps only', async () => {
    const engine = await createEngine({ backend: 'cpu' });
    const model = makeModel('lstm', 5, 2) as SequenceModel;
    const B = 7;
    const rng = makeRng(9);
    const one = makeBatch(rng, 1, B, 'majority');
    const { O, loss } = await engine.forward(model, { ...one.batch, y: one.labels }, { outputs: ['O'] });
    const mine = lastStepLoss(O, one.batch.lengths, one.labels, 1, B);
    expect(Math.abs(mine.loss - loss!)).toBeLessThan(1e-6);
    const viaCe = await engine.gradients(model, { ...one.batch, y: one.labels }, { loss: 'cross-entropy' });
    const viaDo = await engine.gradients(model, { ...one.batch, dO: mine.dO }, { loss: 'none' });
    for (const key of ['dWx', 'dWh', 'dbx', 'dbh'] as const) {
      const a = viaCe.layers[0][key]!;
      const b = viaDo.layers[0][key]!;
      for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - b[i])).toBeLessThanOrEqual(1e-6 + 1e-4 * Math.abs(a[i]));
    }
    const T = 12;
    const { batch, labels } = makeBatch(rng, T, B, 'majority');
    const out = await engine.forward(model, batch, { outputs: ['O'] });
    const { dO } = lastStepLoss(out.O, batch.lengths, labels, T, B);
    for (let t = 0; t < T; t++) {
      for (let b = 0; b < B; b++) {
        const at = (t * B + b) * 2;
        const nonzero = dO[at] !== 0 || dO[at + 1] !== 0;
        expect(nonzero).toBe(t === batch.lengths[b] - 1);
      }
    }
    engine.dispose();
  });

  it('a GRU learns the majority bit of strings of length 1..64 through batch.lengths (held-out accuracy above 88%)', async () => {
    const engine = await createEngine({ backend: 'cpu' });
    const reports: { step: number; accuracy: number }[] = [];
    const last = await train(engine, { steps: 150, reportEvery: 50 }, (r: { step: number; accuracy: number }) => reports.push(r));
    expect(reports.map((r) => r.step)).toEqual([50, 100, 150]);
    console.log(`classify-lengths: held-out accuracy ${reports.map((r) => (100 * r.accuracy).toFixed(1) + '%').join(' -> ')}`);
    expect(last.accuracy).toBeGreaterThan(0.88);
    engine.dispose();
  }, 60_000);
});

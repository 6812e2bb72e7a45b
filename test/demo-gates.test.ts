// The demo's cell switch and its three-cell exercise: the models it builds for
// every cell and depth are valid SequenceModels (or the chapter's RnnModel),
// the keep-gate bias lands on lstm's f and gru's z, and the comparison shows
// what the gates do: at bias 0 every cell vanishes, with a positive bias the
// gated cells' gradients reach the first step and the vanilla one's do not.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { createEngine, type SequenceModel } from '../src/index.js';
import { initDemoModel, initSequenceModel } from '../demo/src/model.js';
import { gateBatch, gateCurves } from '../demo/src/gates.js';
import { cleanText, encode, makeStreamBatcher, VOCAB_SIZE } from '../demo/src/corpus.js';

const ids = encode(cleanText(readFileSync(new URL('../demo/data/timemachine.txt', import.meta.url), 'utf8')));

describe('demo models for every cell and depth', () => {
  it('one vanilla layer is the RnnModel; everything else a SequenceModel the engine trains', async () => {
    const engine = await createEngine({ backend: 'cpu' });
    expect('cell' in initDemoModel({ cell: 'rnn', numLayers: 1, hiddenSize: 8, whhRadius: 0 }, VOCAB_SIZE, 1)).toBe(false);
    const { batch } = makeStreamBatcher(ids, 5, 3)();
    for (const cell of ['rnn', 'gru', 'lstm'] as const) {
      for (const numLayers of [1, 2, 3]) {
        if (cell === 'rnn' && numLayers === 1) continue;
        const model = initDemoModel({ cell, numLayers, hiddenSize: 7, whhRadius: 0.9 }, VOCAB_SIZE, 2) as SequenceModel;
        expect(model.cell).toBe(cell);
        expect(model.layers).toHaveLength(numLayers);
        const r = await engine.gradients(model, batch, { loss: 'cross-entropy', gradNormPerStep: true });
        expect(r.layers).toHaveLength(numLayers);
        expect(r.gradNormPerStep).toHaveLength(numLayers * 5);
        expect(Math.abs(r.loss - Math.log(VOCAB_SIZE))).toBeLessThan(0.5); // untrained: near the uniform guess
      }
    }
    engine.dispose();
  });

  it('puts the keep-gate bias on block 1 (lstm f, gru z) and nowhere else', () => {
    const h = 5;
    for (const cell of ['gru', 'lstm'] as const) {
      const plain = initSequenceModel({ cell, numLayers: 2, inputSize: 4, hiddenSize: h, outputSize: 0, seed: 3 });
      const biased = initSequenceModel({ cell, numLayers: 2, inputSize: 4, hiddenSize: h, outputSize: 0, seed: 3, gateBias: 2.5 });
      for (let l = 0; l < 2; l++) {
        const a = plain.layers[l].bh!;
        const b = biased.layers[l].bh!;
        for (let i = 0; i < a.length; i++) expect(b[i] - a[i]).toBeCloseTo(i >= h && i < 2 * h ? 2.5 : 0, 6);
        expect(biased.layers[l].Wh).toEqual(plain.layers[l].Wh);
      }
    }
  });
});

describe('demo exercise: what the gates do', () => {
  const T = 48;
  const x = makeStreamBatcher(ids, T, 4)().batch.x as Int32Array;
  const batch = gateBatch(x, T, 4, VOCAB_SIZE, 7);

  it('the loss reaches the last step only', () => {
    const dO = batch.dO!;
    const row = 4 * VOCAB_SIZE;
    expect(dO.subarray(0, (T - 1) * row).every((v) => v === 0)).toBe(true);
    expect(dO.subarray((T - 1) * row).some((v) => v !== 0)).toBe(true);
  });

  it('at PyTorch initialisation all three cells vanish; a keep-gate bias of 3 carries the gated cells back to t = 1', async () => {
    const engine = await createEngine({ backend: 'cpu' });
    const plain = await gateCurves(engine, batch, VOCAB_SIZE, { hiddenSize: 32, steps: T, gateBias: 0, seed: 7 });
    expect(plain.map((c) => c.cell)).toEqual(['rnn', 'gru', 'lstm']);
    for (const c of plain) {
      expect(c.logNorms).toHaveLength(T);
      for (const v of c.logNorms) expect(Number.isFinite(v)).toBe(true);
      expect(c.logNorms[0]).toBeLessThan(c.logNorms[T - 1] - 10); // e^-10 of the gradient at the loss is left at t = 1
      expect(c.slope).toBeGreaterThan(0.2); // log-norm rises towards the loss: it falls going back in time
    }
    const gated = await gateCurves(engine, batch, VOCAB_SIZE, { hiddenSize: 32, steps: T, gateBias: 3, seed: 7 });
    const [rnn, gru, lstm] = gated;
    expect(rnn.logNorms).toEqual(plain[0].logNorms); // the vanilla cell has no gate to bias
    for (const c of [gru, lstm]) {
      expect(c.logNorms[0]).toBeGreaterThan(rnn.logNorms[0] + 10);
      expect(Math.abs(c.slope)).toBeLessThan(0.1);
    }
    engine.dispose();
  });
});

// The demo's sampler runs its own forward pass in plain TypeScript: it must be
// the library's forward pass (hT of engine.gradients), and its choices must be
// argmax / softmax draws of the logits W_qh h + b_q.
import { describe, expect, it } from 'vitest';
import { createEngine } from '../src/index.js';
import { initCharModel } from '../demo/src/model.js';
import { argmax, drawSoftmax, outputLogits, sampleIds, stepHidden } from '../demo/src/sample.js';
import { decode, encode, VOCAB_SIZE } from '../demo/src/corpus.js';

describe('demo sampler', () => {
  it('its hidden state after a prefix is the library forward pass hT', async () => {
    const model = initCharModel(VOCAB_SIZE, 24, 3);
    const prefix = encode('time traveller');
    const engine = await createEngine({ backend: 'cpu' });
    const T = prefix.length;
    const r = await engine.gradients(model, { steps: T, batchSize: 1, x: prefix, y: new Int32Array(T) }, { loss: 'cross-entropy' });
    const h = new Float64Array(model.hiddenSize);
    for (const id of prefix) stepHidden(model, h, id);
    for (let i = 0; i < h.length; i++) expect(Math.abs(h[i] - r.hT[i])).toBeLessThan(1e-5);
    engine.dispose();
  });

  it('greedy sampling feeds back the argmax of the logits, and is deterministic', () => {
    const model = initCharModel(VOCAB_SIZE, 16, 5);
    const prefix = encode('the ');
    const out = sampleIds(model, prefix, { length: 12 });
    const h = new Float64Array(16);
    for (const id of prefix) stepHidden(model, h, id);
    for (let n = 0; n < 12; n++) {
      const id = argmax(outputLogits(model, h));
      expect(out[n]).toBe(id);
      stepHidden(model, h, id);
    }
    expect(decode(sampleIds(model, prefix, { length: 12 }))).toBe(decode(out));
  });

  it('draws from softmax(o / temperature)', () => {
    const o = [0, Math.log(3)]; // probabilities 1/4, 3/4
    expect(drawSoftmax(o, 1, 0.2)).toBe(0);
    expect(drawSoftmax(o, 1, 0.3)).toBe(1);
    let ones = 0;
    for (let i = 0; i < 4000; i++) ones += drawSoftmax(o, 1, (i + 0.5) / 4000);
    expect(ones / 4000).toBeCloseTo(0.75, 3);
    // a low temperature sharpens towards the argmax
    expect(drawSoftmax(o, 0.05, 0.001)).toBe(1);
  });
});

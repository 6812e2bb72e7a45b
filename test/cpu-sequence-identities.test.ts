// Identities of a SequenceModel gradient call that finite differences do not
// reach: global-norm clipping over every layer and the head, the non-finite
// flag, seeded randomized truncation (the reported xi is the one used), and
// that the caller's arrays are never written.
import { beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../src/index.js';
import type { GradientOptions, SequenceGradients } from '../src/types.js';
import { expectClose } from './helpers.js';
import { randomSequenceProblem, type SequenceSpec } from './cpu-sequence-helpers.js';

let engine: Engine;
beforeAll(async () => {
  engine = await createEngine({ backend: 'cpu' });
});

const SPEC: SequenceSpec = { cell: 'gru', T: 6, B: 3, d: 4, h: 5, q: 3, L: 2, bidirectional: true, lengths: [6, 3, 5], states: true, seed: 401 };

/** Every parameter gradient of a result, in one list. */
function all(r: SequenceGradients): Float32Array[] {
  const out: Float32Array[] = [];
  for (const l of r.layers) out.push(...([l.dWx, l.dWh, l.dbx, l.dbh].filter(Boolean) as Float32Array[]));
  if (r.head) out.push(...([r.head.dW, r.head.db].filter(Boolean) as Float32Array[]));
  return out;
}

describe('clipping', () => {
  it('scales every layer and the head by clipNorm / gradNorm; dh0, dc0, dx unscaled', async () => {
    const { model, batch } = randomSequenceProblem({ ...SPEC, cell: 'lstm' });
    const options: GradientOptions = { loss: 'cross-entropy', inputGradient: true, gradNormPerStep: true };
    const plain = await engine.gradients(model, batch, options);
    const norm = Math.sqrt(all(plain).reduce((s, a) => s + a.reduce((t, v) => t + v * v, 0), 0));
    expect(plain.gradNorm).toBeCloseTo(norm, 6);
    expect(plain.clipped).toBe(false);
    const clipNorm = plain.gradNorm / 4;
    const clipped = await engine.gradients(model, batch, { ...options, clipNorm });
    expect(clipped.clipped).toBe(true);
    expect(clipped.gradNorm).toBe(plain.gradNorm);
    all(clipped).forEach((a, i) => expectClose(`gradient ${i}`, a, all(plain)[i].map((v) => v / 4), { rtol: 1e-6, atol: 1e-12 }));
    expect(clipped.dh0).toEqual(plain.dh0);
    expect(clipped.dc0).toEqual(plain.dc0);
    expect(clipped.dx).toEqual(plain.dx);
    expect(clipped.gradNormPerStep).toEqual(plain.gradNormPerStep);
    expect(plain.gradNormPerStep!.length).toBe(4 * 6); // [L*dirs, T]
    const above = await engine.gradients(model, batch, { ...options, clipNorm: plain.gradNorm * 2 });
    expect(above.clipped).toBe(false);
    expect(all(above)).toEqual(all(plain));
  });
});

describe('gradNormPerStep', () => {
  it('is [L*dirs, T], zero at steps past every sequence end and positive before', async () => {
    const { model, batch } = randomSequenceProblem({ ...SPEC, lengths: [3, 2, 3] });
    const r = await engine.gradients(model, batch, { loss: 'cross-entropy', gradNormPerStep: true });
    const n = r.gradNormPerStep!;
    expect(n.length).toBe(4 * 6);
    for (let k = 0; k < 4; k++) {
      expect(Array.from(n.subarray(k * 6 + 3, k * 6 + 6))).toEqual([0, 0, 0]);
      expect(n.subarray(k * 6, k * 6 + 3).every((v) => v > 0)).toBe(true);
    }
  });
});

describe('non-finite gradients', () => {
  it('a NaN input gives nonFinite, a NaN norm, and no clipping', async () => {
    const { model, batch } = randomSequenceProblem(SPEC);
    const x = (batch.x as Float32Array).slice();
    x[5] = NaN;
    const r = await engine.gradients(model, { ...batch, x }, { loss: 'cross-entropy', clipNorm: 1 });
    expect(r.nonFinite).toBe(true);
    expect(r.gradNorm).toBeNaN();
    expect(r.clipped).toBe(false);
    // the engine still works
    expect((await engine.gradients(model, batch, { loss: 'cross-entropy' })).nonFinite).toBe(false);
  });
  it('gradients that overflow float32 are non-finite', async () => {
    // identity rnn: dbx = the sum of dY over 18 rows of 3e38, finite in float64, infinite in float32: the
    // reference keeps float32's range, so the gradient is Infinity and the norm NaN, as the vanilla reference
    const { model, batch } = randomSequenceProblem({ ...SPEC, cell: 'rnn', activation: 'identity', q: undefined, bidirectional: false, lengths: undefined });
    const dY = batch.dY!.map(() => 3e38);
    const r = await engine.gradients(model, { ...batch, dY }, { loss: 'none' });
    expect(r.layers[1].dbx!.some((v) => !Number.isFinite(v))).toBe(true);
    expect(r.gradNorm).toBeNaN();
    expect(r.nonFinite).toBe(true);
  });
});

describe('randomized truncation', () => {
  it('a seed draws one xi per t, shared by every layer and direction; the explicit xi gives the same gradients', async () => {
    const { model, batch } = randomSequenceProblem(SPEC);
    const seeded = await engine.gradients(model, batch, { loss: 'cross-entropy', truncation: { kind: 'randomized', keepProbability: 0.5, seed: 21 } });
    expect(seeded.xi!.length).toBe(6);
    expect(new Set(seeded.xi).size).toBeGreaterThan(1);
    const explicit = await engine.gradients(model, batch, { loss: 'cross-entropy', truncation: { kind: 'randomized', xi: seeded.xi! } });
    expect(explicit.layers).toEqual(seeded.layers);
    expect(explicit.dh0).toEqual(seeded.dh0);
    const full = await engine.gradients(model, batch, { loss: 'cross-entropy' });
    expect(full.layers[0].dWh).not.toEqual(seeded.layers[0].dWh);
    expect(full.xi).toBeUndefined();
  });
});

describe("the caller's arrays", () => {
  it('are never written by gradients, forward or a trainer', async () => {
    const { model, batch } = randomSequenceProblem({ ...SPEC, cell: 'lstm' });
    const snapshot = JSON.stringify({ model, batch }, (_, v) => (ArrayBuffer.isView(v) ? Array.from(v as Float32Array) : v));
    await engine.gradients(model, batch, { loss: 'cross-entropy', clipNorm: 0.1, inputGradient: true });
    await engine.forward(model, batch, { outputs: ['O', 'Y'] });
    const trainer = engine.trainer(model, { optimizer: { kind: 'adam', learningRate: 0.1 }, loss: 'cross-entropy', carryState: true });
    await trainer.step(batch);
    await trainer.step(batch);
    expect(JSON.stringify({ model, batch }, (_, v) => (ArrayBuffer.isView(v) ? Array.from(v as Float32Array) : v))).toBe(snapshot);
    const read = await trainer.read();
    expect(read.layers[0].Wx).not.toBe(model.layers[0].Wx);
    expect(read.layers[0].Wx).not.toEqual(model.layers[0].Wx);
  });
});

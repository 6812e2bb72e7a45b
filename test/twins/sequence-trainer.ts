// The trainer on a SequenceModel: a step is the optimizer (SGD, Adam)
// applied to the clipped gradients of the float64 reference; carryState
// carries h and c of every layer-direction (as if the next batch were given
// hT and cT as h0 and c0); one submit per step on WebGPU; training lowers the loss;
// read() returns a SequenceModel of the same shape.
//
// Registers the tests for an engine under test (`gpu` below): WebGPU in test/gpu-sequence-trainer.test.ts,
// WebAssembly with 1 and 2 threads in test/wasm-sequence-trainer.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../../src/index.js';
import type { Batch, OptimizerOptions, SequenceGradients, SequenceModel, Truncation } from '../../src/types.js';
import { packSequence, sequenceLayout, unpackSequence } from '../../src/sequence-params.js';
import { applyUpdate, makeOptimizerState } from '../../src/cpu/optimizer.js';
import { truncationXi } from '../../src/truncation.js';
import { expectCloseToCpu, printWorst } from '../gpu-setup.js';
import { randomSequenceProblem, referenceSequenceGradients, referenceWindowGradients, type SeqSpec } from '../sequence-reference.js';


/** The flat gradient of the reference, in the layout of the parameter vector. */
function flatGradient(model: SequenceModel, g: SequenceGradients): Float64Array {
  const lay = sequenceLayout(model);
  const out = new Float64Array(lay.total);
  g.layers.forEach((l, k) => {
    const o = lay.layers[k];
    out.set(l.dWx, o.Wx);
    out.set(l.dWh, o.Wh);
    if (l.dbx && l.dbh) {
      out.set(l.dbx, o.bx);
      out.set(l.dbh, o.bh);
    }
  });
  if (g.head && lay.head) {
    out.set(g.head.dW, lay.head.W);
    if (g.head.db) out.set(g.head.db, lay.head.b);
  }
  return out;
}

/** Host twin of the trainer: reference gradients (clipped) and the CPU optimizer on float64 parameters. */
function hostSteps(model: SequenceModel, batches: Batch[], optimizer: OptimizerOptions, truncation: Truncation, clipNorm?: number): SequenceModel {
  let current = model;
  const params = Float64Array.from(packSequence(model));
  const state = makeOptimizerState(optimizer, params.length);
  for (const batch of batches) {
    const loss = current.head ? 'cross-entropy' : 'none';
    const g =
      truncation.kind === 'window'
        ? referenceWindowGradients(current, batch, { loss, tau: truncation.steps, clipNorm })
        : referenceSequenceGradients(current, batch, { loss, xi: truncationXi(truncation, batch.steps)!, clipNorm });
    applyUpdate(params, flatGradient(current, g), optimizer, state);
    current = unpackSequence(model, Float32Array.from(params));
  }
  return current;
}

function expectModelsClose(where: string, got: SequenceModel, want: SequenceModel): void {
  expectCloseToCpu(where, 'parameters', packSequence(got), packSequence(want), { rtol: 2e-3, atolRel: 1e-5 });
}

export function defineSequenceTrainerTwins(label: string, makeEngine: () => Promise<Engine>): void {
  let gpu: Engine;
  beforeAll(async () => {
    gpu = await makeEngine();
  });
  afterAll(() => {
    gpu?.dispose();
    printWorst(label);
  });

  describe('a trainer step is the optimizer applied to the gradients', () => {
    const cases: Array<[string, SeqSpec, OptimizerOptions, Truncation, number | undefined]> = [
      ['lstm L=2 bi, sgd, chunked, clipped', { cell: 'lstm', L: 2, bi: true, T: 5, B: 7, d: 5, h: 9, q: 6, tokens: true, seed: 71 }, { kind: 'sgd', learningRate: 0.5 }, { kind: 'chunked', steps: 2 }, 0.05],
      ['gru L=2 uni, adam, full', { cell: 'gru', L: 2, bi: false, T: 4, B: 5, d: 4, h: 11, q: 5, seed: 72 }, { kind: 'adam', learningRate: 0.01 }, { kind: 'full' }, undefined],
      ['lstm L=2 uni, adam, window(2)', { cell: 'lstm', L: 2, bi: false, T: 5, B: 4, d: 4, h: 6, q: 4, seed: 74 }, { kind: 'adam', learningRate: 0.01 }, { kind: 'window', steps: 2 }, undefined],
      ['rnn L=1 bi, adam, explicit xi, no bias', { cell: 'rnn', L: 1, bi: true, T: 4, B: 3, d: 3, h: 7, q: 4, bias: false, seed: 73 }, { kind: 'adam', learningRate: 0.02 }, { kind: 'randomized', xi: Float32Array.from([1, 0, 2, 1]) }, 0.1],
    ];
    it.each(cases)('%s: two steps', async (_name, spec, optimizer, truncation, clipNorm) => {
      const { model, batch } = randomSequenceProblem(spec);
      const second = randomSequenceProblem({ ...spec, seed: spec.seed! + 100 }).batch;
      const trainer = gpu.trainer(model, { optimizer, loss: 'cross-entropy', truncation, clipNorm });
      for (const b of [batch, second]) {
        const r = await trainer.step(b);
        expect(r.skipped).toBe(false);
        if (gpu.backend === 'webgpu') expect(gpu.stats().submits).toBe(1);
      }
      const got = await trainer.read();
      expect(got.layers.length).toBe(model.layers.length);
      expect(got.cell).toBe(model.cell);
      expectModelsClose(_name, got, hostSteps(model, [batch, second], optimizer, truncation, clipNorm));
      expect(packSequence(model)).toEqual(packSequence(randomSequenceProblem(spec).model)); // the caller's model untouched
      trainer.dispose();
    });
  });

  describe('carryState', () => {
    it('lstm L=2 bi: the next step starts from hT and cT of every layer-direction', async () => {
      const spec: SeqSpec = { cell: 'lstm', L: 2, bi: true, T: 4, B: 5, d: 4, h: 6, q: 4, tokens: true, seed: 81 };
      const { model, batch } = randomSequenceProblem(spec);
      const second = randomSequenceProblem({ ...spec, seed: 82 }).batch;
      const optimizer: OptimizerOptions = { kind: 'sgd', learningRate: 0.3 };
      const carried = gpu.trainer(model, { optimizer, loss: 'cross-entropy', carryState: true });
      await carried.step(batch);
      await carried.step(second);
      // the same by hand: the first step's final states given as h0, c0
      const first = referenceSequenceGradients(model, batch, { loss: 'cross-entropy', xi: new Float32Array(4).fill(1) });
      const explicit = gpu.trainer(model, { optimizer, loss: 'cross-entropy' });
      await explicit.step(batch);
      await explicit.step({ ...second, h0: first.hT, c0: first.cT });
      expectModelsClose('carryState', await carried.read(), await explicit.read());
      // and it differs from starting at zeros
      const fresh = gpu.trainer(model, { optimizer, loss: 'cross-entropy' });
      await fresh.step(batch);
      await fresh.step(second);
      expect(packSequence(await fresh.read())).not.toEqual(packSequence(await carried.read()));
      for (const t of [carried, explicit, fresh]) t.dispose();
    });
  });

  describe('carryState with lengths', () => {
    it('gru L=2 bi: each sequence carries its own state from its own end', async () => {
      const spec: SeqSpec = { cell: 'gru', L: 2, bi: true, T: 5, B: 4, d: 4, h: 6, q: 4, tokens: true, seed: 83 };
      const { model, batch } = randomSequenceProblem(spec);
      batch.lengths = Int32Array.from([5, 1, 3, 4]);
      const second = randomSequenceProblem({ ...spec, seed: 84 }).batch;
      const optimizer: OptimizerOptions = { kind: 'sgd', learningRate: 0.3 };
      const carried = gpu.trainer(model, { optimizer, loss: 'cross-entropy', carryState: true });
      await carried.step(batch);
      await carried.step(second);
      const cpu = await createEngine({ backend: 'cpu' });
      const first = await cpu.gradients(model, batch, { loss: 'cross-entropy' });
      cpu.dispose();
      const explicit = gpu.trainer(model, { optimizer, loss: 'cross-entropy' });
      await explicit.step(batch);
      await explicit.step({ ...second, h0: first.hT });
      expectModelsClose('carryState with lengths', await carried.read(), await explicit.read());
      for (const t of [carried, explicit]) t.dispose();
    });
  });

  describe('window(tau) with lengths: the steps of the CPU trainer, carryState', () => {
    const odd = { T: 5, B: 35, d: 7, h: 33 };
    const rows: Array<[string, SeqSpec, number, OptimizerOptions, number | undefined]> = [
      ['rnn L=1, sgd, tau=2, clipped', { cell: 'rnn', L: 1, bi: false, ...odd, q: 9, tokens: true, seed: 161 }, 2, { kind: 'sgd', learningRate: 0.5 }, 0.05],
      ['rnn L=2, adam, tau=3', { cell: 'rnn', L: 2, bi: false, ...odd, q: 6, seed: 162 }, 3, { kind: 'adam', learningRate: 0.01 }, undefined],
      ['gru L=1, adam, tau=3, clipped', { cell: 'gru', L: 1, bi: false, ...odd, q: 9, tokens: true, seed: 163 }, 3, { kind: 'adam', learningRate: 0.01 }, 0.1],
      ['gru L=2, sgd, tau=2', { cell: 'gru', L: 2, bi: false, ...odd, q: 5, bias: false, seed: 164 }, 2, { kind: 'sgd', learningRate: 0.3 }, undefined],
      ['lstm L=1, sgd, tau=1', { cell: 'lstm', L: 1, bi: false, ...odd, q: 9, seed: 165 }, 1, { kind: 'sgd', learningRate: 0.3 }, undefined],
      ['lstm L=2, adam, tau=2, clipped', { cell: 'lstm', L: 2, bi: false, ...odd, q: 9, tokens: true, seed: 166 }, 2, { kind: 'adam', learningRate: 0.01 }, 0.1],
      ['lstm L=2, round T=8 B=32 h=32, adam, tau=3', { cell: 'lstm', L: 2, bi: false, T: 8, B: 32, d: 8, h: 32, q: 8, seed: 167 }, 3, { kind: 'adam', learningRate: 0.01 }, undefined],
    ];
    it.each(rows)('%s: three steps', async (name, spec, tau, optimizer, clipNorm) => {
      const { model } = randomSequenceProblem(spec);
      const options = { optimizer, loss: 'cross-entropy' as const, truncation: { kind: 'window' as const, steps: tau }, clipNorm, carryState: true };
      const cpu = await createEngine({ backend: 'cpu' });
      const g = gpu.trainer(model, options);
      const c = cpu.trainer(model, options);
      for (let k = 0; k < 3; k++) {
        const { batch } = randomSequenceProblem({ ...spec, seed: spec.seed! + 10 * k });
        batch.lengths = Int32Array.from({ length: spec.B }, (_, b) => (b === 0 ? spec.T : b === 1 ? 1 : 1 + ((b * 3 + k) % spec.T)));
        const rg = await g.step(batch);
        if (gpu.backend === 'webgpu') expect(gpu.stats().submits).toBe(1);
        const rc = await c.step(batch);
        expect(rg.skipped).toBe(false);
        expectCloseToCpu(`${name}, step ${k}`, 'step loss', [rg.loss], [rc.loss], { rtol: 2e-3, atolRel: 0 });
      }
      expectModelsClose(name, await g.read(), await c.read());
      g.dispose();
      cpu.dispose();
    });
  });

  describe('training', () => {
    it('a 2-layer lstm learns to echo the previous token (loss falls below a third)', async () => {
      const V = 5;
      const T = 8;
      const B = 16;
      const spec: SeqSpec = { cell: 'lstm', L: 2, bi: false, T, B, d: V, h: 16, q: V, tokens: true, seed: 91 };
      const { model } = randomSequenceProblem(spec);
      const trainer = gpu.trainer(model, { optimizer: { kind: 'adam', learningRate: 0.03 }, loss: 'cross-entropy', clipNorm: 5 });
      let seed = 1;
      const batchOf = (): Batch => {
        const x = new Int32Array(T * B);
        const y = new Int32Array(T * B);
        for (let i = 0; i < T * B; i++) x[i] = (seed = (seed * 1103515245 + 12345) % 2147483648) % V;
        for (let t = 0; t < T; t++) for (let b = 0; b < B; b++) y[t * B + b] = t === 0 ? 0 : x[(t - 1) * B + b];
        return { steps: T, batchSize: B, x, y };
      };
      const first = (await trainer.step(batchOf())).loss;
      let last = first;
      for (let i = 0; i < 150; i++) last = (await trainer.step(batchOf())).loss;
      expect(last).toBeLessThan(first / 3);
      trainer.dispose();
    });
  });
}

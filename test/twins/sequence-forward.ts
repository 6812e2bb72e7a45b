// engine.forward: the forward part of a gradient call, so its loss,
// hT and cT are those gradients() reports, bit for bit; O and Y against the
// CPU engine's forward (zero at padded rows); an RnnModel runs as its
// one-layer sequence; on WebGPU one submit, K + L*T (+ head and loss) dispatches.
//
// Registers the tests for an engine under test (`gpu` below): WebGPU in test/gpu-sequence-forward.test.ts,
// WebAssembly with 1 and 2 threads in test/wasm-sequence-forward.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../../src/index.js';
import { expectCloseToCpu, printWorst } from '../gpu-setup.js';
import { randomProblem } from '../helpers.js';
import { randomSequenceProblem, type SeqSpec } from '../sequence-reference.js';
import { statsLayout } from '../../src/gpu/stats.js';


const cases: Array<[string, SeqSpec, boolean]> = [
  ['lstm L=2 bi, cross-entropy, lengths', { cell: 'lstm', L: 2, bi: true, T: 5, B: 7, d: 5, h: 9, q: 6, states: true, seed: 121 }, true],
  ['gru L=1 uni, mse, token ids', { cell: 'gru', L: 1, bi: false, T: 6, B: 5, d: 7, h: 11, q: 4, loss: 'mse', tokens: true, seed: 122 }, false],
  ['rnn L=2 uni, relu, no head', { cell: 'rnn', L: 2, bi: false, T: 4, B: 3, d: 3, h: 6, q: 0, activation: 'relu', states: true, seed: 123 }, true],
];

export function defineSequenceForwardTwins(label: string, makeEngine: () => Promise<Engine>): void {
  let gpu: Engine;
  let cpu: Engine;
  beforeAll(async () => {
    gpu = await makeEngine();
    cpu = await createEngine({ backend: 'cpu' });
  });
  afterAll(() => {
    gpu?.dispose();
    cpu?.dispose();
    printWorst(label);
  });

  describe('engine.forward', () => {
    it.each(cases)('%s', async (name, spec, withLengths) => {
      const { model, batch } = randomSequenceProblem(spec);
      if (withLengths) batch.lengths = Int32Array.from({ length: spec.B }, (_, b) => 1 + ((b * 3) % spec.T));
      const fwdBatch = { ...batch, dY: undefined, dhT: undefined, dcT: undefined };
      const outputs: Array<'O' | 'Y'> = spec.q ? ['O', 'Y'] : ['Y'];
      const got = await gpu.forward(model, fwdBatch, { outputs });
      if (gpu.backend === 'webgpu') {
        const { dispatches, submits } = gpu.stats();
        expect(submits).toBe(1);
        const dirs = spec.bi ? 2 : 1;
        const K = spec.L * dirs;
        expect(dispatches).toBe(K + spec.L * spec.T + (spec.q ? 2 : 0) + (spec.q ? 3 : 0) - (withLengths ? 0 : spec.q ? 2 : 0));
      }
      // the forward part of gradients, bit for bit
      const loss = spec.q ? (spec.loss ?? 'cross-entropy') : 'none';
      const g = await gpu.gradients(model, batch, { loss });
      expect(got.hT).toEqual(g.hT);
      expect(got.cT).toEqual(g.cT);
      if (spec.q) expect(got.loss).toBe(g.loss);
      else expect(got.loss).toBeUndefined();
      // O and Y against the CPU reference's forward
      const want = await cpu.forward(model, fwdBatch, { outputs });
      expectCloseToCpu(name, 'Y', got.Y!, want.Y!);
      if (spec.q) {
        expectCloseToCpu(name, 'O', got.O!, want.O!);
        expectCloseToCpu(name, 'loss', [got.loss!], [want.loss!], { rtol: 2e-3, atolRel: 0 });
      }
      expectCloseToCpu(name, 'hT', got.hT, want.hT);
      if (want.cT) expectCloseToCpu(name, 'cT', got.cT!, want.cT);
    });

    it('an RnnModel (no lengths) runs on its own kernels: loss and hT bit for bit as gradients() reports them, O and Y as the CPU, fewer dispatches', async () => {
      const cases = [
        randomProblem({ T: 6, B: 4, d: 5, h: 7, q: 3, tokens: true, h0: true, seed: 124 }),
        randomProblem({ T: 5, B: 35, d: 7, h: 33, q: 6, loss: 'mse', activation: 'relu', seed: 126 }),
        randomProblem({ T: 4, B: 3, d: 5, h: 9, q: 4, bias: false, activation: 'identity', seed: 127 }),
      ];
      for (const [i, { model, batch }] of cases.entries()) {
        const name = `rnn model ${i}`;
        const loss = batch.y instanceof Int32Array ? 'cross-entropy' : 'mse';
        const got = await gpu.forward(model, batch, { outputs: ['O', 'Y'] });
        const forwardDispatches = gpu.stats().dispatches;
        if (gpu.backend === 'webgpu') expect(gpu.stats().submits).toBe(1);
        const g = await gpu.gradients(model, batch, { loss });
        if (gpu.backend === 'webgpu') expect(forwardDispatches).toBeLessThan(gpu.stats().dispatches);
        expect(got.loss, name).toBe(g.loss); // the same kernels in the same order
        expect(Array.from(got.hT), name).toEqual(Array.from(g.hT));
        const want = await cpu.forward(model, batch, { outputs: ['O', 'Y'] });
        expectCloseToCpu(name, 'O', got.O!, want.O!);
        expectCloseToCpu(name, 'Y', got.Y!, want.Y!);
        const noLoss = await gpu.forward(model, { ...batch, y: undefined }, { outputs: ['O'] });
        expect(noLoss.loss, name).toBeUndefined();
        expect(Array.from(noLoss.O!), name).toEqual(Array.from(got.O!));
      }
    });
  });

  describe('trainer.forward', () => {
    it('runs on the parameters in place: the same numbers as engine.forward on read(), bit for bit', async () => {
      const spec: SeqSpec = { cell: 'gru', L: 2, bi: true, T: 5, B: 4, d: 6, h: 8, q: 6, tokens: true, seed: 125 };
      const { model, batch } = randomSequenceProblem(spec);
      const trainer = gpu.trainer(model, { optimizer: { kind: 'adam', learningRate: 0.01 }, loss: 'cross-entropy' });
      await trainer.step(batch);
      await trainer.step(batch);
      const before = gpu.stats().readBytes ?? 0;
      const got = await trainer.forward(batch, { outputs: ['O'] });
      if (gpu.backend === 'webgpu') {
        expect(gpu.stats().submits).toBe(1);
        // read back: the loss's stats, hT of the K = 4 layer-directions and O; nothing of the parameters
        expect(gpu.stats().readBytes! - before).toBe(4 * (statsLayout().fixed + 4 * spec.B * spec.h + spec.T * spec.B * spec.q));
      }
      const want = await gpu.forward(await trainer.read(), batch, { outputs: ['O'] });
      expect(got.loss).toBe(want.loss);
      expect(got.O).toEqual(want.O);
      expect(got.hT).toEqual(want.hT);
      trainer.dispose();
    });

    it('an RnnModel trainer: from its own parameters, without and with lengths, bit for bit as engine.forward on read(); on WebGPU nothing of the parameters read back', async () => {
      const T = 6, B = 35, h = 33, q = 5;
      const { model, batch } = randomProblem({ T, B, d: 7, h, q, tokens: true, seed: 128 });
      const trainer = gpu.trainer(model, { optimizer: { kind: 'adam', learningRate: 0.01 }, loss: 'cross-entropy' });
      await trainer.step(batch);
      await trainer.step({ ...batch, lengths: Int32Array.from({ length: B }, (_, b) => 1 + ((b * 5) % T)) });
      const lengths = Int32Array.from({ length: B }, (_, b) => 1 + ((b * 3) % T));
      for (const b of [batch, { ...batch, lengths }]) {
        const where = b.lengths ? 'with lengths' : 'without lengths';
        const before = gpu.stats().readBytes ?? 0;
        const got = await trainer.forward(b, { outputs: ['O'] });
        if (gpu.backend === 'webgpu') {
          expect(gpu.stats().submits, where).toBe(1);
          expect(gpu.stats().readBytes! - before, where).toBe(4 * (statsLayout().fixed + B * h + T * B * q)); // the loss, hT, O
        }
        const now = await trainer.read();
        const want = await gpu.forward(now, b, { outputs: ['O'] });
        expect(got.loss, where).toBe(want.loss);
        expect(got.O, where).toEqual(want.O);
        expect(got.hT, where).toEqual(want.hT);
        // and the loss a gradient call reports on these parameters
        expect(got.loss, where).toBe((await gpu.gradients(now, b, { loss: 'cross-entropy' })).loss);
        const ref = await cpu.forward(now, b, { outputs: ['O'] });
        expectCloseToCpu(`rnn trainer ${where}`, 'O', got.O!, ref.O!);
      }
      trainer.dispose();
    });
  });
}

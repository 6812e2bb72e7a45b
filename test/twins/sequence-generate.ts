// engine.generate: greedy decoding gives the CPU reference's ids
// (a host loop of one-step forward calls) for lstm, gru and an RnnModel;
// sampling with a seed is repeatable; the tokens after the first run as
// one-step forwards recorded many to a submit on WebGPU.
//
// Registers the tests for an engine under test (`gpu` below): WebGPU in test/gpu-sequence-generate.test.ts,
// WebAssembly with 1 and 2 threads in test/wasm-sequence-generate.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../../src/index.js';
import { randomProblem } from '../helpers.js';
import { randomSequenceProblem, type SeqSpec } from '../sequence-reference.js';
import type { RnnModel } from '../../src/types.js';
import { makeRng } from '../../src/rng.js';
import { drawU24 } from '../../src/cpu/sequence/infer.js';

const V = 11;
const specs: Array<[string, SeqSpec]> = [
  ['lstm, 2 layers', { cell: 'lstm', L: 2, bi: false, T: 1, B: 1, d: V, h: 16, q: V, tokens: true, seed: 131 }],
  ['gru, 1 layer, no bias', { cell: 'gru', L: 1, bi: false, T: 1, B: 1, d: V, h: 12, q: V, tokens: true, bias: false, seed: 132 }],
];

export function defineSequenceGenerateTwins(label: string, makeEngine: () => Promise<Engine>): void {
  let gpu: Engine;
  let cpu: Engine;
  beforeAll(async () => {
    gpu = await makeEngine();
    cpu = await createEngine({ backend: 'cpu' });
  });
  afterAll(() => {
    gpu?.dispose();
    cpu?.dispose();
  });

  describe('engine.generate', () => {
    it.each(specs)('%s: greedy equals the CPU reference; a seed makes sampling repeatable', async (_name, spec) => {
      const { model } = randomSequenceProblem(spec);
      // sharper logits, so that greedy picks are far from ties in float32
      for (const w of [model.head!.W]) for (let i = 0; i < w.length; i++) w[i] *= 4;
      const prefix = Int32Array.of(3, 1, 4, 1, 5);
      const steps = 40;
      const got = await gpu.generate(model, { prefix, steps });
      if (gpu.backend === 'webgpu') expect(gpu.stats().dispatches).toBe((steps - 1) * (spec.L + spec.L + 2)); // the later tokens, one submit
      expect(Array.from(got)).toEqual(Array.from(await cpu.generate(model, { prefix, steps })));
      const a = await gpu.generate(model, { prefix, steps, temperature: 0.9, seed: 5 });
      const b = await gpu.generate(model, { prefix, steps, temperature: 0.9, seed: 5 });
      expect(a).toEqual(b);
      for (const id of a) expect(id >= 0 && id < V).toBe(true);
    });

    it('an RnnModel: greedy equals the CPU reference', async () => {
      const { model } = randomProblem({ T: 1, B: 1, d: V, h: 9, q: V, tokens: true, seed: 133, scale: 1.5 });
      const prefix = Int32Array.of(2, 7);
      const got = await gpu.generate(model, { prefix, steps: 25 });
      expect(Array.from(got)).toEqual(Array.from(await cpu.generate(model, { prefix, steps: 25 })));
    });
  });

  describe('sampling', () => {
    it('temperature sampling with a seed: the CPU reference\'s ids over 200 tokens (lstm, gru, RnnModels of 11 and 300 tokens)', async () => {
      const models = [
        randomSequenceProblem({ cell: 'lstm', L: 2, bi: false, T: 1, B: 1, d: V, h: 16, q: V, tokens: true, seed: 136 }).model,
        randomSequenceProblem({ cell: 'gru', L: 1, bi: false, T: 1, B: 1, d: V, h: 12, q: V, tokens: true, seed: 137 }).model,
        randomProblem({ T: 1, B: 1, d: V, h: 9, q: V, tokens: true, seed: 138, scale: 1.5 }).model,
        randomProblem({ T: 1, B: 1, d: 300, h: 8, q: 300, tokens: true, seed: 139, scale: 3 }).model, // a vocabulary past 128: E is shifted
      ];
      for (const [i, model] of models.entries()) {
        for (const [temperature, seed] of [[1, 7], [0.6, 8]]) {
          const options = { prefix: Int32Array.of(3, 1, 4), steps: 200, temperature, seed };
          const got = await gpu.generate(model, options);
          const want = await cpu.generate(model, options);
          expect(Array.from(got), `model ${i}, temperature ${temperature}`).toEqual(Array.from(want));
          expect(new Set(got).size, 'sampling visits several tokens').toBeGreaterThan(3);
        }
      }
    });

    it('the same logits give the same sampled ids even where float64 arithmetic would pick another token', async () => {
      // Dyadic weights, identity activation and Whh = 0: the logits (a function of the last token only)
      // are exact in float32 and float64 alike, so the ids depend on the sampling arithmetic alone.
      const model: RnnModel = {
        inputSize: 5, hiddenSize: 2, outputSize: 5, activation: 'identity',
        Whx: Float32Array.of(0.5, -0.25, 1, 0.75, -1, 0.25, 0.5, -0.5, 1.25, 0),
        Whh: new Float32Array(4),
        Wqh: Float32Array.of(1, 0.5, -0.75, 1.5, 0.25, -1, 1.25, 0.75, -0.5, 0.25),
        bh: Float32Array.of(0.125, -0.375),
        bq: Float32Array.of(0, 0.25, -0.125, 0.5, -0.25),
      };
      const logits = (x: number) => Array.from({ length: 5 }, (_, c) => [0, 1].reduce((a, j) => a + model.Wqh[c * 2 + j] * (model.Whx[j * 5 + x] + model.bh![j]), model.bq![c]));
      // the seeds were searched for a draw that float64 softmax decides otherwise (a near tie, within 2^-24)
      for (const seed of [251414, 253144]) {
        const options = { prefix: Int32Array.of(4), steps: 200, temperature: 0.7, seed };
        const want = await cpu.generate(model, options);
        expect(Array.from(await gpu.generate(model, options)), `seed ${seed}`).toEqual(Array.from(want));
        // the same draws decided in float64 (softmax with Math.exp) pick another token somewhere: the case is a near tie
        const rng = makeRng(seed);
        let x = 4;
        let differs = false;
        for (const id of want) {
          const u = drawU24(rng) / 2 ** 24;
          const p = logits(x).map((v) => Math.exp(v / 0.7));
          let left = u * p.reduce((a, v) => a + v, 0);
          const f64 = p.findIndex((v) => (left -= v) < 0);
          if (f64 !== id) differs = true;
          x = id;
        }
        expect(differs, `seed ${seed}: a near tie`).toBe(true);
      }
    });
  });

  describe('trainer.generate', () => {
    it("runs on the trainer's parameters in place: the ids engine.generate gives on read()", async () => {
      const spec: SeqSpec = { cell: 'lstm', L: 1, bi: false, T: 6, B: 4, d: V, h: 10, q: V, tokens: true, seed: 134 };
      const { model, batch } = randomSequenceProblem(spec);
      const trainer = gpu.trainer(model, { optimizer: { kind: 'sgd', learningRate: 0.5 }, loss: 'cross-entropy' });
      await trainer.step(batch);
      const options = { prefix: Int32Array.of(1, 2, 3), steps: 12, temperature: 0.7, seed: 3 };
      const got = await trainer.generate(options);
      expect(got).toEqual(await gpu.generate(await trainer.read(), options));
      trainer.dispose();
    });

    it('an RnnModel trainer: the ids engine.generate gives on read(), greedy and sampled; on WebGPU reading back only ids', async () => {
      const { model, batch } = randomProblem({ T: 6, B: 4, d: V, h: 24, q: V, tokens: true, seed: 135, scale: 1.5 });
      const trainer = gpu.trainer(model, { optimizer: { kind: 'sgd', learningRate: 0.5 }, loss: 'cross-entropy' });
      await trainer.step(batch);
      await trainer.step({ ...batch, lengths: Int32Array.of(6, 1, 3, 5) });
      const now = await trainer.read();
      const paramBytes = 4 * (now.Whx.length + now.Whh.length + now.Wqh.length + now.bh!.length + now.bq!.length);
      for (const options of [{ prefix: Int32Array.of(1, 2, 3), steps: 30 }, { prefix: Int32Array.of(4), steps: 30, temperature: 0.8, seed: 9 }]) {
        const before = gpu.stats().readBytes ?? 0;
        const got = await trainer.generate(options);
        if (gpu.backend === 'webgpu') {
          const read = gpu.stats().readBytes! - before;
          expect(read).toBeLessThanOrEqual(4 * options.steps + 16); // the ids (and a few bytes per submit)
          expect(read).toBeLessThan(paramBytes);
        }
        expect(got).toEqual(await gpu.generate(now, options));
      }
      expect(Array.from(await trainer.generate({ prefix: Int32Array.of(1, 2, 3), steps: 30 }))).toEqual(Array.from(await cpu.generate(now, { prefix: Int32Array.of(1, 2, 3), steps: 30 })));
      trainer.dispose();
    });
  });
}

// engine.generate on WebGPU: greedy decoding gives the CPU reference's ids
// (a host loop of one-step forward calls) for lstm, gru and an RnnModel;
// sampling with a seed is repeatable; the tokens after the first run as
// one-step forwards recorded many to a submit.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../src/index.js';
import { gpuEngine } from './gpu-setup.js';
import { randomProblem } from './helpers.js';
import { randomSequenceProblem, type SeqSpec } from './sequence-reference.js';

let gpu: Engine;
let cpu: Engine;
beforeAll(async () => {
  gpu = await gpuEngine();
  cpu = await createEngine({ backend: 'cpu' });
});
afterAll(() => {
  gpu?.dispose();
  cpu?.dispose();
});

const V = 11;
const specs: Array<[string, SeqSpec]> = [
  ['lstm, 2 layers', { cell: 'lstm', L: 2, bi: false, T: 1, B: 1, d: V, h: 16, q: V, tokens: true, seed: 131 }],
  ['gru, 1 layer, no bias', { cell: 'gru', L: 1, bi: false, T: 1, B: 1, d: V, h: 12, q: V, tokens: true, bias: false, seed: 132 }],
];

describe('engine.generate on WebGPU', () => {
  it.each(specs)('%s: greedy equals the CPU reference; a seed makes sampling repeatable', async (_name, spec) => {
    const { model } = randomSequenceProblem(spec);
    // sharper logits, so that greedy picks are far from ties in float32
    for (const w of [model.head!.W]) for (let i = 0; i < w.length; i++) w[i] *= 4;
    const prefix = Int32Array.of(3, 1, 4, 1, 5);
    const steps = 40;
    const got = await gpu.generate(model, { prefix, steps });
    expect(gpu.stats().dispatches).toBe((steps - 1) * (spec.L + spec.L + 2)); // the later tokens, one submit
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

describe('trainer.generate on WebGPU', () => {
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

  it("an RnnModel trainer: the ids engine.generate gives on read(), greedy and sampled, reading back only ids", async () => {
    const { model, batch } = randomProblem({ T: 6, B: 4, d: V, h: 24, q: V, tokens: true, seed: 135, scale: 1.5 });
    const trainer = gpu.trainer(model, { optimizer: { kind: 'sgd', learningRate: 0.5 }, loss: 'cross-entropy' });
    await trainer.step(batch);
    await trainer.step({ ...batch, lengths: Int32Array.of(6, 1, 3, 5) });
    const now = await trainer.read();
    const paramBytes = 4 * (now.Whx.length + now.Whh.length + now.Wqh.length + now.bh!.length + now.bq!.length);
    for (const options of [{ prefix: Int32Array.of(1, 2, 3), steps: 30 }, { prefix: Int32Array.of(4), steps: 30, temperature: 0.8, seed: 9 }]) {
      const before = gpu.stats().readBytes!;
      const got = await trainer.generate(options);
      const read = gpu.stats().readBytes! - before;
      expect(read).toBeLessThanOrEqual(4 * options.steps + 16); // the ids (and a few bytes per submit)
      expect(read).toBeLessThan(paramBytes);
      expect(got).toEqual(await gpu.generate(now, options));
    }
    expect(Array.from(await trainer.generate({ prefix: Int32Array.of(1, 2, 3), steps: 30 }))).toEqual(Array.from(await cpu.generate(now, { prefix: Int32Array.of(1, 2, 3), steps: 30 })));
    trainer.dispose();
  });
});

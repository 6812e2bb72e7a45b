// engine.gpu beyond the cases of gpu-device-api.test.ts: the truncations and
// activations a front end may use (window, randomized, relu and identity
// without biases, dhT, token ids with window), and the device check: a buffer
// of another device, or a destroyed one, is rejected naming its argument,
// with or without the caller's encoder, and leaves that encoder usable.
//
// Tolerance: |gpu - cpu| <= 2e-3 * |cpu| + 1e-5 * max|cpu| per element (GPU_TOL).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gpuEngine, expectCloseToCpu, printWorst, bufferOf, readBuffer } from './gpu-setup.js';
import { BpttInputError, createEngine, type Engine } from '../src/index.js';
import { randomProblem, type ProblemSpec } from './helpers.js';
import type { RnnModel, Truncation } from '../src/types.js';

let gpu: Engine;
let other: Engine; // a second engine: its own device
let cpu: Engine;
beforeAll(async () => {
  gpu = await gpuEngine();
  other = await gpuEngine();
  cpu = await createEngine({ backend: 'cpu' });
});
afterAll(() => {
  printWorst('embedding-device-api');
  gpu?.dispose();
  other?.dispose();
});



const weightsOf = (device: GPUDevice, m: RnnModel) => ({ Whx: bufferOf(device, m.Whx), Whh: bufferOf(device, m.Whh), Wqh: bufferOf(device, m.Wqh), bh: m.bh && bufferOf(device, m.bh), bq: m.bq && bufferOf(device, m.bq) });

describe('engine.gpu: more truncations and activations', () => {
  const cases: [string, Partial<ProblemSpec>, Truncation, boolean][] = [
    ['window(3), tanh, biases', { activation: 'tanh' }, { kind: 'window', steps: 3 }, false],
    ['window(3), token ids (d = 11)', { activation: 'tanh', tokens: true, d: 11 }, { kind: 'window', steps: 3 }, true],
    ['randomized(0.5), relu, no biases', { activation: 'relu', bias: false }, { kind: 'randomized', keepProbability: 0.5, seed: 3 }, false],
    ["full, identity, no biases, dhT, caller's encoder", { activation: 'identity', bias: false, dhT: true }, { kind: 'full' }, true],
  ];
  for (const [name, spec, truncation, useEncoder] of cases) {
    it(`${name}: H, hT and every gradient equal the CPU reference`, async () => {
      const device = gpu.device!;
      const T = 7, B = 2, h = 5, q = 3;
      const d = spec.d ?? 4;
      const tokens = spec.tokens === true;
      const { model, batch } = randomProblem({ T, B, h, q, loss: 'none', h0: true, seed: 9, ...spec, d });
      const layer = { inputSize: d, hiddenSize: h, outputSize: q, activation: model.activation, bias: model.bh !== undefined };
      const w = weightsOf(device, model);
      const [x, h0, dO] = [bufferOf(device, batch.x), bufferOf(device, batch.h0!), bufferOf(device, batch.dO!)];
      const dhT = batch.dhT && bufferOf(device, batch.dhT);
      const encoder = useEncoder ? device.createCommandEncoder() : undefined;
      const common = { layer, steps: T, batchSize: B, weights: w, x, tokens, encoder };
      const fwd = await gpu.gpu.forward({ ...common, h0 });
      const bwd = await gpu.gpu.backward({ ...common, H: fwd.H, dO, dhT, inputGradient: !tokens, truncation });
      if (encoder) device.queue.submit([encoder.finish()]);
      const ref = await cpu.gradients(model, batch, { loss: 'none', inputGradient: !tokens, truncation });
      expectCloseToCpu(name, 'hT', await readBuffer(device, fwd.hT, B * h), ref.hT);
      expectCloseToCpu(name, 'H_T', (await readBuffer(device, fwd.H, (T + 1) * B * h)).subarray(T * B * h), ref.hT);
      for (const k of ['dWhx', 'dWhh', 'dWqh', 'dbh', 'dbq', 'dh0', 'dx'] as const) {
        expect(bwd[k] === undefined, `${name}: ${k} present on one side only`).toBe(ref[k] === undefined);
        if (ref[k]) expectCloseToCpu(name, k, await readBuffer(device, bwd[k]!, ref[k]!.length), ref[k]!);
      }
      for (const b of [...Object.values(w), x, h0, dO, dhT, ...Object.values(fwd), ...Object.values(bwd)]) b?.destroy();
    });
  }
});

describe('engine.gpu: the device check', () => {
  for (const useEncoder of [false, true]) {
    it(`a buffer of another device or a destroyed one is rejected, naming it (${useEncoder ? "caller's encoder, which stays usable" : 'own submit'})`, async () => {
      const device = gpu.device!;
      const layer = { inputSize: 2, hiddenSize: 3, outputSize: 2, activation: 'tanh' as const, bias: false };
      const make = (dev: GPUDevice, n: number) => dev.createBuffer({ size: n * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
      const w = { Whx: make(device, 6), Whh: make(device, 9), Wqh: make(device, 6) };
      const x = make(device, 8);
      const common = { layer, steps: 2, batchSize: 2 };
      const encoder = useEncoder ? device.createCommandEncoder() : undefined;
      const foreign = make(other.device!, 8);
      const dead = make(device, 9);
      dead.destroy();
      const bad: [string, () => Promise<unknown>][] = [
        ['x', () => gpu.gpu.forward({ ...common, weights: w, x: foreign, encoder })],
        ['weights.Whh', () => gpu.gpu.forward({ ...common, weights: { ...w, Whh: dead }, x, encoder })],
        ['outputs.hT', () => gpu.gpu.forward({ ...common, weights: w, x, encoder, outputs: { hT: make(other.device!, 6) } })],
      ];
      for (const [argument, call] of bad) {
        const e = await call().then(() => null, (err: unknown) => err);
        expect(e, `${argument}: rejected`).toBeInstanceOf(BpttInputError);
        expect((e as BpttInputError).argument).toBe(argument);
        expect((e as Error).message).toMatch(/live GPUBuffer of this engine's device/);
      }
      // the caller's encoder holds no broken command: it still records and submits cleanly
      const good = await gpu.gpu.forward({ ...common, weights: w, x, encoder });
      const H = make(device, 18);
      const bwd = await gpu.gpu.backward({ ...common, weights: w, x, H: good.H, dO: make(device, 8), encoder, outputs: { dWhh: H } });
      device.pushErrorScope('validation');
      if (encoder) device.queue.submit([encoder.finish()]);
      expect((await device.popErrorScope())?.message).toBeUndefined();
      expect(bwd.dWhh).toBe(H);
      expect(Array.from(await readBuffer(device, good.hT, 6))).toEqual([0, 0, 0, 0, 0, 0]); // zero weights, zero h0: tanh(0)
      for (const b of [...Object.values(w), x, foreign, H, ...Object.values(good), ...Object.values(bwd)]) b?.destroy();
    });
  }
});

// engine.gpu.forward / backward on GPUBuffers, compared with the CPU reference.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gpuEngine, bufferOf, readBuffer } from './gpu-setup.js';
import { createEngine, type Engine } from '../src/index.js';
import { randomProblem, expectClose } from './helpers.js';
import type { RnnModel } from '../src/types.js';

const TOL = { rtol: 2e-3, atol: 1e-5 }; // f32 on the GPU against f64 on the CPU

let gpu: Engine;
let cpu: Engine;
beforeAll(async () => {
  gpu = await gpuEngine();
  cpu = await createEngine({ backend: 'cpu' });
});
afterAll(() => gpu?.dispose());



function weights(device: GPUDevice, m: RnnModel) {
  return { Whx: bufferOf(device, m.Whx), Whh: bufferOf(device, m.Whh), Wqh: bufferOf(device, m.Wqh), bh: m.bh && bufferOf(device, m.bh), bq: m.bq && bufferOf(device, m.bq) };
}

describe('engine.gpu', () => {
  for (const tokens of [false, true]) {
    for (const own of [false, true]) {
      it(`forward and backward equal the CPU reference (${tokens ? 'token ids' : 'values'}, ${own ? "caller's encoder" : 'own submit'})`, async () => {
        const device = gpu.device!;
        const T = 5, B = 3, d = 4, h = 7, q = 5;
        const { model, batch } = randomProblem({ T, B, d, h, q, loss: 'none', tokens, h0: true, dhT: true, seed: 7 });
        const layer = { inputSize: d, hiddenSize: h, outputSize: q, activation: model.activation, bias: true };
        const w = weights(device, model);
        const x = bufferOf(device, batch.x);
        const h0 = bufferOf(device, batch.h0!);
        const encoder = own ? device.createCommandEncoder() : undefined;
        const fwd = await gpu.gpu.forward({ layer, steps: T, batchSize: B, weights: w, x, tokens, h0, encoder });
        const dO = bufferOf(device, batch.dO!);
        const dhT = bufferOf(device, batch.dhT!);
        const bwd = await gpu.gpu.backward({ layer, steps: T, batchSize: B, weights: w, x, tokens, H: fwd.H, dO, dhT, inputGradient: !tokens, encoder, truncation: { kind: 'chunked', steps: 2 } });
        if (encoder) device.queue.submit([encoder.finish()]);
        const ref = await cpu.gradients(model, batch, { loss: 'none', inputGradient: !tokens, truncation: { kind: 'chunked', steps: 2 } });
        expectClose('hT', await readBuffer(device, fwd.hT, B * h), ref.hT, TOL);
        const H = await readBuffer(device, fwd.H, (T + 1) * B * h);
        expectClose('H_0', H.subarray(0, B * h), batch.h0!, TOL);
        expectClose('H_T', H.subarray(T * B * h), ref.hT, TOL);
        for (const k of ['dWhx', 'dWhh', 'dWqh', 'dbh', 'dbq', 'dh0', 'dx'] as const) {
          if (!ref[k]) continue;
          expectClose(k, await readBuffer(device, bwd[k]!, ref[k]!.length), ref[k]!, TOL);
        }
        for (const b of [...Object.values(w), x, h0, dO, dhT, ...Object.values(fwd), ...Object.values(bwd)]) b?.destroy();
      });
    }
  }

  it("work recorded into a caller's encoder survives other calls and pool trims before the caller submits", async () => {
    const device = gpu.device!;
    const T = 4, B = 2, d = 3, h = 5, q = 3;
    const { model, batch } = randomProblem({ T, B, d, h, q, loss: 'none', h0: true, seed: 11 });
    const layer = { inputSize: d, hiddenSize: h, outputSize: q, activation: model.activation, bias: true };
    const w = weights(device, model);
    const x = bufferOf(device, batch.x);
    const h0 = bufferOf(device, batch.h0!);
    const encoder = device.createCommandEncoder();
    const fwd = await gpu.gpu.forward({ layer, steps: T, batchSize: B, weights: w, x, h0, encoder });
    // Other calls of many shapes in between: they reuse the engine's pool, which
    // (with no free-memory floor) destroys every free buffer after each call.
    const pool = (gpu as unknown as { impl: { context: { pool: { minFreeBytes: number; trim(n: number): void } } } }).impl.context.pool;
    const floor = pool.minFreeBytes;
    pool.minFreeBytes = 0;
    try {
      for (let i = 8; i >= 1; i--) {
        const other = randomProblem({ T: i, B: i + 1, d: 2, h: 3 + i, q: 2, seed: 100 + i });
        await gpu.gradients(other.model, other.batch, { loss: 'cross-entropy' });
      }
      pool.trim(0); // and every free buffer destroyed
    } finally {
      pool.minFreeBytes = floor;
    }
    device.queue.submit([encoder.finish()]);
    const ref = await cpu.gradients(model, batch, { loss: 'none' });
    expectClose('hT', await readBuffer(device, fwd.hT, B * h), ref.hT, TOL);
    for (const b of [...Object.values(w), x, h0, ...Object.values(fwd)]) b?.destroy();
  });

  it('validates buffers: size and usage, naming the argument', async () => {
    const device = gpu.device!;
    const layer = { inputSize: 2, hiddenSize: 3, outputSize: 2, activation: 'tanh' as const, bias: false };
    const ok = (n: number) => device.createBuffer({ size: n * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
    const w = { Whx: ok(6), Whh: ok(9), Wqh: ok(6) };
    await expect(gpu.gpu.forward({ layer, steps: 2, batchSize: 2, weights: { ...w, Whh: ok(8) }, x: ok(8) })).rejects.toThrow(/weights\.Whh: expected a GPUBuffer of at least 36 bytes.*received a GPUBuffer of 32 bytes/);
    const noSrc = device.createBuffer({ size: 64, usage: GPUBufferUsage.STORAGE });
    await expect(gpu.gpu.forward({ layer, steps: 2, batchSize: 2, weights: w, x: noSrc })).rejects.toThrow(/x: expected a GPUBuffer with usage COPY_SRC/);
    await expect(gpu.gpu.forward({ layer, steps: 0, batchSize: 2, weights: w, x: ok(8) })).rejects.toThrow(/steps: expected a positive integer/);
    const good = await gpu.gpu.forward({ layer, steps: 2, batchSize: 2, weights: w, x: ok(8) });
    expect(good.H.size).toBeGreaterThanOrEqual(3 * 2 * 3 * 4);
  });
});

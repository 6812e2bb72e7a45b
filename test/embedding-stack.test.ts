// Stacking: two layers where layer 2's input is layer 1's output O1
// ([T, B, q1] = [T, B, d2]) and layer 2's dx2 = dL/dO1 is layer 1's dO.
//
// 1. A few SGD steps of the stack on the WebGPU engine's device API, with
//    dx2 handed to layer 1's backward as a GPUBuffer (no host copy between
//    the layers), equal the same steps on the CPU engine through the array
//    API (engine.gradients, loss 'none' with dO = dx2 for layer 1).
// 2. One step through engine.gradients on the WebGPU engine equals the CPU's.
// 3. Finite differences of the stacked loss (CPU, float64 sums) equal the
//    composed gradients for every parameter of layer 1 and every input x1.
//
// Tolerance, per element: |got - want| <= rtol * |want| + atolRel * max|want| over the output.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gpuEngine, expectCloseToCpu, printWorst, bufferOf, readBuffer } from './gpu-setup.js';
import { createEngine, type Engine } from '../src/index.js';
import { expectClose, randomProblem } from './helpers.js';
import { cpuRnnStates } from '../src/cpu/sequence/infer.js';
import { lossAndOutputGrad } from '../src/cpu/kernels.js';
import { makeRng, uniformArray } from '../src/rng.js';
import type { GradientResult, RnnModel } from '../src/types.js';

const T = 6, B = 3, d1 = 5, h1 = 8, q1 = 4, h2 = 6, q2 = 3;
const STEPS = 3, LR = 0.5;
const GRAD_TOL = { rtol: 2e-3, atolRel: 1e-5 };
const TRAIN_TOL = { rtol: 2e-3, atolRel: 1e-4 };
const KEYS = ['Whx', 'Whh', 'Wqh', 'bh', 'bq'] as const;

let gpu: Engine;
let cpu: Engine;
beforeAll(async () => {
  gpu = await gpuEngine();
  cpu = await createEngine({ backend: 'cpu' });
});
afterAll(() => {
  printWorst('embedding-stack');
  gpu?.dispose();
  cpu?.dispose();
});

/** The stack: layer 1 (d1 -> h1 -> q1, tanh) under layer 2 (q1 -> h2 -> q2, tanh), cross-entropy on O2. */
function stackProblem() {
  const l1 = randomProblem({ T, B, d: d1, h: h1, q: q1, seed: 41, scale: 0.9 });
  const l2 = randomProblem({ T, B, d: q1, h: h2, q: q2, seed: 42, scale: 0.9 });
  const rng = makeRng(43);
  return { m1: l1.model, m2: l2.model, x1: l1.batch.x as Float32Array, y: Int32Array.from({ length: T * B }, () => Math.floor(rng() * q2)), h01: uniformArray(rng, B * h1, 0.5) };
}

/** O = Wqh h_t + bq for t = 1..T from the library's float64 CPU forward pass, [T, B, q]. */
function cpuLayerOutput(m: RnnModel, x: Float32Array, h0?: Float32Array): Float64Array {
  return cpuRnnStates(m, { steps: T, batchSize: B, x, h0 }).O;
}

interface StackGrads {
  loss: number;
  g1: GradientResult; // layer 1: dWhx .. dbq, dh0, dx (= dx1)
  g2: GradientResult; // layer 2: its dx is dO1
}

/** The stack's gradients through the array API: layer 2 with the loss, then layer 1 with loss 'none' and dO = dx2. */
async function stackGradients(engine: Engine, m1: RnnModel, m2: RnnModel, x1: Float32Array, y: Int32Array, h01: Float32Array, O1: Float32Array): Promise<StackGrads> {
  const g2 = await engine.gradients(m2, { steps: T, batchSize: B, x: O1, y }, { loss: 'cross-entropy', inputGradient: true });
  const g1 = await engine.gradients(m1, { steps: T, batchSize: B, x: x1, h0: h01, dO: g2.dx }, { loss: 'none', inputGradient: true });
  return { loss: g2.loss, g1, g2 };
}

function sgd(m: RnnModel, g: Pick<GradientResult, 'dWhx' | 'dWhh' | 'dWqh' | 'dbh' | 'dbq'>): RnnModel {
  const step = (w: Float32Array, dw: Float32Array) => w.map((v, i) => v - LR * dw[i]);
  return { ...m, Whx: step(m.Whx, g.dWhx), Whh: step(m.Whh, g.dWhh), Wqh: step(m.Wqh, g.dWqh), bh: step(m.bh!, g.dbh!), bq: step(m.bq!, g.dbq!) };
}

// ---- GPU buffers



const specOf = (m: RnnModel) => ({ inputSize: m.inputSize, hiddenSize: m.hiddenSize, outputSize: m.outputSize, activation: m.activation, bias: m.bh !== undefined });

describe('two stacked layers', () => {
  it(`${STEPS} SGD steps on engine.gpu buffers (dx2 fed to layer 1 as its dO buffer) equal the CPU engine's array API`, async () => {
    const device = gpu.device!;
    const { m1, m2, x1, y, h01 } = stackProblem();
    const x1Buf = bufferOf(device, x1);
    const h01Buf = bufferOf(device, h01);
    let [c1, c2] = [m1, m2]; // CPU
    let [w1, w2] = [m1, m2]; // GPU (host copies of the weights, uploaded each step)
    const losses: number[] = [];
    const cpuLosses: number[] = [];
    for (let k = 0; k < STEPS; k++) {
      // CPU: O1 from the CPU forward pass, then the array API
      const ref = await stackGradients(cpu, c1, c2, x1, y, h01, Float32Array.from(cpuLayerOutput(c1, x1, h01)));
      cpuLosses.push(ref.loss);

      // GPU: everything on buffers; only O2 comes back for the loss (a front end's job), dO2 goes up
      const W1 = Object.fromEntries(KEYS.map((key) => [key, bufferOf(device, w1[key]!)])) as unknown as { Whx: GPUBuffer; Whh: GPUBuffer; Wqh: GPUBuffer; bh: GPUBuffer; bq: GPUBuffer };
      const W2 = Object.fromEntries(KEYS.map((key) => [key, bufferOf(device, w2[key]!)])) as unknown as typeof W1;
      const L1 = { layer: specOf(w1), steps: T, batchSize: B, weights: W1 };
      const L2 = { layer: specOf(w2), steps: T, batchSize: B, weights: W2 };
      const f1 = await gpu.gpu.forward({ ...L1, x: x1Buf, h0: h01Buf });
      const f2 = await gpu.gpu.forward({ ...L2, x: f1.O });
      const O2 = Float64Array.from(await readBuffer(device, f2.O, T * B * q2));
      const dO2 = new Float64Array(T * B * q2);
      losses.push(lossAndOutputGrad(dO2, O2, y, 'cross-entropy', T * B, q2, 1 / (T * B)));
      const dO2Buf = bufferOf(device, Float32Array.from(dO2));
      const b2 = await gpu.gpu.backward({ ...L2, x: f1.O, H: f2.H, dO: dO2Buf, inputGradient: true });
      const b1 = await gpu.gpu.backward({ ...L1, x: x1Buf, H: f1.H, dO: b2.dx!, inputGradient: true });
      const got = async (b: typeof b1, m: RnnModel) => ({
        dWhx: await readBuffer(device, b.dWhx, m.Whx.length), dWhh: await readBuffer(device, b.dWhh, m.Whh.length), dWqh: await readBuffer(device, b.dWqh, m.Wqh.length),
        dbh: await readBuffer(device, b.dbh!, m.bh!.length), dbq: await readBuffer(device, b.dbq!, m.bq!.length),
        dh0: await readBuffer(device, b.dh0, B * m.hiddenSize), dx: await readBuffer(device, b.dx!, T * B * m.inputSize),
      });
      const g1 = await got(b1, w1);
      const g2 = await got(b2, w2);
      if (k === 0) {
        // the first step's gradients in detail (same weights on both sides)
        for (const key of ['dWhx', 'dWhh', 'dWqh', 'dbh', 'dbq', 'dh0', 'dx'] as const) {
          expectCloseToCpu('stack on buffers, step 1, layer 1', key, g1[key], ref.g1[key]!, GRAD_TOL);
          expectCloseToCpu('stack on buffers, step 1, layer 2', key, g2[key], ref.g2[key]!, GRAD_TOL);
        }
      }
      for (const b of [...Object.values(W1), ...Object.values(W2), ...Object.values(f1), ...Object.values(f2), ...Object.values(b1), ...Object.values(b2), dO2Buf]) b?.destroy();
      [w1, w2] = [sgd(w1, g1), sgd(w2, g2)];
      [c1, c2] = [sgd(c1, ref.g1), sgd(c2, ref.g2)];
    }
    x1Buf.destroy();
    h01Buf.destroy();
    expectCloseToCpu('stack on buffers', 'losses', losses, cpuLosses, TRAIN_TOL);
    expect(losses[STEPS - 1], 'the stack learns: the loss falls').toBeLessThan(losses[0]);
    for (const key of KEYS) {
      expectCloseToCpu(`stack on buffers, after ${STEPS} steps, layer 1`, key, w1[key]!, c1[key]!, TRAIN_TOL);
      expectCloseToCpu(`stack on buffers, after ${STEPS} steps, layer 2`, key, w2[key]!, c2[key]!, TRAIN_TOL);
    }
  });

  it('one step through engine.gradients on the WebGPU engine (loss none, dO = dx2) equals the CPU engine', async () => {
    const { m1, m2, x1, y, h01 } = stackProblem();
    const device = gpu.device!;
    // O1 on the GPU from the device API's forward, read back for the array API
    const W1 = Object.fromEntries(KEYS.map((key) => [key, bufferOf(device, m1[key]!)])) as unknown as { Whx: GPUBuffer; Whh: GPUBuffer; Wqh: GPUBuffer; bh: GPUBuffer; bq: GPUBuffer };
    const [xb, hb] = [bufferOf(device, x1), bufferOf(device, h01)];
    const f1 = await gpu.gpu.forward({ layer: specOf(m1), steps: T, batchSize: B, weights: W1, x: xb, h0: hb });
    const O1gpu = await readBuffer(device, f1.O, T * B * q1);
    for (const b of [...Object.values(W1), xb, hb, ...Object.values(f1)]) b.destroy();
    const O1cpu = cpuLayerOutput(m1, x1, h01);
    expectCloseToCpu('stack, array API', 'O1', O1gpu, O1cpu, GRAD_TOL);

    const got = await stackGradients(gpu, m1, m2, x1, y, h01, O1gpu);
    const want = await stackGradients(cpu, m1, m2, x1, y, h01, Float32Array.from(O1cpu));
    expectCloseToCpu('stack, array API', 'loss', [got.loss], [want.loss], { rtol: 2e-3, atolRel: 0 });
    for (const key of ['dWhx', 'dWhh', 'dWqh', 'dbh', 'dbq', 'dh0', 'dx'] as const) {
      expectCloseToCpu('stack, array API, layer 1', key, got.g1[key]!, want.g1[key]!, GRAD_TOL);
      expectCloseToCpu('stack, array API, layer 2', key, got.g2[key]!, want.g2[key]!, GRAD_TOL);
    }
  });

  it('finite differences of the stacked loss equal the composed gradients (every parameter of layer 1, every x1)', async () => {
    const { m1, m2, x1, y, h01 } = stackProblem();
    // L(m1, x1): forward layer 1 in float64, layer 2 and the loss on the CPU reference
    const lossOf = async (a: RnnModel, x: Float32Array) =>
      (await cpu.gradients(m2, { steps: T, batchSize: B, x: Float32Array.from(cpuLayerOutput(a, x, h01)), y }, { loss: 'cross-entropy' })).loss;
    const analytic = await stackGradients(cpu, m1, m2, x1, y, h01, Float32Array.from(cpuLayerOutput(m1, x1, h01)));
    const eps = 3e-3;
    /** Central difference along element i of `arr`, over the float32 step actually taken. */
    const fd = async (arr: Float32Array, i: number, loss: () => Promise<number>) => {
      const v = arr[i];
      arr[i] = v + eps;
      const up = arr[i];
      const lp = await loss();
      arr[i] = v - eps;
      const down = arr[i];
      const lm = await loss();
      arr[i] = v;
      return (lp - lm) / (up - down);
    };
    const FD_TOL = { rtol: 2e-4, atol: 0 }; // atol = 5e-5 * max|gradient|, set per output below (eps^2 truncation and float32 rounding of O1)
    const worst: string[] = [];
    for (const [key, grad] of [['Whx', 'dWhx'], ['Whh', 'dWhh'], ['Wqh', 'dWqh'], ['bh', 'dbh'], ['bq', 'dbq']] as const) {
      const arr = m1[key]!;
      const numeric = new Float64Array(arr.length);
      for (let i = 0; i < arr.length; i++) numeric[i] = await fd(arr, i, () => lossOf(m1, x1));
      const want = analytic.g1[grad]!;
      const atol = 5e-5 * Math.max(...Array.from(want, Math.abs));
      worst.push(`${grad} ${expectClose(`finite differences, layer 1 ${grad}`, numeric, want, { ...FD_TOL, atol }).toFixed(3)}`);
    }
    const numeric = new Float64Array(x1.length);
    for (let i = 0; i < x1.length; i++) numeric[i] = await fd(x1, i, () => lossOf(m1, x1));
    const want = analytic.g1.dx!;
    worst.push(`dx1 ${expectClose('finite differences, dx1', numeric, want, { ...FD_TOL, atol: 5e-5 * Math.max(...Array.from(want, Math.abs)) }).toFixed(3)}`);
    console.log(`embedding-stack: finite differences, worst ratio of tolerance per gradient: ${worst.join(', ')}`);
  });
});

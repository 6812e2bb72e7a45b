// Child process: every batch and model array of every kind (array-kinds.ts)
// through every WebGPU entry point that uploads host arrays (gradients with
// each loss, a trainer's step with carried state, h0, dhT, an explicit xi),
// compared with the CPU reference on plain arrays. Before the fix, a
// SharedArrayBuffer view killed this process with a segmentation fault
// inside Dawn's writeBuffer.
import '../../src/node.js';
import { createEngine } from '../../src/index.js';
import { worstError } from '../../src/gpu/backend.js';
import type { Batch, GradientOptions, LossKind, RnnModel } from '../../src/types.js';
import { makeRng, uniformArray } from '../../src/rng.js';
import { ARRAY_KINDS, asKind, type ArrayKind } from './array-kinds.js';

function problem(loss: LossKind, tokens: boolean, seed: number): { model: RnnModel; batch: Batch } {
  const rng = makeRng(seed);
  const T = 3, B = 2, d = 4, h = 5, q = 3;
  const model: RnnModel = {
    inputSize: d, hiddenSize: h, outputSize: q, activation: 'tanh',
    Whx: uniformArray(rng, h * d, 0.5), Whh: uniformArray(rng, h * h, 0.4), Wqh: uniformArray(rng, q * h, 0.5),
    bh: uniformArray(rng, h, 0.1), bq: uniformArray(rng, q, 0.1),
  };
  const batch: Batch = {
    steps: T, batchSize: B,
    x: tokens ? Int32Array.from({ length: T * B }, () => Math.floor(rng() * d)) : uniformArray(rng, T * B * d, 1),
    h0: uniformArray(rng, B * h, 0.3), dhT: uniformArray(rng, B * h, 0.1),
  };
  if (loss === 'cross-entropy') batch.y = Int32Array.from({ length: T * B }, () => Math.floor(rng() * q));
  else if (loss === 'mse') batch.y = uniformArray(rng, T * B * q, 1);
  else batch.dO = uniformArray(rng, T * B * q, 0.1);
  return { model, batch };
}

function convert<O extends object>(o: O, kind: ArrayKind): O {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) out[k] = v instanceof Float32Array || v instanceof Int32Array ? asKind(v, kind) : v;
  return out as O;
}

const gpu = await createEngine({ backend: 'webgpu' });
const cpu = await createEngine({ backend: 'cpu' });
let calls = 0;
let worst = 0;
const failures: string[] = [];
for (const kind of ARRAY_KINDS) {
  for (const [loss, tokens] of [['cross-entropy', true], ['mse', false], ['none', false]] as const) {
    const { model, batch } = problem(loss, tokens, calls + 1);
    const options: GradientOptions = { loss, truncation: { kind: 'randomized', xi: Float32Array.of(1, 0.5, 2) }, inputGradient: !tokens, gradNormPerStep: true };
    const odd = { ...options, truncation: { kind: 'randomized' as const, xi: asKind(Float32Array.of(1, 0.5, 2), kind) } };
    const want = await cpu.gradients(model, batch, options);
    const got = await gpu.gradients(convert(model, kind), convert(batch, kind), odd);
    calls++;
    const w = worstError(got, want);
    worst = Math.max(worst, w);
    if (!(w <= 1)) failures.push(`gradients ${kind} ${loss}: worst ${w}`);
    // a trainer: created from converted arrays, stepped with converted batches (carried state on)
    const trainers = [cpu, gpu].map((e) => e.trainer(e === gpu ? convert(model, kind) : model, { optimizer: { kind: 'adam', learningRate: 0.01 }, loss, carryState: true }));
    for (let s = 0; s < 2; s++) {
      const b = s === 0 ? batch : { ...batch, h0: undefined };
      const [a, g] = await Promise.all([trainers[0].step(b), trainers[1].step(convert(b, kind))]);
      calls++;
      if (Math.abs(a.loss - g.loss) > 1e-4 * Math.max(1, Math.abs(a.loss)) && !(Number.isNaN(a.loss) && Number.isNaN(g.loss))) failures.push(`step ${s} ${kind} ${loss}: loss ${g.loss} vs ${a.loss}`);
    }
    for (const t of trainers) t.dispose();
  }
}
gpu.dispose();
console.log(JSON.stringify({ calls, worst, failures, kinds: ARRAY_KINDS }));

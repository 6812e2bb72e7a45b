// The LSTM case of issue 10 (T=35, B=32, tokens over 28, h=256, 2 layers,
// cross-entropy) on this machine's WebGPU adapter: dispatches, submits,
// device memory, milliseconds per gradient call, per forward call, per
// trainer step, and with lengths drawn from 1..T against every length T.
// Usage: npm run build && node scripts/measure-lstm.mjs [runs]
import { createEngine, makeRng, uniformArray } from '../dist/node/index.js';

const runs = Number(process.argv[2] ?? 3);
const T = 35, B = 32, V = 28, h = 256, L = 2, G = 4;
const rng = makeRng(7);
const layers = [];
for (let k = 0; k < L; k++) {
  const nIn = k === 0 ? V : h;
  layers.push({ Wx: uniformArray(rng, G * h * nIn, 1 / Math.sqrt(nIn)), Wh: uniformArray(rng, G * h * h, 1 / Math.sqrt(h)), bx: uniformArray(rng, G * h, 0.1), bh: uniformArray(rng, G * h, 0.1) });
}
const model = { cell: 'lstm', inputSize: V, hiddenSize: h, numLayers: L, layers, head: { outputSize: V, W: uniformArray(rng, V * h, 1 / Math.sqrt(h)), b: uniformArray(rng, V, 0.1) } };
const ids = () => Int32Array.from({ length: T * B }, () => Math.floor(rng() * V));
const batch = { steps: T, batchSize: B, x: ids(), y: ids() };
const lengths = Int32Array.from({ length: B }, () => 1 + Math.floor(rng() * T));

async function time(label, fn) {
  await fn(); // warm: pipelines compiled, buffers pooled
  const ms = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  return ms[Math.floor(ms.length / 2)];
}

const gpu = await createEngine({ backend: 'webgpu' });
const cpu = await createEngine({ backend: 'cpu' });
console.log(`adapter: ${gpu.adapter.vendor} ${gpu.adapter.architecture} ${gpu.adapter.description}`);
const opts = { loss: 'cross-entropy', truncation: { kind: 'chunked', steps: 35 } };
const g = await time('gradients', () => gpu.gradients(model, batch, opts));
const st = gpu.stats();
console.log(`gradients: ${g.toFixed(0)} ms median of ${runs}; ${st.dispatches} dispatches, ${st.submits} submit; device memory held ${(st.liveBytes / 2 ** 20).toFixed(1)} MiB (peak ${(st.peakBytes / 2 ** 20).toFixed(1)} MiB)`);
const f = await time('forward', () => gpu.forward(model, batch));
console.log(`forward:   ${f.toFixed(0)} ms (${gpu.stats().dispatches} dispatches); forward / gradients = ${(f / g).toFixed(2)}`);
const withLengths = { ...batch, lengths };
const gl = await time('lengths', () => gpu.gradients(model, withLengths, opts));
const valid = lengths.reduce((a, n) => a + n, 0) / (T * B);
console.log(`gradients with lengths uniform in 1..T: ${gl.toFixed(0)} ms; time ratio ${(gl / g).toFixed(2)} beside valid-step ratio ${valid.toFixed(2)}`);
const trainer = gpu.trainer(model, { optimizer: { kind: 'adam', learningRate: 1e-3 }, loss: 'cross-entropy', clipNorm: 1, carryState: true });
const s = await time('step', () => trainer.step(batch));
console.log(`trainer step (Adam, clipping, carryState): ${s.toFixed(0)} ms (${gpu.stats().dispatches} dispatches, ${gpu.stats().submits} submit)`);
trainer.dispose();
const c = await time('cpu', () => cpu.gradients(model, batch, opts));
console.log(`CPU reference (float64) gradients: ${c.toFixed(0)} ms; GPU / CPU = ${(g / c).toFixed(2)}`);
const ref = await cpu.gradients(model, batch, opts);
const got = await gpu.gradients(model, batch, opts);
let worst = 0;
got.layers.forEach((l, k) => {
  for (const key of ['dWx', 'dWh', 'dbx', 'dbh']) {
    const a = l[key], b = ref.layers[k][key];
    let m = 0;
    for (const v of b) m = Math.max(m, Math.abs(v));
    for (let i = 0; i < b.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / m);
  }
});
console.log(`largest |gpu - cpu| / max|cpu| over the layer gradients: ${worst.toExponential(2)}; loss ${got.loss} vs ${ref.loss}`);
gpu.dispose();
cpu.dispose();

// Computes and prints the gradients of a small tanh RNN on a few token ids,
// with 'auto': WebGPU on a hardware adapter, else the WebAssembly engine (the
// CPU reference only where WebAssembly SIMD is missing); it prints which and why.
// `node examples/gradients.mjs wasm` (or webgpu, cpu) asks for one.
import { createEngine, makeRng, uniformArray } from 'webgpu-bptt';

const T = 6, B = 2, d = 5, h = 4, q = 5;
const rng = makeRng(42);
const model = {
  inputSize: d, hiddenSize: h, outputSize: q, activation: 'tanh',
  Whx: uniformArray(rng, h * d, 0.5), Whh: uniformArray(rng, h * h, 0.5), Wqh: uniformArray(rng, q * h, 0.5),
  bh: new Float32Array(h), bq: new Float32Array(q),
};
const x = Int32Array.from({ length: T * B }, () => Math.floor(rng() * d));
const y = Int32Array.from({ length: T * B }, (_, i) => x[(i + B) % (T * B)]);
const backend = process.argv[2] ?? 'auto';
const engine = await createEngine({ backend });
console.log(`backend: ${engine.backend} (${engine.backendReason})`);
const r = await engine.gradients(model, { steps: T, batchSize: B, x, y }, { loss: 'cross-entropy', gradNormPerStep: true });
const show = (name, a, cols) => {
  console.log(`${name} [${a.length / cols}, ${cols}]`);
  for (let i = 0; i < a.length; i += cols) console.log('  ' + Array.from(a.slice(i, i + cols), (v) => v.toFixed(5).padStart(9)).join(' '));
};
console.log(`loss ${r.loss.toFixed(6)}  gradNorm ${r.gradNorm.toFixed(6)}`);
show('dWhh', r.dWhh, h);
show('dWqh', r.dWqh, h);
show('dh0', r.dh0, h);
console.log('||dH_t|| for t = 1..T:', Array.from(r.gradNormPerStep, (v) => v.toFixed(5)).join(' '));
engine.dispose();

// The float64 CPU reference on the benchmark's LSTM case (T=35, B=32, tokens
// over 28, h=256, 2 layers, cross-entropy): the process CPU time of one
// engine.gradients and one engine.forward call, the cost every GPU comparison
// at that size pays for its oracle. Run after `npm run build`:
//   node bench/cpu-reference.mjs
import { createEngine, makeRng, uniformArray } from '../dist/node/index.js';

const [T, B, d, h, q, L] = [35, 32, 28, 256, 28, 2];
const rng = makeRng(1);
const scale = 1 / Math.sqrt(h);
const layers = [];
for (let l = 0; l < L; l++) {
  layers.push({
    Wx: uniformArray(rng, 4 * h * (l ? h : d), scale),
    Wh: uniformArray(rng, 4 * h * h, scale),
    bx: uniformArray(rng, 4 * h, scale),
    bh: uniformArray(rng, 4 * h, scale),
  });
}
const model = { cell: 'lstm', inputSize: d, hiddenSize: h, numLayers: L, layers, head: { outputSize: q, W: uniformArray(rng, q * h, scale), b: uniformArray(rng, q, scale) } };
const batch = {
  steps: T,
  batchSize: B,
  x: Int32Array.from({ length: T * B }, () => Math.floor(rng() * d)),
  y: Int32Array.from({ length: T * B }, () => Math.floor(rng() * q)),
};
const engine = await createEngine({ backend: 'cpu' });
// CPU time rather than wall time: the figure holds on a loaded machine
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
for (let run = 1; run <= 2; run++) {
  let start = cpuMs();
  const g = await engine.gradients(model, batch, { loss: 'cross-entropy' });
  const tg = cpuMs() - start;
  start = cpuMs();
  const f = await engine.forward(model, batch);
  const tf = cpuMs() - start;
  if (f.loss !== g.loss) throw new Error(`forward loss ${f.loss} differs from gradients loss ${g.loss}`);
  console.log(`run ${run}: gradients ${tg.toFixed(0)} ms, forward ${tf.toFixed(0)} ms (ratio ${(tf / tg).toFixed(2)}), loss ${g.loss.toFixed(6)}`);
}

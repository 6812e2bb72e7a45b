// Classify random bit strings of length 1..64 by their majority bit (or
// parity) with a GRU trained through batch.lengths, printing accuracy as it
// trains:
//
//   node examples/classify-lengths/main.mjs [--task=majority|parity] [--cell=gru|lstm|rnn]
//        [--steps=400] [--max-length=64] [--hidden=16] [--backend=cpu|wasm|webgpu|auto]
import { createEngine } from 'webgpu-bptt';
import { DEFAULTS, train } from './task.mjs';

const arg = (name, fallback) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback;
const options = {
  task: arg('task', DEFAULTS.task),
  cell: arg('cell', DEFAULTS.cell),
  steps: Number(arg('steps', DEFAULTS.steps)),
  maxLength: Number(arg('max-length', DEFAULTS.maxLength)),
  hiddenSize: Number(arg('hidden', DEFAULTS.hiddenSize)),
};
const engine = await createEngine({ backend: arg('backend', 'cpu') });
console.log(`${options.task} of bit strings of length 1..${options.maxLength}, ${options.cell} h=${options.hiddenSize}, B=${DEFAULTS.batchSize}, on ${engine.backend}`);
const t0 = performance.now();
const last = await train(engine, options, (r) =>
  console.log(
    `step ${String(r.step).padStart(5)}  loss ${r.loss.toFixed(4)}  train accuracy ${(100 * r.trainAccuracy).toFixed(1)}%  held-out accuracy ${(100 * r.accuracy).toFixed(1)}%  (${((performance.now() - t0) / 1000).toFixed(1)} s)`,
  ),
);
console.log(`final held-out accuracy ${(100 * last.accuracy).toFixed(1)}%`);
engine.dispose();

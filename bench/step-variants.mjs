#!/usr/bin/env node
// The layer walk's step kernels side by side, in one Node process on this
// machine's WebGPU adapter (Dawn): ms per gradients and forward call for each
// fixed choice of forward and backward step variant, runs interleaved so that
// load drifts hit every choice alike. The RnnModel of the same char model runs
// beside the 'rnn' SequenceModel (with bx and bh): both are the layer walk, the
// first with the rnn recipe's own kernels, the chapter's (runsChapterKernels),
// the second with the cell kernels (CELL = rnn): the figure that says what the
// chapter's kernels are still worth. Each line gives
// the median wall-clock ms and the median CPU ms of the process (SwiftShader
// runs on the CPU: on a shared machine the CPU time is the steadier figure).
//
//   npm run build && nice -n 10 node bench/step-variants.mjs [--cases=char,lstm,gru,dense] [--choices=tile4,direct,splitk/tile4] [--runs=3] [--window=0] [--only=forward|gradients]
//
// char: T=35, B=32, tokens over 28, h=256, one layer (rnn tanh); lstm and gru:
// the same with 2 layers (the benchmark's gated cases); dense: values d=64,
// T=35, B=32, h=256, MSE (rnn tanh). --window=tau runs truncation window(tau).
import { parseArgs } from 'node:util';
import { createEngine, makeRng, uniformArray } from '../dist/node/index.js';

const { values: args } = parseArgs({
  options: {
    cases: { type: 'string', default: 'char,lstm,gru' },
    choices: { type: 'string', default: 'tile4,direct' },
    runs: { type: 'string', default: '3' },
    window: { type: 'string', default: '0' },
    only: { type: 'string' }, // 'forward' or 'gradients': time only those calls
  },
});
const runs = Number(args.runs);
const tau = Number(args.window);
const T = 35, B = 32, h = 256;

function makeCase(name) {
  const rng = makeRng(3);
  const tokens = name !== 'dense';
  const V = 28, d = tokens ? V : 64, q = V;
  const cell = name === 'lstm' ? 'lstm' : name === 'gru' ? 'gru' : 'rnn';
  const G = { rnn: 1, gru: 3, lstm: 4 }[cell];
  const L = cell === 'rnn' ? 1 : 2;
  const layers = [];
  for (let k = 0; k < L; k++) {
    const nIn = k === 0 ? d : h;
    layers.push({ Wx: uniformArray(rng, G * h * nIn, 1 / Math.sqrt(nIn)), Wh: uniformArray(rng, G * h * h, 1 / Math.sqrt(h)), bx: uniformArray(rng, G * h, 0.1), bh: uniformArray(rng, G * h, 0.1) });
  }
  const seq = { cell, ...(cell === 'rnn' ? { activation: 'tanh' } : {}), inputSize: d, hiddenSize: h, numLayers: L, layers, head: { outputSize: q, W: uniformArray(rng, q * h, 1 / Math.sqrt(h)), b: uniformArray(rng, q, 0.1) } };
  const ids = () => Int32Array.from({ length: T * B }, () => Math.floor(rng() * V));
  const batch = tokens ? { steps: T, batchSize: B, x: ids(), y: ids() } : { steps: T, batchSize: B, x: uniformArray(rng, T * B * d, 1), y: uniformArray(rng, T * B * q, 1) };
  const loss = tokens ? 'cross-entropy' : 'mse';
  const truncation = tau > 0 ? { kind: 'window', steps: tau } : undefined;
  const opts = { loss, ...(truncation ? { truncation } : {}) };
  // the vanilla RnnModel of the same weights (bx + bh folded into its one bias)
  const vanilla = cell !== 'rnn' ? null : {
    inputSize: d, hiddenSize: h, outputSize: q, activation: 'tanh',
    Whx: layers[0].Wx, Whh: layers[0].Wh, bh: layers[0].bx.map((v, i) => v + layers[0].bh[i]), Wqh: seq.head.W, bq: seq.head.b,
  };
  return { name, seq, vanilla, batch, opts };
}

const choices = args.choices.split(',');
const engines = new Map();
// a choice 'F' fixes both steps to F; 'F/B' the forward to F and the backward to B (splitk is a
// forward variant only). Every other kernel is fixed at its default: nothing is tuned.
for (const c of choices) {
  const [forwardStep, backwardStep = forwardStep] = c.split('/');
  const fixed = { forwardStep, backwardStep, matmul: 'tile32', wavefront: false, backwardWavefront: false, finalize: 'single' };
  engines.set(c, await createEngine({ backend: 'webgpu', tuning: { fixed } }));
}
const anyEngine = engines.get(choices[0]);
console.log(`adapter: ${anyEngine.adapter.vendor} ${anyEngine.adapter.architecture}; T=${T} B=${B} h=${h}; runs=${runs}${tau ? `; window(${tau})` : ''}`);

// Wall-clock ms, and the process's CPU ms (SwiftShader's threads included): on a machine
// shared with other work the CPU time moves far less than the wall clock.
async function once(fn) {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await fn();
  const c = process.cpuUsage(c0);
  return [performance.now() - t0, (c.user + c.system) / 1000];
}
const med = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];

for (const name of args.cases.split(',')) {
  const c = makeCase(name);
  const jobs = [];
  for (const [choice, e] of engines) {
    if (args.only !== 'forward') jobs.push({ label: `${choice} gradients`, fn: () => e.gradients(c.seq, c.batch, c.opts), e });
    if (args.only !== 'gradients') jobs.push({ label: `${choice} forward`, fn: () => e.forward(c.seq, c.batch, { loss: c.opts.loss }), e });
  }
  if (c.vanilla) {
    if (args.only !== 'forward') jobs.push({ label: 'RnnModel gradients', fn: () => anyEngine.gradients(c.vanilla, c.batch, c.opts), e: anyEngine });
    if (args.only !== 'gradients') jobs.push({ label: 'RnnModel forward', fn: () => anyEngine.forward(c.vanilla, c.batch, { loss: c.opts.loss }), e: anyEngine });
  }
  const times = jobs.map(() => []);
  const dispatches = [];
  for (const [i, j] of jobs.entries()) {
    await j.fn(); // warm: pipelines compiled, buffers pooled
    dispatches[i] = j.e.stats().dispatches;
  }
  for (let r = 0; r < runs; r++) for (const [i, j] of jobs.entries()) times[i].push(await once(j.fn));
  console.log(`\n${name}:`);
  const wall = (i) => med(times[i].map((v) => v[0]));
  const cpu = (i) => med(times[i].map((v) => v[1]));
  for (const [i, j] of jobs.entries()) {
    console.log(`  ${j.label.padEnd(28)} wall ${wall(i).toFixed(0).padStart(6)} ms (${(wall(i) / wall(0)).toFixed(2)}x the first)  CPU ${cpu(i).toFixed(0).padStart(6)} ms (${(cpu(i) / cpu(0)).toFixed(2)}x)  ${dispatches[i]} dispatches`);
  }
}
for (const e of engines.values()) e.dispose();

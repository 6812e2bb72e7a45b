#!/usr/bin/env node
// One build of the library against another, side by side in one Node process
// on this machine's WebGPU adapter (or, with --backend=wasm, the 'wasm' engine
// on --threads threads): the same calls (gradients, forward, one trainer step)
// of an RnnModel, or of a SequenceModel for lstm and gru, on an engine of each build, runs interleaved so
// that load drifts hit both alike; each line the median wall-clock ms and the
// ratio after / before (below 1: the current build is faster), and the
// dispatches of one call. For a refactor that should cost nothing: build the
// earlier commit in a worktree first.
//
//   git worktree add --detach ../before <commit> && (cd ../before && npm ci && npm run build)
//   npm run build && nice -n 10 node bench/before-after.mjs --before=../before [--cases=char,dense] [--runs=7]
//     [--backend=wasm [--threads=1]] [--lengths]
//
// char: T=35, B=32, tokens over 28, h=256, q=28, cross-entropy (the benchmark's
// char case); dense: values d=32, T=64, B=16, h=128, q=32, MSE; d2l: T=32,
// B=1024, tokens over 28, h=32, q=28, cross-entropy; lstm and gru: the benchmark's
// gated cases (2 layers, T=35, B=32, tokens over 28, h=256, q=28, cross-entropy). --lengths: every sequence's
// length drawn in 1..T (seed 3).
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const { values: args } = parseArgs({
  options: {
    before: { type: 'string' },
    cases: { type: 'string', default: 'char,dense' },
    runs: { type: 'string', default: '7' },
    backend: { type: 'string', default: 'webgpu' },
    threads: { type: 'string', default: '1' },
    lengths: { type: 'boolean', default: false },
  },
});
if (!args.before) throw new Error('--before=<directory of the other build> is required (its dist/node/index.js is loaded)');
const runs = Number(args.runs);
const after = await import('../dist/node/index.js');
const before = await import(pathToFileURL(resolve(args.before, 'dist/node/index.js')).href);

const CASES = {
  char: { T: 35, B: 32, d: 28, h: 256, q: 28, tokens: true, loss: 'cross-entropy' },
  dense: { T: 64, B: 16, d: 32, h: 128, q: 32, tokens: false, loss: 'mse' },
  d2l: { T: 32, B: 1024, d: 28, h: 32, q: 28, tokens: true, loss: 'cross-entropy' },
  lstm: { T: 35, B: 32, d: 28, h: 256, q: 28, tokens: true, loss: 'cross-entropy', cell: 'lstm', L: 2 },
  gru: { T: 35, B: 32, d: 28, h: 256, q: 28, tokens: true, loss: 'cross-entropy', cell: 'gru', L: 2 },
};

/** A SequenceModel of c's cell, L layers with both biases, and a head. */
function sequenceModel(lib, rng, c) {
  const { d, h, q, L } = c;
  const G = { gru: 3, lstm: 4 }[c.cell];
  const layers = Array.from({ length: L }, (_, l) => {
    const nIn = l === 0 ? d : h;
    return { Wx: lib.uniformArray(rng, G * h * nIn, 1 / Math.sqrt(nIn)), Wh: lib.uniformArray(rng, G * h * h, 1 / Math.sqrt(h)), bx: lib.uniformArray(rng, G * h, 0.1), bh: lib.uniformArray(rng, G * h, 0.1) };
  });
  return { cell: c.cell, inputSize: d, hiddenSize: h, numLayers: L, layers, head: { outputSize: q, W: lib.uniformArray(rng, q * h, 1 / Math.sqrt(h)), b: lib.uniformArray(rng, q, 0.1) } };
}

function makeCase(lib, c) {
  const rng = lib.makeRng(7);
  const { T, B, d, h, q } = c;
  const model = c.cell ? sequenceModel(lib, rng, c) : {
    inputSize: d, hiddenSize: h, outputSize: q, activation: 'tanh',
    Whx: lib.uniformArray(rng, h * d, 1 / Math.sqrt(d)), Whh: lib.uniformArray(rng, h * h, 1 / Math.sqrt(h)), Wqh: lib.uniformArray(rng, q * h, 1 / Math.sqrt(h)),
    bh: lib.uniformArray(rng, h, 0.1), bq: lib.uniformArray(rng, q, 0.1),
  };
  const x = c.tokens ? Int32Array.from({ length: T * B }, () => Math.floor(rng() * d)) : lib.uniformArray(rng, T * B * d, 1);
  const y = c.loss === 'cross-entropy' ? Int32Array.from({ length: T * B }, () => Math.floor(rng() * q)) : lib.uniformArray(rng, T * B * q, 1);
  const batch = { steps: T, batchSize: B, x, y };
  if (args.lengths) {
    const r = lib.makeRng(3);
    batch.lengths = Int32Array.from({ length: B }, () => 1 + Math.floor(r() * T));
  }
  return { model, batch };
}

const med = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const builds = [['before', before], ['after', after]];
const engines = new Map();
const wasm = args.backend === 'wasm';
for (const [name, lib] of builds) engines.set(name, await lib.createEngine(wasm ? { backend: 'wasm', threads: Number(args.threads) } : { backend: 'webgpu', tuning: 'off' }));
const adapter = engines.get('after').adapter;
const where = wasm ? `wasm, ${args.threads} thread(s)` : `adapter: ${adapter.vendor} ${adapter.architecture}`;
console.log(`${where}; before: ${args.before}; runs=${runs}${args.lengths ? '; lengths' : ''}`);

for (const name of args.cases.split(',')) {
  const c = CASES[name];
  if (!c) throw new Error(`unknown case ${name} (${Object.keys(CASES).join(', ')})`);
  const jobs = [];
  for (const [build, lib] of builds) {
    const e = engines.get(build);
    const { model, batch } = makeCase(lib, c);
    const t = e.trainer(model, { optimizer: { kind: 'adam', learningRate: 1e-3 }, loss: c.loss });
    jobs.push({ call: 'gradients', build, e, fn: () => e.gradients(model, batch, { loss: c.loss }) });
    jobs.push({ call: 'forward', build, e, fn: () => e.forward(model, batch, { loss: c.loss }) });
    jobs.push({ call: 'trainer step', build, e, fn: () => t.step(batch), t });
  }
  const dispatches = [];
  for (const [i, j] of jobs.entries()) {
    await j.fn(); // warm: pipelines compiled, buffers pooled
    dispatches[i] = j.e.stats().dispatches;
  }
  const times = jobs.map(() => []);
  for (let r = 0; r < runs; r++) {
    for (const [i, j] of jobs.entries()) {
      const t0 = performance.now();
      await j.fn();
      times[i].push(performance.now() - t0);
    }
  }
  console.log(`\n${name} (T=${c.T} B=${c.B} h=${c.h}):`);
  for (const call of ['gradients', 'forward', 'trainer step']) {
    const [b, a] = ['before', 'after'].map((build) => jobs.findIndex((j) => j.call === call && j.build === build));
    const n = (i) => (wasm ? '' : ` (${dispatches[i]} dispatches)`);
    console.log(`  ${call.padEnd(13)} before ${med(times[b]).toFixed(1).padStart(7)} ms${n(b)}  after ${med(times[a]).toFixed(1).padStart(7)} ms${n(a)}  after/before ${(med(times[a]) / med(times[b])).toFixed(3)}`);
  }
  for (const j of jobs) j.t?.dispose();
}
for (const e of engines.values()) e.dispose();

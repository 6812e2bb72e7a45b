// Every kernel variant of the chapter's kernels, the rnn recipe's own (src/gpu/chapter-kernels.ts)
// against the defaults, side by side in one run on this machine's WebGPU
// adapter, at the benchmark's named shapes: char (T=35 B=32 tokens/28 h=256
// q=28, cross-entropy) and dense (T=64 B=16 d=32 h=128 q=32, mse). Each row
// fixes one kernel's variant (the others at their defaults, nothing tuned)
// and times engine.gradients against the defaults in alternation (see pair):
// median ms of `runs` calls each after a warm-up, the ratio (below 1: the
// variant is faster), the variant's dispatches per call. The window step's
// variants run under window(5) truncation, the others under full BPTT. Then
// what the tuner picks at each shape given time for every candidate.
// Usage: npm run build && node scripts/measure-rnn-variants.mjs [runs] [--cases=char,dense]
//        [--kernels=matmul,finalize] [--variants=tile16,tile32pad] (only those rows, no tuner)
import { createEngine, makeRng, uniformArray } from '../dist/node/index.js';

const runs = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 3);
const only = (process.argv.find((a) => a.startsWith('--cases=')) ?? '--cases=char,dense').slice(8).split(',');
const kernels = process.argv.find((a) => a.startsWith('--kernels='))?.slice(10).split(','); // default: every kernel, then the tuner
const variantsOnly = process.argv.find((a) => a.startsWith('--variants='))?.slice(11).split(',');
const SHAPES = {
  char: { T: 35, B: 32, d: 28, h: 256, q: 28, tokens: true, loss: 'cross-entropy' },
  dense: { T: 64, B: 16, d: 32, h: 128, q: 32, tokens: false, loss: 'mse' },
};
const ROWS = [
  ['rnnForwardStep', ['small', 'coalesced', 'splitk', 'subgroup4']],
  ['rnnBackwardStep', ['small', 'splitk']],
  ['matmul', ['tile16', 'tile64', 'tile32pad']],
  ['finalize', ['multi']],
  ['windowStep', ['small']],
];

function problem({ T, B, d, h, q, tokens, loss }) {
  const rng = makeRng(5);
  const model = {
    inputSize: d, hiddenSize: h, outputSize: q, activation: 'tanh',
    Whx: uniformArray(rng, h * d, 1 / Math.sqrt(d)), Whh: uniformArray(rng, h * h, 1 / Math.sqrt(h)), Wqh: uniformArray(rng, q * h, 1 / Math.sqrt(h)),
    bh: uniformArray(rng, h, 0.1), bq: uniformArray(rng, q, 0.1),
  };
  const R = T * B;
  const x = tokens ? Int32Array.from({ length: R }, () => Math.floor(rng() * d)) : uniformArray(rng, R * d, 1);
  const y = loss === 'cross-entropy' ? Int32Array.from({ length: R }, () => Math.floor(rng() * q)) : uniformArray(rng, R * q, 1);
  return { model, batch: { steps: T, batchSize: B, x, y } };
}

const median = (ms) => [...ms].sort((a, b) => a - b)[Math.floor(ms.length / 2)];

/**
 * The defaults and one variant, each on an engine of its own, warmed up, then
 * timed in alternation (ABAB...): a machine whose load drifts (other work on
 * its cores) moves both alike, and the ratio of the medians keeps the comparison.
 */
async function pair(device, fixed, call) {
  const engines = [];
  for (const f of [{}, fixed]) engines.push(await createEngine({ backend: 'webgpu', device, tuning: { mode: 'manual', fixed: f } }));
  for (const e of engines) await call(e); // pipelines compiled, buffers pooled
  const ms = [[], []];
  for (let i = 0; i < runs; i++) {
    for (const [k, e] of engines.entries()) {
      const t0 = performance.now();
      await call(e);
      ms[k].push(performance.now() - t0);
    }
  }
  const dispatches = engines.map((e) => e.stats().dispatches);
  for (const e of engines) e.dispose();
  return { base: median(ms[0]), ms: median(ms[1]), dispatches: dispatches[1] };
}

const owner = await createEngine({ backend: 'webgpu' });
const a = owner.adapter;
console.log(`adapter: ${a.vendor} ${a.architecture} ${a.description ?? ''}${a.isFallbackAdapter ? ' (fallback)' : ''}; ${runs} timed runs per row, median`);
const lines = ['| shape | kernel | variant | defaults ms | variant ms | ratio | dispatches |', '| --- | --- | --- | ---: | ---: | ---: | ---: |'];
for (const name of only) {
  const shape = SHAPES[name];
  const { model, batch } = problem(shape);
  const full = { kind: 'full' };
  const win = { kind: 'window', steps: 5 };
  for (const [kernel, all] of ROWS) {
    if (kernels && !kernels.includes(kernel)) continue;
    const variants = variantsOnly ? all.filter((v) => variantsOnly.includes(v)) : all;
    const options = { loss: shape.loss, truncation: kernel === 'windowStep' ? win : full };
    for (const variant of variants) {
      const r = await pair(owner.device, { [kernel]: variant }, (e) => e.gradients(model, batch, options));
      const line = `| ${name} | ${kernel} | ${variant} | ${r.base.toFixed(0)} | ${r.ms.toFixed(0)} | ${(r.ms / r.base).toFixed(2)} | ${r.dispatches} |`;
      lines.push(line);
      console.log(line);
    }
  }
  // What the tuner picks here given time enough for every candidate (on a software adapter 'auto' keeps the defaults)
  for (const truncation of kernels ? [] : [full, win]) {
    const tuned = await createEngine({ backend: 'webgpu', device: owner.device, tuning: { mode: 'manual', budgetMs: 120_000 } });
    const choice = await tuned.tune(model, batch, { loss: shape.loss, truncation });
    const entry = Object.values(tuned.tuning().classes)[0];
    const picked = ['rnnForwardStep', truncation.kind === 'window' ? 'windowStep' : 'rnnBackwardStep', 'matmul', 'finalize'].map((k) => `${k} ${choice[k]}`).join(', ');
    console.log(`tuner at ${name}, ${truncation.kind}: ${picked} (${entry.spentMs.toFixed(0)} ms of tuning; per candidate at min(T, 4) steps: ${Object.entries(entry.measured).map(([k, v]) => `[${k}] ${v.toFixed(1)}`).join('; ')})`);
    tuned.dispose();
  }
}
console.log(`\n${lines.join('\n')}`);
owner.dispose();

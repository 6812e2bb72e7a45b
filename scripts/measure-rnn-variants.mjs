// Every kernel variant of the vanilla RnnModel path (src/gpu/rnn-variants.ts)
// against the defaults, side by side in one run on this machine's WebGPU
// adapter, at the benchmark's named shapes: char (T=35 B=32 tokens/28 h=256
// q=28, cross-entropy) and dense (T=64 B=16 d=32 h=128 q=32, mse). Each row
// fixes one kernel's variant (the others at their defaults, nothing tuned)
// and times engine.gradients: median ms of `runs` calls after a warm-up,
// ratio to the defaults' (below 1: faster), dispatches per call. The window
// step's variants run under window(5) truncation (its own default row), the
// others under full BPTT.
// Usage: npm run build && node scripts/measure-rnn-variants.mjs [runs] [--cases=char,dense]
import { createEngine, makeRng, uniformArray } from '../dist/node/index.js';

const runs = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 3);
const only = (process.argv.find((a) => a.startsWith('--cases=')) ?? '--cases=char,dense').slice(8).split(',');
const SHAPES = {
  char: { T: 35, B: 32, d: 28, h: 256, q: 28, tokens: true, loss: 'cross-entropy' },
  dense: { T: 64, B: 16, d: 32, h: 128, q: 32, tokens: false, loss: 'mse' },
};
const ROWS = [
  ['rnnForwardStep', ['small', 'coalesced', 'splitk']],
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

async function median(fn) {
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

const owner = await createEngine({ backend: 'webgpu' });
const a = owner.adapter;
console.log(`adapter: ${a.vendor} ${a.architecture} ${a.description ?? ''}${a.isFallbackAdapter ? ' (fallback)' : ''}; ${runs} timed runs per row, median`);
const lines = ['| shape | kernel | variant | ms | ratio to default | dispatches |', '| --- | --- | --- | ---: | ---: | ---: |'];
for (const name of only) {
  const shape = SHAPES[name];
  const { model, batch } = problem(shape);
  const time = async (fixed, truncation) => {
    const engine = await createEngine({ backend: 'webgpu', device: owner.device, tuning: { mode: 'manual', fixed } });
    const options = { loss: shape.loss, truncation };
    const ms = await median(() => engine.gradients(model, batch, options));
    const dispatches = engine.stats().dispatches;
    engine.dispose();
    return { ms, dispatches };
  };
  const full = { kind: 'full' };
  const win = { kind: 'window', steps: 5 };
  const base = { full: await time({}, full), window: await time({}, win) };
  const row = (kernel, variant, r, ref) => {
    const line = `| ${name} | ${kernel} | ${variant} | ${r.ms.toFixed(0)} | ${(r.ms / ref.ms).toFixed(2)} | ${r.dispatches} |`;
    lines.push(line);
    console.log(line);
  };
  row('(all)', 'defaults, full', base.full, base.full);
  row('(all)', 'defaults, window(5)', base.window, base.window);
  for (const [kernel, variants] of ROWS) {
    const truncation = kernel === 'windowStep' ? win : full;
    const ref = kernel === 'windowStep' ? base.window : base.full;
    for (const variant of variants) row(kernel, variant, await time({ [kernel]: variant }, truncation), ref);
  }
  // What the tuner picks here given time enough for every candidate (on a software adapter 'auto' keeps the defaults)
  for (const truncation of [full, win]) {
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

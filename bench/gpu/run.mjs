// The GPU benchmark: Node and Dawn only (no browser), for a machine with a
// real GPU and no network. Runs from the repo (after npm run build) or from
// the folder bench/gpu/pack.mjs makes (node run.mjs, nothing else installed).
//
// Prints and writes bench/results/gpu-<adapter>.{json,md} (beside this file
// when packed: results/): the adapter and its limits; per named case (char and
// dense of bench/lib/cases.mjs, run as one-layer vanilla SequenceModels and
// as RnnModels (the vanilla path, with kernel variants of its own), and an
// L = 2 LSTM case) ms per gradients call with the default kernels and with
// the kernels tuned on this adapter, dispatches, GFLOP/s, the tuned choice;
// the library's GEMM rate at n = 4096. Every case is checked against the CPU
// engine (float64) before it is timed. On a software adapter (SwiftShader) the
// sequences are cut to T = 8, the GEMM to n = 512, and the tuning budget
// raised, to finish in minutes; the report says so.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const packed = existsSync(join(here, 'lib', 'index.js'));

// The Vulkan loader: the system's when it has one, else the one packed beside us (re-exec with LD_LIBRARY_PATH).
if (packed && !process.env.WEBGPU_BPTT_BENCH_CHILD) {
  const haveLoader = (() => {
    try {
      return execFileSync('/sbin/ldconfig', ['-p'], { encoding: 'utf8' }).includes('libvulkan.so.1');
    } catch {
      return ['/usr/lib/x86_64-linux-gnu/libvulkan.so.1', '/usr/lib64/libvulkan.so.1', '/usr/lib/libvulkan.so.1'].some(existsSync);
    }
  })();
  if (!haveLoader && existsSync(join(here, 'vulkan', 'libvulkan.so.1'))) {
    const env = { ...process.env, WEBGPU_BPTT_BENCH_CHILD: '1', LD_LIBRARY_PATH: [join(here, 'vulkan'), process.env.LD_LIBRARY_PATH].filter(Boolean).join(':') };
    console.log(`no system Vulkan loader: using ${join(here, 'vulkan', 'libvulkan.so.1')}`);
    try {
      execFileSync(process.execPath, process.argv.slice(1), { env, stdio: 'inherit' });
      process.exit(0);
    } catch (e) {
      process.exit(e.status ?? 1);
    }
  }
}

const lib = await import(packed ? join(here, 'lib', 'index.js') : join(here, '..', '..', 'dist', 'node', 'index.js'));
const { fullPlan, stepFlops } = await import(packed ? join(here, 'cases.mjs') : join(here, '..', 'lib', 'cases.mjs'));
const { createEngine } = lib;
const { seqFlops, problem: makeProblem, worst, timeInterleaved: interleaved } = await import(join(here, 'common.mjs'));
const problem = (c) => (c.vanilla ? vanillaProblem(c) : makeProblem(lib, c));

/** The case as an RnnModel (engine.gradients' vanilla path, src/gpu/rnn-variants.ts). */
function vanillaProblem(c) {
  const { makeRng, uniformArray } = lib;
  const rng = makeRng(7);
  const { d, h, q } = c;
  const model = {
    inputSize: d, hiddenSize: h, outputSize: q, activation: 'tanh',
    Whx: uniformArray(rng, h * d, 1 / Math.sqrt(d)), Whh: uniformArray(rng, h * h, 1 / Math.sqrt(h)), Wqh: uniformArray(rng, q * h, 1 / Math.sqrt(h)),
    bh: uniformArray(rng, h, 0.1), bq: uniformArray(rng, q, 0.1),
  };
  const R = c.T * c.B;
  const x = c.tokens ? Int32Array.from({ length: R }, () => Math.floor(rng() * d)) : uniformArray(rng, R * d, 1);
  const y = c.loss === 'cross-entropy' ? Int32Array.from({ length: R }, () => Math.floor(rng() * q)) : uniformArray(rng, R * q, 1);
  return { model, batch: { steps: c.T, batchSize: c.B, x, y }, options: { loss: c.loss }, G: 1 };
}

function describeChoice(c) {
  if (!c) return 'n/a';
  if (c.rnnForwardStep) return `fwd ${c.rnnForwardStep}, bwd ${c.rnnBackwardStep}, ${c.matmul}, finalize ${c.finalize}`;
  return `fwd ${c.forwardStep}, bwd ${c.backwardStep}, ${c.matmul}${c.wavefront ? ', wavefront' : ''}${c.backwardWavefront ? ', backward wavefront' : ''}`;
}

const started = performance.now();
const probe = await createEngine({ backend: 'webgpu', tuning: 'off' });
const adapter = probe.adapter;
const software = adapter.isFallbackAdapter || adapter.architecture === 'swiftshader';
const L = probe.device.limits;
const limits = Object.fromEntries(
  ['maxComputeWorkgroupStorageSize', 'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupsPerDimension', 'maxStorageBufferBindingSize', 'maxBufferSize', 'maxStorageBuffersPerShaderStage'].map((k) => [k, L[k]]),
);
const features = [...probe.device.features].filter((f) => f === 'subgroups' || f === 'timestamp-query' || f === 'shader-f16');
const adapterName = [adapter.vendor, adapter.architecture, adapter.device].filter(Boolean).join(' ').trim() || 'unknown';
console.log(`adapter: ${adapterName} (${adapter.description || 'no description'})${software ? ' [software]' : ''}`);
console.log(`limits: ${JSON.stringify(limits)}; features: ${features.join(', ')}`);

const named = fullPlan().filter((c) => c.group === 'named');
const cases = [
  ...named.map((c) => ({ id: c.id, label: c.label, cell: 'rnn', L: 1, ...c.shape })),
  ...named.map((c) => ({ id: `${c.id}-rnnmodel`, label: `${c.label}, as an RnnModel`, cell: 'rnn', L: 1, vanilla: true, ...c.shape })),
  { id: 'lstm-2', label: 'LSTM L=2: T=35 B=32 tokens/28 h=256 q=28, cross-entropy', cell: 'lstm', L: 2, T: 35, B: 32, d: 28, h: 256, q: 28, tokens: true, loss: 'cross-entropy' },
];
if (software) for (const c of cases) c.T = Math.min(c.T, 8);
for (const c of cases) if (c.cell === 'rnn') console.assert(seqFlops({ ...c, G: 1 }) === stepFlops(c), 'flop counts agree');

const runs = software ? 4 : 10;
const timeInterleaved = (engines, p) => interleaved(engines, p, runs);
const budgetMs = software ? 12_000 : 2_000;
const cpu = await createEngine({ backend: 'cpu' });
const untuned = probe;
const tuned = await createEngine({ backend: 'webgpu', tuning: { mode: 'lazy', budgetMs } });
const results = [];
for (const c of cases) {
  const p = problem(c);
  const flops = seqFlops({ ...c, G: p.G });
  const want = await cpu.gradients(p.model, p.batch, p.options);
  const check = {
    untuned: worst(await untuned.gradients(p.model, p.batch, p.options), want),
    tuned: worst(await tuned.gradients(p.model, p.batch, p.options), want), // the tuning happens here
  };
  if (!(check.untuned <= 1 && check.tuned <= 1)) throw new Error(`${c.id}: the GPU does not match the CPU engine (worst ${JSON.stringify(check)} of tolerance); not timing it`);
  // interleaved call by call, so both see the same machine; the fastest call of each (the least disturbed by other load)
  const [a, b] = await timeInterleaved([untuned, tuned], p);
  const u = a.ms;
  const t = b.ms;
  const table = tuned.tuning();
  const p2 = (n) => 2 ** Math.ceil(Math.log2(n)); // the tuner's shape class (src/gpu/variants.ts: shapeClass)
  // (an RnnModel's class: src/gpu/rnn-variants.ts, vanillaClass)
  const key = c.vanilla ? `vanilla-tanh B${p2(c.B)} h${p2(c.h)}` : `${c.cell}${c.cell === 'rnn' ? '-tanh' : ''} L${c.L} dirs1 B${p2(c.B)} h${p2(c.h)}`;
  const cls = table.classes[key] ? [key, table.classes[key]] : null;
  const choice = !cls
    ? null
    : c.vanilla
      ? { rnnForwardStep: cls[1].rnnForwardStep, rnnBackwardStep: cls[1].rnnBackwardStep, matmul: cls[1].matmul, finalize: cls[1].finalize }
      : { forwardStep: cls[1].forwardStep, backwardStep: cls[1].backwardStep, matmul: cls[1].matmul, wavefront: cls[1].wavefront, backwardWavefront: cls[1].backwardWavefront ?? false };
  const row = {
    id: c.id, label: c.label, shape: { T: c.T, B: c.B, d: c.d, h: c.h, q: c.q, L: c.L, cell: c.cell, tokens: c.tokens },
    flops, untunedMs: u, tunedMs: t, ratio: t / u, untunedDispatches: a.dispatches, tunedDispatches: b.dispatches,
    untunedGflops: flops / (u * 1e6), tunedGflops: flops / (t * 1e6), choice, tuningClass: cls?.[0] ?? null, tuningSpentMs: cls?.[1].spentMs ?? null, measured: cls?.[1].measured ?? null, worstError: check,
  };
  results.push(row);
  console.log(`${c.id}: untuned ${u.toFixed(1)} ms (${a.dispatches} dispatches, ${row.untunedGflops.toFixed(2)} GFLOP/s), tuned ${t.toFixed(1)} ms (${b.dispatches} dispatches, ${row.tunedGflops.toFixed(2)} GFLOP/s), ratio tuned/untuned ${row.ratio.toFixed(3)}; choice ${JSON.stringify(choice)}`);
}

const gemmN = software ? 512 : 4096;
const gemm = await untuned.benchGemm(gemmN, software ? 3 : 5);
if (!(gemm.maxError <= 1)) throw new Error(`GEMM n=${gemmN}: wrong answer (worst ${gemm.maxError} of tolerance)`);
console.log(`library GEMM n=${gemmN}: ${gemm.gflops.toFixed(2)} GFLOP/s${software ? ' (software adapter: n scaled down from 4096)' : ''}`);
const seconds = (performance.now() - started) / 1000;

const report = {
  date: new Date().toISOString(), adapter: { ...adapter, name: adapterName }, software, limits, features,
  notes: [
    'Each case: one gradients call (forward, cross-entropy or MSE, reverse sweep, every gradient), the fastest of ' + runs + ' calls per engine, the two engines alternating call by call; checked against the CPU engine first.',
    'char and dense are the named cases of bench/lib/cases.mjs as one-layer vanilla (tanh) SequenceModels with biases and a head; char-rnnmodel and dense-rnnmodel the same shapes as RnnModels (the vanilla path and its own kernel variants).',
    `tuned: createEngine({ tuning: { mode: 'lazy', budgetMs: ${budgetMs} } }); untuned: tuning 'off' (the defaults).`,
    software ? 'Software adapter: T cut to 8 and the GEMM to n = 512 to finish in minutes; absolute times are a CPU\'s.' : 'Full sizes.',
    "The adapter's best GEMM: no vendor GEMM is reachable from Node and Dawn here (TF.js and jax-js are not in the pack); the figure is the library's own matmul.",
  ],
  cases: results,
  gemm: { n: gemmN, gflops: gemm.gflops, milliseconds: gemm.milliseconds },
  seconds,
};
const md = [
  `# GPU benchmark on ${adapterName}${software ? ' (software adapter)' : ''}`,
  '',
  `${report.date}, ${seconds.toFixed(0)} s. Limits: ${Object.entries(limits).map(([k, v]) => `${k} ${v}`).join(', ')}. Features: ${features.join(', ') || 'none'}.`,
  '',
  '| case | untuned ms | tuned ms | tuned/untuned | dispatches (untuned, tuned) | GFLOP/s (untuned, tuned) | tuned choice |',
  '| --- | ---: | ---: | ---: | --- | --- | --- |',
  ...results.map((r) => `| ${r.id} (T=${r.shape.T} B=${r.shape.B} h=${r.shape.h}${r.shape.L > 1 ? ` L=${r.shape.L}` : ''} ${r.shape.cell}) | ${r.untunedMs.toFixed(1)} | ${r.tunedMs.toFixed(1)} | ${r.ratio.toFixed(3)} | ${r.untunedDispatches}, ${r.tunedDispatches} | ${r.untunedGflops.toFixed(2)}, ${r.tunedGflops.toFixed(2)} | ${describeChoice(r.choice)} |`),
  '',
  `Library GEMM n=${gemmN}: ${gemm.gflops.toFixed(2)} GFLOP/s.`,
  '',
  ...report.notes.map((n) => `- ${n}`),
  '',
].join('\n');
const outDir = packed ? join(here, 'results') : join(here, '..', 'results');
mkdirSync(outDir, { recursive: true });
const slug = adapterName.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
writeFileSync(join(outDir, `gpu-${slug}.json`), JSON.stringify(report, null, 2));
writeFileSync(join(outDir, `gpu-${slug}.md`), md);
console.log(`\n${md}\nwrote ${join(outDir, `gpu-${slug}.{json,md}`)}`);
for (const e of [tuned, untuned, cpu]) e.dispose();
process.exit(0);

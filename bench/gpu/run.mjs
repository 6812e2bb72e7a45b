// The GPU benchmark: Node and Dawn only (no browser), for a machine with a
// real GPU and no network. Runs from the repo (after npm run build and
// node bench/gpu/pack.mjs, for the peers' bundle) or from the folder
// bench/gpu/pack.mjs makes (node run.mjs, nothing else installed).
//
//   node run.mjs [--quick]   --quick: tiny shapes, one timed call, GEMM n=64 (the test's smoke run; results/gpu-quick-*)
//
// Prints and writes bench/results/gpu-<adapter>.{json,md} (beside this file
// when packed: results/): the adapter and its limits; per named case (char and
// dense of bench/lib/cases.mjs, run as one-layer vanilla SequenceModels, and
// the page's L = 2 LSTM case) ms per gradients call with the default kernels
// and with the kernels tuned on this adapter, dispatches, GFLOP/s, the tuned
// choice; the same cases on TF.js's webgpu backend and jax-js's webgpu device
// (bench/gpu/peers.ts) where they run in Node on this Dawn driver, or why not;
// and the best GEMM rate at n = 4096 of the library (each matmul tile variant)
// and of those peers. Every case and product is checked against the CPU
// engine (float64) before it is timed.
//
// On a software adapter (SwiftShader: a CPU, 2 cores here) the work is cut to
// finish in under 4 minutes, and the output says what was cut: T = 8 (4 for
// the LSTM), the GEMM at n = 256, 1 timed call after the checked one, peers on the char
// and dense cases only (TF.js webgpu takes over a minute a call on the full
// LSTM case there), no tuning (one candidate takes 3-30 s there: the tuner
// kept the defaults with any bounded budget). None of that changes what the
// report is for (the dispatch counts, the ratios); absolute times on a
// software adapter are a CPU's.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const packed = existsSync(join(here, 'lib', 'index.js'));
const quick = process.argv.includes('--quick');

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

const from = (name) => (packed ? join(here, name) : join(here, '..', 'lib', name));
const lib = await import(packed ? join(here, 'lib', 'index.js') : join(here, '..', '..', 'dist', 'node', 'index.js'));
const { fullPlan, stepFlops, TOLERANCE } = await import(from('cases.mjs'));
const { makeStackProblem, stackGradNames } = await import(from('problem.mjs'));
const { compareGrads } = await import(from('compare.mjs'));
const { seqFlops: flopsOf } = await import(join(here, 'common.mjs')); // shared with bench/gpu/sweep.mjs
const { createEngine } = lib;

const started = performance.now();
const loadAtStart = loadavg()[0];
const untuned = await createEngine({ backend: 'webgpu', tuning: 'off' });
const adapter = untuned.adapter;
const software = adapter.isFallbackAdapter || adapter.architecture === 'swiftshader';
const L = untuned.device.limits;
const limits = Object.fromEntries(
  ['maxComputeWorkgroupStorageSize', 'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupsPerDimension', 'maxStorageBufferBindingSize', 'maxBufferSize', 'maxStorageBuffersPerShaderStage'].map((k) => [k, L[k]]),
);
const features = [...untuned.device.features].filter((f) => f === 'subgroups' || f === 'timestamp-query' || f === 'shader-f16');
const adapterName = [adapter.vendor, adapter.architecture, adapter.device].filter(Boolean).join(' ').trim() || 'unknown';
console.log(`adapter: ${adapterName} (${adapter.description || 'no description'})${software ? ' [software]' : ''}${quick ? ' [--quick]' : ''}`);
console.log(`limits: ${JSON.stringify(limits)}; features: ${features.join(', ')}`);

// What a software adapter (or --quick) cuts, said in the output.
const cuts = [];
const runs = quick || software ? 1 : 10;
// On SwiftShader one tuner candidate is 3 calls of T = 4 (3-30 s here): with 4 s a class the tuner finished at
// most the defaults' measurement and kept them (char and lstm-2: not even that), so budget 0 there keeps the
// defaults without the cost.
const budgetMs = quick ? 1_000 : software ? 0 : 2_000;
const gemmN = quick ? 64 : software ? 256 : 4096;
const gemmRuns = quick ? 1 : software ? 2 : 5;
const peerCases = software && !quick ? new Set(['char', 'dense']) : null; // null: every case
if (quick) cuts.push('--quick: tiny shapes (T=4 B=4 h=16), 1 timed call, GEMM n=64, tuning budget 1 s: a smoke run, not figures');
else if (software) {
  cuts.push('software adapter: T cut to 8 (lstm-2: 4; dispatch counts are those of the cut T: the formulas in T hold), 1 timed call per engine after its checked one instead of 10 (with other load on the 2 cores, one call of the same kernels varies by 2x here whatever the count)');
  cuts.push(`software adapter: GEMM at n = ${gemmN} instead of 4096, ${gemmRuns} timed runs`);
  cuts.push('software adapter: TF.js and jax-js on char and dense only (TF.js webgpu took 55-94 s a call on the full-size LSTM case in the bench page here: bench/results/gated-full.md)');
  cuts.push('software adapter: tuning budget 0 ms (2000 on hardware): one tuner candidate takes 3-30 s here, and with a 4 s budget the tuner finished at most the measurement of the defaults before it ran out and kept them, so the tuned engine runs the defaults; npm run bench tunes on SwiftShader with a 60 s budget (library-webgpu-tuned)');
}
for (const c of cuts) console.log(`cut: ${c}`);

// FLOPs of one gradient call (bench/gpu/common.mjs; cases.mjs's stepFlops for one vanilla layer)
const seqFlops = (c) => flopsOf({ ...c, G: { rnn: 1, gru: 3, lstm: 4 }[c.cell], L: c.numLayers });

const named = fullPlan().filter((c) => c.group === 'named' && c.kind === 'rnn');
const cases = [
  ...named.map((c) => ({ id: c.id, label: c.label, cell: 'rnn', numLayers: 1, ...c.shape })),
  { id: 'lstm-2', label: 'LSTM L=2: T=35 B=32 tokens/28 h=256 q=28, cross-entropy', cell: 'lstm', numLayers: 2, T: 35, B: 32, d: 28, h: 256, q: 28, tokens: true, loss: 'cross-entropy' },
];
for (const c of cases) {
  if (quick) Object.assign(c, { T: 4, B: 4, h: 16 });
  else if (software) c.T = Math.min(c.T, c.cell === 'lstm' ? 4 : 8);
  c.flops = seqFlops(c);
  if (c.cell === 'rnn') console.assert(c.flops === stepFlops(c), 'flop counts agree');
}

const tuned = await createEngine({ backend: 'webgpu', tuning: { mode: 'lazy', budgetMs } });
const cpu = await createEngine({ backend: 'cpu' });

// The peers: a second Dawn instance on the Vulkan driver the library's engines use (the library has set
// VK_ICD_FILENAMES by now where it needed SwiftShader), as navigator.gpu, which is where TF.js and jax-js look.
const PEERS = ['tfjs-webgpu', 'jax-webgpu'];
let peers = null;
const peerWhyNot = {};
const peerBundle = join(here, 'peers.mjs');
if (!existsSync(peerBundle)) {
  for (const p of PEERS) peerWhyNot[p] = `${peerBundle} is missing: run node bench/gpu/pack.mjs (npm run bench:gpu does) and run the packed folder`;
} else {
  try {
    const { create, globals } = await import('webgpu');
    Object.assign(globalThis, globals);
    const gpu = create([]);
    globalThis.benchPeersGpu = gpu; // Dawn's instance must outlive its devices (shared/WEBGPU-HERE.md)
    globalThis.navigator = { gpu, userAgent: `Node.js ${process.version} (Dawn)`, hardwareConcurrency: cpus().length };
    const peerAdapter = await gpu.requestAdapter();
    const pa = peerAdapter?.info;
    const peerName = pa ? [pa.vendor, pa.architecture, pa.device].filter(Boolean).join(' ').trim() : null;
    peers = await import(peerBundle);
    const started = await peers.startPeers();
    for (const p of PEERS) {
      if (started[p]) peerWhyNot[p] = started[p];
      else if (peerName !== adapterName) peerWhyNot[p] = `navigator.gpu gives ${peerName ?? 'no adapter'}, not the library's ${adapterName}`;
    }
    console.log(`peers on ${peerName}: ${PEERS.map((p) => `${p} ${peerWhyNot[p] ? `cannot run: ${peerWhyNot[p]}` : 'runs'}`).join('; ')}`);
  } catch (e) {
    for (const p of PEERS) peerWhyNot[p] ??= `could not start: ${e.message}`;
    console.log(`peers: could not start: ${e.message}`);
  }
}

const named2 = (g) => Object.fromEntries([['loss', g.loss], ...stackGradNames(g.layers.length).map((n, i) => [n, [...g.layers.flatMap((l) => [l.dWx, l.dWh, l.dbx, l.dbh]), g.head.dW, g.head.db][i]])]);
const fastest = (xs) => Math.min(...xs);

/**
 * `runs` calls of each entry, interleaved; the fastest of each. No warm-up here: every entry's
 * checked call came first (it compiled the shaders, and tuned the tuned engine).
 */
async function timeInterleaved(entries) {
  const best = entries.map(() => Infinity);
  for (let r = 0; r < runs; r++) {
    for (const [i, e] of entries.entries()) {
      const t0 = performance.now();
      await e.call();
      best[i] = Math.min(best[i], performance.now() - t0);
    }
  }
  return best;
}

const results = [];
for (const c of cases) {
  const spec = { ...c, seed: 7, learningRate: 0.01 };
  const p = makeStackProblem(lib, spec);
  const options = { loss: c.loss };
  const ref = named2(await cpu.gradients(p.model, p.batch, options));
  const check = {
    untuned: compareGrads(named2(await untuned.gradients(p.model, p.batch, options)), ref, TOLERANCE),
    tuned: compareGrads(named2(await tuned.gradients(p.model, p.batch, options)), ref, TOLERANCE), // lazy: the tuning happens here
  };
  if (!(check.untuned.ok && check.tuned.ok)) throw new Error(`${c.id}: the GPU does not match the CPU engine (${JSON.stringify(check)}); not timing it`);
  const entries = [
    { id: 'untuned', call: () => untuned.gradients(p.model, p.batch, options) },
    { id: 'tuned', call: () => tuned.gradients(p.model, p.batch, options) },
  ];
  const peerRows = {};
  const runners = [];
  for (const id of PEERS) {
    if (peerWhyNot[id]) {
      peerRows[id] = { notRun: peerWhyNot[id] };
      continue;
    }
    if (peerCases && !peerCases.has(c.id)) {
      peerRows[id] = { notRun: 'cut on a software adapter (see the cuts)' };
      continue;
    }
    try {
      const runner = await peers.peerRunner(id, p);
      runners.push(runner);
      const t0 = performance.now();
      const got = await runner.gradients();
      const firstMs = performance.now() - t0;
      const ck = compareGrads(got, ref, TOLERANCE);
      peerRows[id] = { check: ck, firstCallMs: firstMs };
      if (!ck.ok) {
        peerRows[id].notRun = `differs from the CPU reference: ${ck.mismatches[0]}`;
        continue;
      }
      entries.push({ id, call: () => runner.gradients() });
    } catch (e) {
      peerRows[id] = { notRun: `error: ${e.message}` };
    }
  }
  const best = await timeInterleaved(entries);
  for (const r of runners) r.dispose();
  const ms = Object.fromEntries(entries.map((e, i) => [e.id, best[i]]));
  // engine.stats() counts the engine's last call: each engine's last timed one
  const dUntuned = untuned.stats().dispatches;
  const dTuned = tuned.stats().dispatches;
  for (const id of PEERS) if (ms[id]) Object.assign(peerRows[id], { ms: ms[id], gflops: c.flops / (ms[id] * 1e6), overTuned: ms[id] / ms.tuned });
  const table = tuned.tuning();
  const p2 = (n) => 2 ** Math.ceil(Math.log2(n)); // the tuner's shape class (src/gpu/variants.ts: shapeClass)
  const key = `${c.cell}${c.cell === 'rnn' ? '-tanh' : ''} L${c.numLayers} dirs1 B${p2(c.B)} h${p2(c.h)}`;
  const cls = table.classes[key] ? [key, table.classes[key]] : null;
  const choice = cls ? { forwardStep: cls[1].forwardStep, backwardStep: cls[1].backwardStep, matmul: cls[1].matmul, wavefront: cls[1].wavefront, backwardWavefront: cls[1].backwardWavefront ?? false } : null;
  const row = {
    id: c.id, label: c.label, shape: { T: c.T, B: c.B, d: c.d, h: c.h, q: c.q, L: c.numLayers, cell: c.cell, tokens: c.tokens },
    flops: c.flops, untunedMs: ms.untuned, tunedMs: ms.tuned, ratio: ms.tuned / ms.untuned, untunedDispatches: dUntuned, tunedDispatches: dTuned,
    untunedGflops: c.flops / (ms.untuned * 1e6), tunedGflops: c.flops / (ms.tuned * 1e6), choice, tuningClass: cls?.[0] ?? null, tuningSpentMs: cls?.[1].spentMs ?? null, measured: cls?.[1].measured ?? null,
    worstError: { untuned: check.untuned.worst, tuned: check.tuned.worst }, peers: peerRows,
  };
  results.push(row);
  const peerText = PEERS.map((id) => `${id} ${peerRows[id].ms ? `${peerRows[id].ms.toFixed(1)} ms (${peerRows[id].overTuned.toFixed(2)}x tuned)` : `not run: ${peerRows[id].notRun}`}`).join('; ');
  console.log(`${c.id}: untuned ${ms.untuned.toFixed(1)} ms (${dUntuned} dispatches, ${row.untunedGflops.toFixed(2)} GFLOP/s), tuned ${ms.tuned.toFixed(1)} ms (${dTuned} dispatches, ${row.tunedGflops.toFixed(2)} GFLOP/s), ratio tuned/untuned ${row.ratio.toFixed(3)}; choice ${JSON.stringify(choice)}; ${peerText}`);
}

// GEMM at n: the library's matmul with each tile variant, and each peer's product; every one checked first.
const gemm = await (await import(join(here, 'gemm.mjs'))).runGemms({ engine: untuned, lib, n: gemmN, runs: gemmRuns, peers, peerWhyNot, PEERS });
for (const [k, g] of Object.entries(gemm.rows)) console.log(`GEMM n=${gemmN} ${k}: ${g.gflops ? `${g.gflops.toFixed(2)} GFLOP/s (${fastest(g.milliseconds).toFixed(1)} ms)` : `not run: ${g.notRun}`}`);
console.log(`GEMM n=${gemmN}: the library's best ${gemm.libraryBest ? `${gemm.libraryBest.gflops.toFixed(2)} GFLOP/s (${gemm.libraryBest.variant})` : 'n/a'}; the adapter's best among the peers ${gemm.peerBest ? `${gemm.peerBest.gflops.toFixed(2)} GFLOP/s (${gemm.peerBest.variant})` : 'n/a'}`);
const seconds = (performance.now() - started) / 1000;

const report = {
  date: new Date().toISOString(), quick, loadAverage: { start: loadAtStart, end: loadavg()[0], cpus: cpus().length }, adapter: { ...adapter, name: adapterName }, software, limits, features, cuts,
  notes: [
    `Each case: one SequenceModel gradients call (forward, cross-entropy or MSE, reverse sweep, every gradient read back), the fastest of ${runs} calls per engine, the engines alternating call by call, after each one's first call (checked against the CPU engine, float64; it compiles, and tunes the tuned engine).`,
    'char and dense are the named cases of bench/lib/cases.mjs as one-layer vanilla (tanh) SequenceModels with biases and a head; lstm-2 is the bench page\'s lstm case. Problems: bench/lib/problem.mjs makeStackProblem, seed 7.',
    `tuned: createEngine({ tuning: { mode: 'lazy', budgetMs: ${budgetMs} } }); untuned: tuning 'off' (the defaults).`,
    'Peers: TF.js 4.22 webgpu backend (the cells written with tf ops, bench/page/tfjs-stack.ts; gradients from tf.variableGrads, read back) and jax-js 0.1.25 on its webgpu device (jit(valueAndGrad), bench/lib/jax-stack.mjs), on navigator.gpu = a Dawn instance on the same Vulkan driver and adapter as the library.',
    'GEMM: the library\'s matmul.wgsl through engine.benchGemm (submit to completion, no read-back) with each tile variant; TF.js tf.matMul and jax-js jit(matmul), each timed to completion with one element read back (TF.js) or blockUntilReady (jax-js).',
  ],
  cases: results,
  gemm,
  seconds,
};
const peerCell = (r, id) => (r.peers[id]?.ms ? `${r.peers[id].ms.toFixed(1)} (${r.peers[id].overTuned.toFixed(1)}×)` : 'not run');
const md = [
  `# GPU benchmark on ${adapterName}${software ? ' (software adapter)' : ''}${quick ? ' (--quick)' : ''}`,
  '',
  `${report.date}, ${seconds.toFixed(0)} s; 1-minute load average ${report.loadAverage.start.toFixed(1)} at the start, ${report.loadAverage.end.toFixed(1)} at the end, on ${report.loadAverage.cpus} CPUs (a software adapter's times move with it). Limits: ${Object.entries(limits).map(([k, v]) => `${k} ${v}`).join(', ')}. Features: ${features.join(', ') || 'none'}.`,
  '',
  ...(cuts.length ? ['Cut to finish in minutes:', '', ...cuts.map((c) => `- ${c}`), ''] : []),
  '| case | untuned ms | tuned ms | tuned/untuned | dispatches (untuned, tuned) | GFLOP/s (untuned, tuned) | tuned choice | tfjs-webgpu ms (× tuned) | jax-webgpu ms (× tuned) |',
  '| --- | ---: | ---: | ---: | --- | --- | --- | ---: | ---: |',
  ...results.map((r) => `| ${r.id} (T=${r.shape.T} B=${r.shape.B} h=${r.shape.h}${r.shape.L > 1 ? ` L=${r.shape.L}` : ''} ${r.shape.cell}) | ${r.untunedMs.toFixed(1)} | ${r.tunedMs.toFixed(1)} | ${r.ratio.toFixed(3)} | ${r.untunedDispatches}, ${r.tunedDispatches} | ${r.untunedGflops.toFixed(2)}, ${r.tunedGflops.toFixed(2)} | ${r.choice ? `fwd ${r.choice.forwardStep}, bwd ${r.choice.backwardStep}, ${r.choice.matmul}${r.choice.wavefront ? ', wavefront' : ''}${r.choice.backwardWavefront ? ', backward wavefront' : ''}` : 'n/a'} | ${peerCell(r, 'tfjs-webgpu')} | ${peerCell(r, 'jax-webgpu')} |`),
  '',
  ...PEERS.flatMap((id) => {
    const why = [...new Set(results.map((r) => r.peers[id]?.notRun).filter(Boolean))];
    return why.length ? [`- ${id} not run on some cases: ${why.join('; ')}`] : [];
  }),
  '',
  `## GEMM, n = ${gemmN}`,
  '',
  '| kernel | GFLOP/s | fastest ms | check (worst error / tolerance) |',
  '| --- | ---: | ---: | --- |',
  ...Object.entries(gemm.rows).map(([k, g]) => `| ${k} | ${g.gflops ? g.gflops.toFixed(2) : 'not run'} | ${g.milliseconds?.length ? fastest(g.milliseconds).toFixed(1) : ''} | ${g.notRun ?? g.maxError.toFixed(3)} |`),
  '',
  `The library's best: ${gemm.libraryBest ? `${gemm.libraryBest.gflops.toFixed(2)} GFLOP/s (${gemm.libraryBest.variant})` : 'n/a'}. The adapter's best among the peers: ${gemm.peerBest ? `${gemm.peerBest.gflops.toFixed(2)} GFLOP/s (${gemm.peerBest.variant})` : 'n/a'}.`,
  '',
  ...report.notes.map((n) => `- ${n}`),
  '',
].join('\n');
const outDir = packed ? join(here, 'results') : join(here, '..', 'results');
mkdirSync(outDir, { recursive: true });
const slug = `${quick ? 'quick-' : ''}${adapterName.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '')}`;
writeFileSync(join(outDir, `gpu-${slug}.json`), JSON.stringify(report, null, 2));
writeFileSync(join(outDir, `gpu-${slug}.md`), md);
console.log(`\n${md}\nwrote ${join(outDir, `gpu-${slug}.{json,md}`)}`);
for (const e of [tuned, untuned, cpu]) e.dispose();
process.exit(0);

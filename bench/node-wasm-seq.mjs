#!/usr/bin/env node
// The gated cases of issues 10 and 12 in Node: a SequenceModel (lstm, gru:
// T=35, B=32, tokens over 28, h=256, 2 layers, cross-entropy; the cases of
// bench/lib/cases.mjs) on the library's 'wasm' engine with 1 and 2 threads
// against its float64 CPU reference. The wasm gradients are checked against
// the reference first (every gradient, per element, bench/lib/cases.mjs's
// TOLERANCE); then warm-up; then timed gradient calls and SGD trainer steps,
// interleaved (call k of every backend, then call k+1). Writes
// bench/results/node-wasm-seq.{json,md}.
//
//   npm run build && node bench/node-wasm-seq.mjs [--runs=N] [--cases=lstm,gru] [--out=base]
//
// GFLOP/s counts the matrix products only (bench/lib/cases.mjs, stackStepFlops).
// The share of the time in the recurrence against the large products comes
// from the engine's phase profile (engine.phaseTimes(), bench/lib/wasm-report.mjs).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { stackStepFlops, TOLERANCE } from './lib/cases.mjs';
import { makeStackProblem } from './lib/problem.mjs';
import { summarize } from './lib/stats.mjs';
import { phaseShare } from './lib/wasm-report.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({ options: { runs: { type: 'string' }, cases: { type: 'string' }, out: { type: 'string' } } });
const runs = Number(args.runs ?? 7);
const CASES = {
  lstm: { T: 35, B: 32, d: 28, h: 256, q: 28, tokens: true, loss: 'cross-entropy', numLayers: 2, cell: 'lstm' },
  gru: { T: 35, B: 32, d: 28, h: 256, q: 28, tokens: true, loss: 'cross-entropy', numLayers: 2, cell: 'gru' },
};
const caseIds = args.cases ? args.cases.split(',') : Object.keys(CASES);
const outBase = resolve(root, args.out ?? 'bench/results/node-wasm-seq');

if (!existsSync(join(root, 'dist/node/index.js'))) spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
const lib = await import(join(root, 'dist/node/index.js'));

/** Worst |got - ref| / (atolOfMax * max|ref| + rtol * |ref|) over every gradient of a SequenceGradients. */
function worstRatio(got, ref) {
  const pairs = [];
  ref.layers.forEach((l, k) => {
    for (const key of ['dWx', 'dWh', 'dbx', 'dbh']) if (l[key]) pairs.push([got.layers[k][key], l[key]]);
  });
  pairs.push([got.head.dW, ref.head.dW], [got.head.db, ref.head.db]);
  let worst = 0;
  for (const [g, r] of pairs) {
    let max = 0;
    for (const v of r) max = Math.max(max, Math.abs(v));
    for (let i = 0; i < r.length; i++) worst = Math.max(worst, Math.abs(g[i] - r[i]) / (TOLERANCE.atolOfMax * max + TOLERANCE.rtol * Math.abs(r[i]) || 1e-30));
  }
  return worst;
}

const cpu = await lib.createEngine({ backend: 'cpu' });
const wasm = { 1: await lib.createEngine({ backend: 'wasm', threads: 1 }), 2: await lib.createEngine({ backend: 'wasm', threads: 2 }) };
const started = new Date();
const loadStart = loadavg()[0];
const results = [];
const options = { loss: 'cross-entropy' };

for (const id of caseIds) {
  const spec = { id, ...CASES[id], seed: 7 };
  const { model, batch } = makeStackProblem(lib, spec);
  const flops = stackStepFlops(spec);
  console.log(`${id}: ${spec.numLayers} ${spec.cell} layers T=${spec.T} B=${spec.B} h=${spec.h}, ${(flops / 1e9).toFixed(2)} GFLOP per step`);
  const ref = await cpu.gradients(model, batch, options);
  const check = {};
  for (const n of [1, 2]) {
    const worst = worstRatio(await wasm[n].gradients(model, batch, options), ref);
    check[n] = { worst, ok: worst <= 1 };
    console.log(`  library-wasm-${n}: gradients within tolerance: ${worst <= 1} (worst ${worst.toFixed(4)} of it)`);
  }
  // timed: gradient calls and trainer steps of each backend interleaved; the CPU reference fewer times (it is slow)
  const trainers = {
    1: wasm[1].trainer(model, { optimizer: { kind: 'sgd', learningRate: 0.01 }, loss: 'cross-entropy' }),
    2: wasm[2].trainer(model, { optimizer: { kind: 'sgd', learningRate: 0.01 }, loss: 'cross-entropy' }),
    cpu: cpu.trainer(model, { optimizer: { kind: 'sgd', learningRate: 0.01 }, loss: 'cross-entropy' }),
  };
  const times = { 'library-wasm-1': { gradients: [], step: [], phases: [] }, 'library-wasm-2': { gradients: [], step: [], phases: [] }, 'library-cpu': { gradients: [], step: [] } };
  for (const n of [1, 2]) await trainers[n].step(batch); // warm-up
  for (let k = 0; k < runs; k++) {
    for (const n of [1, 2]) {
      const name = `library-wasm-${n}`;
      let t0 = performance.now();
      await wasm[n].gradients(model, batch, options);
      times[name].gradients.push(performance.now() - t0);
      times[name].phases.push(wasm[n].phaseTimes());
      t0 = performance.now();
      await trainers[n].step(batch);
      times[name].step.push(performance.now() - t0);
    }
    if (k < 2) {
      let t0 = performance.now();
      await cpu.gradients(model, batch, options);
      times['library-cpu'].gradients.push(performance.now() - t0);
      t0 = performance.now();
      await trainers.cpu.step(batch);
      times['library-cpu'].step.push(performance.now() - t0);
    }
  }
  for (const t of Object.values(trainers)) t.dispose();
  const backends = {};
  for (const [name, t] of Object.entries(times)) {
    const g = summarize(t.gradients);
    const s = summarize(t.step);
    backends[name] = { gradients: g, step: s, gflops: flops / (s.median * 1e6), check: name === 'library-cpu' ? null : check[name.slice(-1)] };
    if (t.phases) backends[name].share = phaseShare(t.phases);
    console.log(`  ${name.padEnd(15)} gradients ${g.median.toFixed(1)} ms, step ${s.median.toFixed(1)} ms (${backends[name].gflops.toFixed(1)} GFLOP/s)${backends[name].share ? `, recurrence ${(100 * backends[name].share.recurrence).toFixed(0)}% / products ${(100 * backends[name].share.products).toFixed(0)}%` : ''}`);
  }
  results.push({ id, spec, flops, backends });
}
for (const e of [cpu, wasm[1], wasm[2]]) e.dispose();

const report = { started: started.toISOString(), node: process.version, cpus: `${cpus().length} x ${cpus()[0]?.model ?? '?'}`, load: [loadStart, loadavg()[0]], runs, cases: results };
const md = [
  `# SequenceModel on the 'wasm' engine in Node (${started.toISOString()})`,
  '',
  `\`node bench/node-wasm-seq.mjs --runs=${runs}\`; ${report.cpus}, Node ${process.version}, load average ${loadStart.toFixed(2)} at the start, ${loadavg()[0].toFixed(2)} at the end (the machine is shared: medians).`,
  'Milliseconds per call, median (min-max); GFLOP/s of the matrix products of a training step (stackStepFlops); the share of the wasm step in the recurrence (forward steps and reverse sweep) against the products over all T·B rows, from engine.phaseTimes().',
  '',
  '| case | backend | gradients ms | trainer step ms | GFLOP/s | recurrence / products | speed-up over the CPU reference (step) | gradients vs reference |',
  '| --- | --- | --- | --- | --- | --- | --- | --- |',
];
for (const c of results) {
  const cpuStep = c.backends['library-cpu'].step.median;
  for (const [name, b] of Object.entries(c.backends)) {
    const range = (s) => `${s.median.toFixed(1)} (${s.min.toFixed(1)}-${s.max.toFixed(1)})`;
    const share = b.share ? `${(100 * b.share.recurrence).toFixed(0)}% / ${(100 * b.share.products).toFixed(0)}%` : '-';
    const check = b.check ? `${b.check.ok ? 'ok' : 'FAILED'} (worst ${b.check.worst.toFixed(3)} of tolerance)` : 'the reference';
    md.push(`| ${c.id} | ${name} | ${range(b.gradients)} | ${range(b.step)} | ${b.gflops.toFixed(1)} | ${share} | ${(cpuStep / b.step.median).toFixed(1)}x | ${check} |`);
  }
}
await mkdir(dirname(outBase), { recursive: true });
await writeFile(`${outBase}.json`, JSON.stringify(report, null, 2));
await writeFile(`${outBase}.md`, `${md.join('\n')}\n`);
console.log(`\n${md.join('\n')}\n\nwrote ${outBase}.json and .md`);

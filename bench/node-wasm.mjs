#!/usr/bin/env node
// The Node half of issue 12's benchmark: the library's 'wasm' engine on 1 and
// 2 threads against PyTorch's CPU training step (Debian's python3-torch, run
// as /usr/bin/python3: `python3` on PATH may be another Python without torch)
// and jax-js on its wasm device, on the char, dense and d2l cases. Every
// backend's gradients are checked against the library's float64 CPU reference
// first; then warm-up steps; then timed training steps, interleaved (step k of
// every backend, then step k+1). Writes bench/results/node-wasm.{json,md}.
//
//   node bench/node-wasm.mjs [--runs=N] [--cases=char,dense,d2l] [--out=base]
//
// GFLOP/s counts the matrix products only (bench/lib/cases.mjs, stepFlops).
// The share of the library's time in the recurrence against the large
// products comes from its phase profile (engine.phaseTimes()).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createInterface } from 'node:readline';
import { stepFlops, TOLERANCE, WASM_CASES } from './lib/cases.mjs';
import { makeProblem } from './lib/problem.mjs';
import { compareGrads } from './lib/compare.mjs';
import { makeJaxRnn } from './lib/jax-rnn.mjs';
import { summarize } from './lib/stats.mjs';
import { phaseShare } from './lib/wasm-report.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({ options: { runs: { type: 'string' }, cases: { type: 'string' }, out: { type: 'string' } } });
const runs = Number(args.runs ?? 10);
const caseIds = args.cases ? args.cases.split(',') : Object.keys(WASM_CASES);
const outBase = resolve(root, args.out ?? 'bench/results/node-wasm');
const PYTHON = '/usr/bin/python3';

if (!existsSync(join(root, 'dist/node/index.js'))) spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
const lib = await import(join(root, 'dist/node/index.js'));
const log = (s) => console.log(s);

/** PyTorch in a child process, or the reason it cannot run. */
async function startTorch() {
  if (!existsSync(PYTHON)) return { missing: `${PYTHON} not found` };
  const probe = spawnSync(PYTHON, ['-c', 'import torch, numpy; print(torch.__version__)'], { encoding: 'utf8' });
  if (probe.status !== 0) return { missing: `${PYTHON} has no torch (install Debian's python3-torch): ${probe.stderr.trim().split('\n').pop()}` };
  const child = spawn(PYTHON, [join(root, 'bench/lib/torch_step.py')], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const ask = async (msg) => {
    child.stdin.write(`${JSON.stringify(msg)}\n`);
    const { value, done } = await lines.next();
    if (done) throw new Error('torch_step.py ended');
    return JSON.parse(value);
  };
  return { version: probe.stdout.trim(), ask, close: () => child.kill() };
}

function writeCaseFiles(dir, problem) {
  const { model, batch } = problem;
  writeFileSync(join(dir, 'model.bin'), Buffer.from(lib.packParams(model).buffer));
  const x = Buffer.from(batch.x.buffer, batch.x.byteOffset, batch.x.byteLength);
  const y = Buffer.from(batch.y.buffer, batch.y.byteOffset, batch.y.byteLength);
  writeFileSync(join(dir, 'batch.bin'), Buffer.concat([x, y]));
}

const jax = await import('@jax-js/jax');
await jax.init('wasm');
const torch = await startTorch();
if (torch.missing) log(`bench: PyTorch skipped: ${torch.missing}`);
const cpu = await lib.createEngine({ backend: 'cpu' });
const wasm = { 1: await lib.createEngine({ backend: 'wasm', threads: 1 }), 2: await lib.createEngine({ backend: 'wasm', threads: 2 }) };
const dir = mkdtempSync(join(tmpdir(), 'bptt-bench-'));
const started = new Date();
const loadStart = loadavg()[0];
const results = [];

try {
  for (const id of caseIds) {
    const shape = WASM_CASES[id];
    const spec = { id, ...shape, seed: 7, learningRate: 0.01 };
    const problem = makeProblem(lib, spec);
    const flops = stepFlops(shape);
    log(`[${id}] T=${shape.T} B=${shape.B} d=${shape.d} h=${shape.h} q=${shape.q}${shape.tokens ? ' tokens' : ''} ${shape.loss}: ${(flops / 1e6).toFixed(0)} MFLOP a step`);
    const ref = await cpu.gradients(problem.model, problem.batch, { loss: shape.loss });
    const backends = {};
    const runners = {};
    const check = (name, g) => {
      const c = compareGrads(g, ref, TOLERANCE);
      log(`  ${name}: ${c.ok ? `matches the CPU reference (worst ${c.worst.toFixed(3)})` : `MISMATCH ${c.mismatches[0]}`}`);
      return c;
    };
    for (const threads of [1, 2]) {
      const engine = wasm[threads];
      const name = `library-wasm-${threads}`;
      const t0 = performance.now();
      const g = await engine.gradients(problem.model, problem.batch, { loss: shape.loss });
      backends[name] = { threads, check: check(name, g), firstCallMs: performance.now() - t0, times: [], phases: [] };
      const trainer = engine.trainer(problem.model, { optimizer: { kind: 'sgd', learningRate: spec.learningRate }, loss: shape.loss });
      runners[name] = {
        step: () => trainer.step(problem.batch),
        after: () => backends[name].phases.push(engine.phaseTimes()),
        dispose: () => trainer.dispose(),
      };
    }
    {
      const name = 'jax-wasm';
      const r = makeJaxRnn(jax, spec, problem.model, problem.batch, 'wasm');
      const t0 = performance.now();
      const g = await r.gradients();
      backends[name] = { check: check(name, g), firstCallMs: performance.now() - t0, times: [], note: 'jit(valueAndGrad) on the wasm device; first call traces and compiles' };
      runners[name] = { step: () => r.step(), dispose: () => r.dispose() };
    }
    if (!torch.missing) {
      writeCaseFiles(dir, problem);
      await torch.ask({ cmd: 'load', dir, spec });
      const g = await torch.ask({ cmd: 'grads' });
      const c = check('torch', g);
      for (const threads of [1, 2]) {
        const name = `torch-${threads}`;
        backends[name] = { threads, check: c, times: [], note: `PyTorch ${torch.version}, torch.set_num_threads(${threads})` };
        runners[name] = { step: async () => (await torch.ask({ cmd: 'step', threads })).ms, dispose: () => {} };
      }
    } else {
      backends.torch = { skipped: torch.missing };
    }
    // warm-up, then timed steps interleaved; PyTorch's time is its own (perf_counter around the step), without the pipe
    const names = Object.keys(runners);
    for (const n of names) for (let w = 0; w < 2; w++) await runners[n].step();
    for (let k = 0; k < runs; k++) {
      for (const n of names.slice(k % names.length).concat(names.slice(0, k % names.length))) {
        const t0 = performance.now();
        const own = await runners[n].step();
        backends[n].times.push(typeof own === 'number' ? own : performance.now() - t0);
        runners[n].after?.();
      }
    }
    for (const n of names) runners[n].dispose();
    for (const [n, b] of Object.entries(backends)) {
      const s = summarize(b.times);
      if (!s) continue;
      Object.assign(b, s, { gflops: flops / (s.median * 1e6) });
      if (b.phases) b.share = phaseShare(b.phases);
      log(`  ${n.padEnd(16)} median ${s.median.toFixed(1)} ms (min ${s.min.toFixed(1)}, max ${s.max.toFixed(1)}), ${b.gflops.toFixed(2)} GFLOP/s${b.share ? `; recurrence ${(100 * b.share.recurrence).toFixed(0)}%, large products ${(100 * b.share.products).toFixed(0)}%, other ${(100 * b.share.other).toFixed(0)}%` : ''}`);
      delete b.phases;
    }
    results.push({ id, shape, flops, backends });
  }
} finally {
  torch.close?.();
  for (const e of Object.values(wasm)) e.dispose();
  rmSync(dir, { recursive: true, force: true });
}

const report = {
  startedAt: started.toISOString(),
  command: `node bench/node-wasm.mjs${process.argv.slice(2).length ? ` ${process.argv.slice(2).join(' ')}` : ''}`,
  commit: spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).stdout.trim(),
  machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, node: process.version, loadAverage: { start: loadStart, end: loadavg()[0] } },
  runs,
  torch: torch.missing ? { skipped: torch.missing } : { version: torch.version },
  cases: results,
};
await mkdir(dirname(outBase), { recursive: true });
await writeFile(`${outBase}.json`, `${JSON.stringify(report, null, 1)}\n`);
const { renderNodeMarkdown } = await import('./lib/wasm-report.mjs');
await writeFile(`${outBase}.md`, renderNodeMarkdown(report));
log(`bench: wrote ${outBase}.{json,md}`);
process.exit(0);

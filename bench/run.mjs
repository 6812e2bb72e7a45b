#!/usr/bin/env node
// The benchmark of issue 4: `npm run bench` (full, ~10-15 min on SwiftShader)
// or `node bench/run.mjs --quick` (CI, under a minute). Builds the bench page,
// serves it on 127.0.0.1, runs every case in one headless Chromium page with
// every backend interleaved, and writes <out>.json, <out>.md and <out>.svg.
//
//   --quick                  one small case of everything; exit 1 when a backend errors
//                            or a result differs from the CPU reference
//   --cases=char,sweep-T,... groups (named-case ids char, dense, lstm, gru, lstm-lengths, lstm-full; sweep-T, sweep-h,
//                            sweep-B, gemm) or single ids (sweep-T-256)
//   --backends=a,b           a subset of library-webgpu, library-webgpu-tuned, library-wasm, library-cpu, tfjs-webgpu,
//                            tfjs-wasm, tfjs-cpu, jax-wasm, jax-webgpu (bench/lib/cases.mjs BACKENDS)
//   --runs=N                 timed runs per backend and case (full: 5, quick: 2)
//   --budget-min=M           stop starting new cases after M minutes (default 15)
//   --out=path/base          output files (default bench/results/latest, quick,
//                            or partial when --cases/--backends narrow the full run)
//   --allow-missing-webgpu   in --quick, tolerate that createEngine({backend:'webgpu'}) fails
//   --no-isolation           serve without COOP/COEP (TF.js wasm then runs single-threaded)
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { buildBenchPage } from './build.mjs';
import { BACKENDS, FLOPS_FORMULA, TOLERANCE, estimateSeconds, fullPlan, quickPlan, selectCases } from './lib/cases.mjs';
import { analyzeCase, analyzeGemm, evaluateTargets, gatedSummary, linearityInT, tunedVsDefault } from './lib/analyze.mjs';
import { renderMarkdown, summaryLines } from './lib/report-md.mjs';
import { renderSvg } from './lib/report-svg.mjs';
import { serveBench } from './lib/serve-isolated.mjs';
import { median } from './lib/stats.mjs';
import { driveCase } from './lib/drive-case.mjs';
import { launchChromium } from '../scripts/chromium.mjs';

// The page is driven one backend call at a time (bench/lib/drive-case.mjs); the
// slowest single call seen here is TF.js webgpu's on the gated cases, about 90 s
// on SwiftShader. 30 minutes only catches a page that hangs.
const PROTOCOL_TIMEOUT_MS = 30 * 60_000;

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    cases: { type: 'string' },
    backends: { type: 'string' },
    runs: { type: 'string' },
    'budget-min': { type: 'string' },
    out: { type: 'string' },
    'allow-missing-webgpu': { type: 'boolean', default: false },
    'no-isolation': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  console.log('usage: node bench/run.mjs [--quick] [--cases=...] [--backends=...] [--runs=N] [--budget-min=M] [--out=base] [--allow-missing-webgpu] [--no-isolation]');
  process.exit(0);
}

const list = (s) => (s ? s.split(',').map((x) => x.trim()).filter(Boolean) : undefined);
const backends = list(args.backends) ?? BACKENDS;
const badBackend = backends.find((b) => !BACKENDS.includes(b));
if (badBackend) throw new Error(`--backends: unknown ${badBackend}; expected some of ${BACKENDS.join(', ')}`);
const runs = args.runs ? Number(args.runs) : args.quick ? 2 : 5;
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs: expected a positive integer; received ${args.runs}`);
const budgetMin = args['budget-min'] ? Number(args['budget-min']) : args.quick ? 5 : 15;
// the library's generator: the variable-length case draws its lengths with it (for the FLOP count of its valid steps)
const { makeRng } = await import('../dist/node/index.js');
const plan = selectCases(args.quick ? quickPlan({ runs, backends, makeRng }) : fullPlan({ runs, backends, makeRng }), list(args.cases));
const outBase = resolve(root, args.out ?? (args.quick ? 'bench/results/quick' : args.cases || args.backends ? 'bench/results/partial' : 'bench/results/latest'));

const log = (line) => console.log(line);
const mmss = (s) => `${Math.floor(s / 60)}:${String(Math.round(s % 60)).padStart(2, '0')}`;
const fmtFlops = (f) => (f >= 1e9 ? `${(f / 1e9).toFixed(2)} GFLOP` : f >= 1e6 ? `${(f / 1e6).toFixed(1)} MFLOP` : `${(f / 1e3).toFixed(1)} kFLOP`);

/**
 * Within the T sweep, a backend whose next call is predicted (its last time
 * there, scaled by T: FLOPs and per-step overheads both grow with T) to exceed
 * the case's maxCallMs is skipped, so that one slow backend cannot take the
 * whole time budget; in every sweep, so is one already skipped at a smaller
 * size. (Over h and B, time need not follow FLOPs: the page judges a warm call.)
 */
function predictSkips(entry, prev, prevRaw) {
  if (entry.kind !== 'rnn' || !prev || !prevRaw || prev.group !== entry.group || entry.group === 'named') return undefined;
  const skip = {};
  for (const [b, r] of Object.entries(prevRaw.backends)) {
    if (r.skipped) {
      skip[b] = `skipped at ${prev.label} already`;
      continue;
    }
    const times = r.times?.[entry.spec.modes[0]];
    const last = times?.length ? median(times) : r.checkedCallMs;
    if (!last) continue;
    if (entry.group !== 'sweep-T') continue;
    const predicted = (last * entry.shape.T) / prev.shape.T;
    if (predicted > entry.spec.maxCallMs) {
      skip[b] = `predicted ${(predicted / 1000).toFixed(0)} s a call (${(last / 1000).toFixed(1)} s at ${prev.label}, scaled by T), over the ${entry.spec.maxCallMs / 1000} s limit`;
    }
  }
  return Object.keys(skip).length ? skip : undefined;
}

function git(...a) {
  const r = spawnSync('git', a, { cwd: root, encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : '';
}

async function main() {
  const started = new Date();
  const t0 = Date.now();
  const loadAtStart = loadavg()[0];
  const estimate = plan.reduce((s, e) => s + estimateSeconds(e), 0);
  log(`bench: ${args.quick ? 'quick' : 'full'} run, ${plan.length} cases, ${runs} timed runs each; estimated ${mmss(estimate)} (stops starting cases after ${budgetMin} min)`);

  if (!existsSync(join(root, 'dist/browser/index.js'))) {
    log('bench: dist/browser/index.js is missing; running `npm run build`');
    const r = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
    if (r.status !== 0) throw new Error('npm run build failed');
  }
  const dist = await buildBenchPage();
  const server = await serveBench(dist, { isolated: !args['no-isolation'] });
  const browser = await launchChromium({ protocolTimeout: PROTOCOL_TIMEOUT_MS });
  const raws = new Map();
  const harnessErrors = [];
  const skipped = [];
  let page;
  let info;
  let browserVersion;
  try {
    page = await browser.newPage();
    page.on('pageerror', (e) => log(`page error: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') log(`page console: ${m.text()}`);
    });
    await page.exposeFunction('benchProgress', (line) => log(line));
    await page.goto(server.url, { waitUntil: 'load' });
    await page.waitForFunction(() => window.benchReady === true, { timeout: 60_000 });
    browserVersion = await browser.version();
    info = await page.evaluate(() => window.bench.info());
    const a = info.libraryAdapter ?? info.adapter;
    log(`bench: browser ${browserVersion}; adapter ${a ? `${a.vendor} ${a.architecture}${a.description ? ` (${a.description})` : ''}` : `none (${info.adapterError})`}`);
    log(`bench: TF.js ${info.tfjsVersion}: ${Object.entries(info.tfjsBackends).map(([b, s]) => `${b} ${s}`).join(', ')}; wasm ${info.wasm.simd ? 'SIMD' : 'no SIMD'}, ${info.wasm.threads} threads`);
    if (info.libraryWebgpuError) log(`bench: library-webgpu unavailable: ${info.libraryWebgpuError}`);

    for (const [i, entry] of plan.entries()) {
      const elapsed = (Date.now() - t0) / 1000;
      if (elapsed > budgetMin * 60) {
        skipped.push(entry.id);
        log(`[${i + 1}/${plan.length}] ${entry.label}: skipped, past the ${budgetMin} min budget`);
        continue;
      }
      log(`[${i + 1}/${plan.length}] ${entry.label}, ${fmtFlops(entry.flops)} (elapsed ${mmss(elapsed)}, case estimate ${mmss(estimateSeconds(entry))})`);
      const prev = plan[i - 1];
      const skip = predictSkips(entry, prev, prev && raws.get(prev.id));
      const spec = skip ? { ...entry.spec, skip } : entry.spec;
      try {
        const raw = entry.kind === 'gemm' ? await page.evaluate((s) => window.bench.runGemm(s), spec) : await driveCase(page, spec, log);
        raws.set(entry.id, raw);
        if (entry.kind === 'rnn') log(`  ${entry.id} done in ${(raw.elapsedMs / 1000).toFixed(1)} s`);
      } catch (e) {
        harnessErrors.push(`${entry.id}: the page failed: ${e.message}`);
        log(`  ${entry.id}: HARNESS ERROR ${e.message}`);
        if (page.isClosed()) break;
      }
    }
  } finally {
    await browser.close().catch(() => {});
    await server.close().catch(() => {});
  }
  if (!info) throw new Error('bench: the page never answered');

  const gemmEntry = plan.find((e) => e.kind === 'gemm');
  const gemm = gemmEntry && raws.get(gemmEntry.id) ? analyzeGemm(gemmEntry, raws.get(gemmEntry.id)) : null;
  const cases = plan.filter((e) => e.kind === 'rnn').map((e) => analyzeCase(e, raws.get(e.id), gemm));
  const webgpuMissing = Boolean(info.libraryWebgpuError);
  const problems = [];
  const failures = [];
  const tolerated = (b) => args['allow-missing-webgpu'] && b === 'library-webgpu' && webgpuMissing;
  for (const c of cases) {
    if (!raws.has(c.id)) continue;
    // a case's own backends: --quick leaves out those that cannot run it (the full plan skips them, saying why)
    const caseBackends = plan.find((e) => e.id === c.id).spec.backends;
    for (const b of backends.filter((x) => caseBackends.includes(x))) {
      const r = c.backends[b];
      let why = null;
      if (r?.skipped) {
        problems.push(`${c.id} ${b}: not timed: ${r.skipped}`);
        if (args.quick && !r.refused) failures.push(`${c.id} ${b}: not timed: ${r.skipped}`);
        if (r.check && !r.check.ok) problems.push(`${c.id} ${b}: differs from the CPU reference: worst ratio ${r.check.worst.toFixed(2)} at ${r.check.worstAt}`);
        continue;
      }
      if (!r) why = 'no result';
      else if (r.error) why = `error: ${r.error}`;
      else if (b !== 'library-cpu' && !r.check) why = 'not checked against the CPU reference';
      else if (r.check && !r.check.ok) why = `differs from the CPU reference: worst ratio ${r.check.worst.toFixed(2)} at ${r.check.worstAt}; ${r.check.mismatches.slice(0, 2).join('; ')}`;
      else if (c.modes.some((m) => !r.modes[m])) why = 'missing timings';
      if (!why) continue;
      problems.push(`${c.id} ${b}: ${why}`);
      if (!tolerated(b)) failures.push(`${c.id} ${b}: ${why}`);
    }
  }
  if (gemm) {
    for (const [b, g] of Object.entries(gemm.backends)) {
      if (g.error) {
        problems.push(`gemm ${b}: error: ${g.error}`);
        if (!tolerated(b)) failures.push(`gemm ${b}: error: ${g.error}`);
      }
    }
  }
  for (const e of harnessErrors) {
    problems.push(e);
    failures.push(e);
  }
  for (const id of skipped) problems.push(`${id}: skipped, past the ${budgetMin} min budget`);

  const report = {
    schema: 1,
    mode: args.quick ? 'quick' : plan.length === fullPlan().length ? 'full' : 'partial',
    argv: process.argv.slice(2),
    startedAt: started.toISOString(),
    durationS: (Date.now() - t0) / 1000,
    commit: `${git('rev-parse', '--short', 'HEAD')}${git('status', '--porcelain', '--', 'src', 'kernels') ? ' (with uncommitted changes)' : ''}`,
    machine: { platform: `${process.platform} ${process.arch}`, cpus: cpus().length, cpuModel: cpus()[0]?.model ?? '?', node: process.version, loadAverage: { start: loadAtStart, end: loadavg()[0] } },
    browser: { version: browserVersion, userAgent: info.userAgent },
    adapter: info.libraryAdapter ?? info.adapter,
    page: info,
    settings: { runs, budgetMin, backends, cases: plan.map((e) => e.id), isolated: !args['no-isolation'] },
    flopsFormula: FLOPS_FORMULA,
    tolerance: TOLERANCE,
    targets: evaluateTargets(cases, gemm),
    cases,
    linearityInT: linearityInT(cases),
    tunedVsDefault: tunedVsDefault(cases),
    gated: gatedSummary(cases),
    gemm,
    problems,
    skipped,
    outName: outBase.split('/').pop(),
  };
  await mkdir(dirname(outBase), { recursive: true });
  await writeFile(`${outBase}.json`, `${JSON.stringify(report, null, 1)}\n`);
  await writeFile(`${outBase}.md`, renderMarkdown(report));
  await writeFile(`${outBase}.svg`, renderSvg(report));

  log('');
  for (const t of report.targets) log(`target ${t.status.toUpperCase().padEnd(4)} ${t.text}: ${t.detail}`);
  for (const line of summaryLines(report)) log(line);
  for (const p of problems) log(`problem: ${p}`);
  log(`bench: wrote ${relative(root, outBase)}.{json,md,svg} in ${mmss(report.durationS)}`);
  if (args.quick && failures.length) {
    log(`bench --quick: FAILED (${failures.length}):`);
    for (const f of failures) log(`  ${f}`);
    return 1;
  }
  return harnessErrors.length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(`bench: ${e.stack ?? e}`);
    process.exit(1);
  },
);

#!/usr/bin/env node
// The browser half of issue 12's benchmark: the char and dense cases in
// headless Chromium, every backend of the bench page in one page, interleaved
// (bench/lib/drive-case.mjs: each backend checked against the CPU reference
// first, then warm-up, then timed runs in rotation), in two pages:
//   plain     not cross-origin isolated: the library's wasm engine, jax-js and
//             TF.js wasm each run on one thread
//   isolated  COOP/COEP: the library's wasm engine on 2 threads (its default
//             here, min(cores, 4)), TF.js wasm on its threaded build, jax-js
//             wasm as it chooses
// Writes bench/results/wasm-browser.{json,md} with the targets of issue 12.
//
//   node bench/wasm-run.mjs [--runs=N] [--cases=char,dense] [--pages=plain,isolated] [--out=base]
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { buildBenchPage } from './build.mjs';
import { BACKENDS, fullPlan, stepFlops } from './lib/cases.mjs';
import { serveBench } from './lib/serve-isolated.mjs';
import { summarize } from './lib/stats.mjs';
import { browserTargets, renderBrowserMarkdown } from './lib/wasm-report.mjs';
import { driveCase } from './lib/drive-case.mjs';
import { launchChromium } from '../scripts/chromium.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({ options: { runs: { type: 'string' }, cases: { type: 'string' }, pages: { type: 'string' }, out: { type: 'string' } } });
const runs = Number(args.runs ?? 5);
const caseIds = args.cases ? args.cases.split(',') : ['char', 'dense'];
const pages = args.pages ? args.pages.split(',') : ['plain', 'isolated'];
const outBase = resolve(root, args.out ?? 'bench/results/wasm-browser');
const log = (s) => console.log(s);

if (!existsSync(join(root, 'dist/browser/index.js'))) spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
const dist = await buildBenchPage();
const plan = fullPlan({ runs, backends: BACKENDS.filter((b) => b !== 'library-webgpu-tuned') }).filter((e) => caseIds.includes(e.id));
const started = new Date();
const loadStart = loadavg()[0];
const report = { startedAt: started.toISOString(), command: `node bench/wasm-run.mjs${process.argv.length > 2 ? ` ${process.argv.slice(2).join(' ')}` : ''}`, runs, pages: {} };

for (const pageKind of pages) {
  const server = await serveBench(dist, { isolated: pageKind === 'isolated' });
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    page.on('pageerror', (e) => log(`page error: ${e.message}`));
    await page.exposeFunction('benchProgress', (line) => log(`[${pageKind}]${line}`));
    await page.goto(server.url, { waitUntil: 'load' });
    await page.waitForFunction(() => window.benchReady === true, { timeout: 60_000 });
    const info = await page.evaluate(() => window.bench.info());
    log(`[${pageKind}] crossOriginIsolated ${info.crossOriginIsolated}; library-wasm: ${info.libraryWasm}; jax-js devices: ${info.jaxDevices}; TF.js wasm ${info.wasm.threads} threads`);
    const cases = {};
    for (const entry of plan) {
      log(`[${pageKind}] ${entry.label}`);
      const raw = await driveCase(page, { ...entry.spec, minRuns: Math.min(3, runs), budgetMs: 240_000 }, (line) => log(`[${pageKind}]${line}`));
      const backends = {};
      for (const [b, r] of Object.entries(raw.backends)) {
        const modes = {};
        for (const [m, t] of Object.entries(r.times ?? {})) {
          const s = summarize(t);
          if (s) modes[m] = { ...s, gflops: stepFlops(entry.shape) / (s.median * 1e6), times: t };
        }
        backends[b] = { modes, firstCallMs: r.checkedCallMs, check: r.check, error: r.error, skipped: r.skipped, about: r.about };
      }
      cases[entry.id] = { shape: entry.shape, flops: entry.flops, backends };
    }
    report.pages[pageKind] = { info, browser: await browser.version(), cases };
  } finally {
    await browser.close().catch(() => {});
    await server.close().catch(() => {});
  }
}
report.machine = { cpus: cpus().length, cpuModel: cpus()[0]?.model, loadAverage: { start: loadStart, end: loadavg()[0] } };
report.commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).stdout.trim();
report.targets = browserTargets(report);
await mkdir(dirname(outBase), { recursive: true });
await writeFile(`${outBase}.json`, `${JSON.stringify(report, null, 1)}\n`);
await writeFile(`${outBase}.md`, renderBrowserMarkdown(report));
for (const t of report.targets) log(`target ${t.status.toUpperCase().padEnd(6)} ${t.text}: ${t.detail}`);
log(`bench: wrote ${outBase}.{json,md}`);
process.exit(0);

// The Markdown report: the same figures as latest.json, as tables.
import { BACKENDS } from './cases.mjs';

const ms = (x) => (x == null ? '—' : x >= 1000 ? `${(x / 1000).toFixed(2)} s` : x >= 10 ? `${x.toFixed(0)} ms` : `${x.toFixed(2)} ms`);
const pct = (x) => (x == null ? '—' : `${(100 * x).toFixed(0)}%`);
const num = (x, d = 2) => (x == null || !Number.isFinite(x) ? '—' : x.toFixed(d));
const mib = (b) => (b == null ? '—' : `${(b / 2 ** 20).toFixed(2)} MiB`);
const flops = (f) => (f >= 1e9 ? `${(f / 1e9).toFixed(2)} GFLOP` : f >= 1e6 ? `${(f / 1e6).toFixed(1)} MFLOP` : `${(f / 1e3).toFixed(1)} kFLOP`);

function cell(b, mode) {
  if (!b) return 'not run';
  const m = b.modes?.[mode];
  if (m) return ms(m.median);
  if (b.refused) return 'refused';
  if (b.skipped) return b.checkedCallMs ? `skipped (1 call: ${ms(b.checkedCallMs)})` : 'skipped';
  return b.error ? `error` : '—';
}

function check(b) {
  if (b.error && !b.check) return `error: ${b.error.slice(0, 90)}`;
  if (!b.check) return 'reference';
  return b.check.ok ? `ok (${num(b.check.worst, 3)})` : `**MISMATCH** (${num(b.check.worst, 1)} at ${b.check.worstAt})`;
}

export function adapterLine(r) {
  const a = r.page.libraryAdapter ?? r.page.adapter;
  if (!a) return `none (${r.page.adapterError ?? 'unknown'})`;
  return `${a.vendor || '?'} ${a.architecture || '?'}${a.device ? ` (device ${a.device})` : ''}${a.description ? `, "${a.description}"` : ''}${a.isFallbackAdapter ? ', fallback adapter' : ''}`;
}

export function browserLine(r) {
  return `${r.browser.version}`;
}

function namedTable(c) {
  const rows = [
    `### ${c.label}`,
    '',
    `${flops(c.flops)} per step; ${c.runsUsed} timed runs per backend after the checked call and 1 warm-up.`,
    '',
    '| backend | mode | median | min – max | spread | × library-webgpu | GFLOP/s | of best GEMM | check vs CPU reference |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
  ];
  for (const name of BACKENDS) {
    const b = c.backends[name];
    if (!b) continue;
    if (Object.keys(b.modes).length === 0) {
      rows.push(`| ${name} | — | ${cell(b, c.modes[0])} | | | | | | ${b.skipped ?? check(b)} |`);
      continue;
    }
    for (const mode of c.modes) {
      const m = b.modes[mode];
      if (!m) continue;
      rows.push(
        `| ${name} | ${mode} | ${ms(m.median)} | ${ms(m.min)} – ${ms(m.max)} | ${pct(m.spread)} | ${m.vsLibraryWebgpu == null ? 'n/a' : `${num(m.vsLibraryWebgpu)}×`} | ${num(m.gflops, 3)} | ${pct(m.ofBestGemm)} | ${mode === c.modes[0] ? check(b) : ''} |`,
      );
    }
  }
  const notes = BACKENDS.filter((n) => c.backends[n]?.fewerRuns || c.backends[n]?.about).map((n) => {
    const b = c.backends[n];
    return `- ${n}: ${[b.fewerRuns, b.about].filter(Boolean).join('; ')}`;
  });
  if (notes.length) rows.push('', ...notes);
  return rows.join('\n');
}

const x2 = (v) => (v == null ? '—' : `${v.toFixed(2)}×`);

/** Lines for the console and the report: issue 13's tuned/default ratios and issue 10's gated cases. */
export function summaryLines(r) {
  const lines = [];
  for (const t of r.tunedVsDefault ?? []) {
    lines.push(`tuned/default ${t.case} ${t.mode}: ${ms(t.tunedMs)} / ${ms(t.defaultMs)} = ${t.ratio.toFixed(3)}${t.ratio <= 1 ? '' : ' (tuned slower)'}`);
  }
  for (const g of r.gated ?? []) {
    const steps = Object.entries(g.stepMs).map(([b, v]) => `${b} ${ms(v)}`).join(', ');
    lines.push(`${g.case} step: ${steps}`);
    lines.push(`${g.case}: tfjs-webgpu / library-webgpu = ${x2(g.tfjsWebgpuOverLibraryWebgpu)} (target >= 5x: ${g.target5x})`);
    if (g.libraryWasmSpeedup) lines.push(`${g.case}: library-wasm faster than ${Object.entries(g.libraryWasmSpeedup).map(([b, v]) => `${b} ${x2(v)}`).join(', ')}`);
    else lines.push(`${g.case}: library-wasm: ${g.libraryWasmNote}`);
  }
  return lines;
}

function tunedSection(r) {
  const rows = r.tunedVsDefault ?? [];
  if (rows.length === 0) return [];
  const out = [
    '## Tuned against default kernels (issue 13)',
    '',
    "`library-webgpu` runs `createEngine({ backend: 'webgpu', tuning: 'off' })` (the defaults); `library-webgpu-tuned` the same engine with `tuning: { mode: 'manual', budgetMs: 60000 }` and `engine.tune(model, batch, { loss })` before the case's first call (not timed). Ratio: tuned median over default median (at most 1: the tuned engine is no slower).",
    '',
    '| case | mode | default | tuned | tuned / default | tuned choice |',
    '| --- | --- | ---: | ---: | ---: | --- |',
  ];
  for (const t of rows) out.push(`| ${t.case} | ${t.mode} | ${ms(t.defaultMs)} | ${ms(t.tunedMs)} | ${t.ratio.toFixed(3)}${t.ratio > 1 ? ' (slower)' : ''} | ${t.choice ?? ''} |`);
  out.push('');
  return out;
}

function gatedSection(r) {
  const rows = r.gated ?? [];
  if (rows.length === 0) return [];
  const used = BACKENDS.filter((b) => rows.some((g) => b in g.stepMs));
  const out = [
    '## Gated cells (issue 10): training step per backend',
    '',
    `| case | ${used.join(' | ')} | tfjs-webgpu / library-webgpu (target ≥ 5×) |`,
    `| --- | ${used.map(() => '---:').join(' | ')} | ---: |`,
  ];
  for (const g of rows) out.push(`| ${g.case} | ${used.map((b) => ms(g.stepMs[b])).join(' | ')} | ${x2(g.tfjsWebgpuOverLibraryWebgpu)} (${g.target5x}) |`);
  out.push('');
  for (const g of rows) {
    if (g.libraryWasmSpeedup) out.push(`- ${g.case}: library-wasm's step against each other backend's (their time over its time): ${Object.entries(g.libraryWasmSpeedup).map(([b, v]) => `${b} ${x2(v)}`).join(', ')}`);
    else out.push(`- ${g.case}: library-wasm not timed: ${g.libraryWasmNote}`);
  }
  out.push('');
  return out;
}

function sweepTable(cases, group, letter, fits) {
  const list = cases.filter((c) => c.group === group).sort((a, b) => a.shape[letter] - b.shape[letter]);
  if (list.length === 0) return '';
  const used = BACKENDS.filter((b) => list.some((c) => c.backends[b]));
  const s = list[0].shape;
  const fixed = Object.entries({ T: s.T, B: s.B, d: s.d, h: s.h, q: s.q })
    .filter(([k]) => k !== letter)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  const rows = [
    `### Over ${letter} (${fixed}, ${s.loss}; training step, median)`,
    '',
    `| ${letter} | FLOPs | ${used.join(' | ')} |`,
    `| ---: | ---: | ${used.map(() => '---:').join(' | ')} |`,
  ];
  for (const c of list) rows.push(`| ${c.shape[letter]} | ${flops(c.flops)} | ${used.map((b) => cell(c.backends[b], 'step') + (c.backends[b]?.check && !c.backends[b].check.ok ? ' (mismatch)' : '')).join(' | ')} |`);
  if (fits) rows.push(`| fit R² | | ${used.map((b) => (fits[b] ? `${num(fits[b].r2, 4)}, slope ${ms(fits[b].b)}/step` : '—')).join(' | ')} |`);
  return rows.join('\n');
}

/** The compact table for the README: each named case's training step, median, and × library-webgpu. */
export function renderSummary(r) {
  const named = r.cases.filter((c) => c.group === 'named');
  const rows = [
    `Training step (forward, loss, every gradient, SGD update; loss read back), median of the timed runs, on ${adapterLine(r)} in ${browserLine(r)}; in brackets: time over library-webgpu's.`,
    '',
    `| case | ${BACKENDS.join(' | ')} |`,
    `| --- | ${BACKENDS.map(() => '---:').join(' | ')} |`,
  ];
  for (const c of named) {
    const cells = BACKENDS.map((b) => {
      const m = c.backends[b]?.modes.step;
      if (!m) return cell(c.backends[b], 'step');
      return `${ms(m.median)}${m.vsLibraryWebgpu == null || b === 'library-webgpu' ? '' : ` (${num(m.vsLibraryWebgpu)}×)`}`;
    });
    rows.push(`| ${c.id} (T=${c.shape.T} B=${c.shape.B} h=${c.shape.h}) | ${cells.join(' | ')} |`);
  }
  return rows.join('\n');
}

export function renderMarkdown(r) {
  const out = [];
  out.push(`# webgpu-bptt benchmark (${r.mode})`);
  out.push('');
  out.push(`- **Adapter**: ${adapterLine(r)}`);
  out.push(`- **Browser**: ${browserLine(r)}, headless, via puppeteer`);
  out.push(`- **TensorFlow.js**: ${r.page.tfjsVersion} (wasm: ${r.page.wasm.simd ? 'SIMD' : 'no SIMD'}, ${r.page.wasm.multithread ? 'multithreaded build' : 'single-threaded build'}, ${r.page.wasm.threads} thread${r.page.wasm.threads === 1 ? '' : 's'}; page cross-origin isolated: ${r.page.crossOriginIsolated})`);
  out.push(`- **Machine**: ${r.machine.cpus} × ${r.machine.cpuModel}, ${r.machine.platform}, Node ${r.machine.node}; 1-minute load average ${num(r.machine.loadAverage?.start, 1)} at the start, ${num(r.machine.loadAverage?.end, 1)} at the end (other work on the machine slows every backend alike, as runs are interleaved, but widens the spread)`);
  out.push(`- **Run**: ${r.startedAt}, ${(r.durationS / 60).toFixed(1)} min, commit ${r.commit}; every backend interleaved in one page, medians of the timed runs`);
  if (r.page.libraryWebgpuError) out.push(`- **library-webgpu**: not available in this build: ${r.page.libraryWebgpuError}`);
  out.push('');
  out.push('## Summary', '', renderSummary(r), '');
  out.push('## Targets (issue 4)');
  out.push('');
  out.push('| target | status | figures |');
  out.push('| --- | --- | --- |');
  for (const t of r.targets) out.push(`| ${t.text} | ${t.status === 'pass' ? 'pass' : t.status === 'fail' ? '**fail**' : 'n/a'} | ${t.detail} |`);
  out.push('');
  out.push(...gatedSection(r), ...tunedSection(r));
  out.push('## The two named cases');
  out.push('');
  out.push(
    '`gradients`: forward, loss and every parameter gradient, read back (this library: `engine.gradients`; TF.js: `tf.variableGrads` and `data()` of the loss and each gradient). ' +
      '`step`: one SGD update with only the loss read back (`trainer.step`; TF.js: `optimizer.minimize(f, true)`). ' +
      '× library-webgpu: this row\'s median over library-webgpu\'s (above 1 is slower). ' +
      `GFLOP/s: ${r.flopsFormula} over the median time; "of best GEMM" compares with the best square-GEMM rate on the same device (WebGPU rows: the adapter; CPU rows: TF.js wasm/cpu). ` +
      'Check: every gradient and the loss against the CPU reference, |got − ref| ≤ ' +
      `${r.tolerance.atolOfMax}·max|ref| + ${r.tolerance.rtol}·|ref|; the number is the worst ratio (≤ 1 passes).`,
  );
  for (const c of r.cases.filter((c) => c.group === 'named')) out.push('', namedTable(c));
  const counted = r.cases.filter((c) => c.backends['library-webgpu']?.stats);
  out.push('', '## Work and memory of library-webgpu per call', '');
  out.push('Dispatches and submits of that one call (`engine.stats()` after it); buffers and bytes the engine holds after it, pool included; the peak since the engine was created (one engine serves the whole page, the GEMM included).', '');
  if (counted.length === 0) out.push('n/a: no library-webgpu figures in this run.');
  else {
    out.push('| case | call | dispatches | submits | live buffers | live memory | peak device memory |', '| --- | --- | ---: | ---: | ---: | ---: | ---: |');
    for (const c of counted) {
      for (const [mode, s] of Object.entries(c.backends['library-webgpu'].stats)) out.push(`| ${c.id} | ${mode} | ${s.dispatches} | ${s.submits} | ${s.liveBuffers} | ${mib(s.liveBytes)} | ${mib(s.peakBytes)} |`);
    }
  }
  out.push('', '## How cost grows', '');
  out.push(sweepTable(r.cases, 'sweep-T', 'T', r.linearityInT), '');
  out.push(sweepTable(r.cases, 'sweep-h', 'h'), '');
  out.push(sweepTable(r.cases, 'sweep-B', 'B'), '');
  if (r.gemm) {
    out.push(`## Square GEMM, n = ${r.gemm.n} (${flops(r.gemm.flops)})`, '');
    out.push('| backend | median | min – max | GFLOP/s | timed |', '| --- | ---: | ---: | ---: | --- |');
    for (const [b, g] of Object.entries(r.gemm.backends)) {
      if (g.unavailable) out.push(`| ${b} | n/a | | ${g.unavailable} |`);
      else if (g.error) out.push(`| ${b} | error | | ${g.error.slice(0, 90)} |`);
      else out.push(`| ${b} | ${ms(g.median)} | ${ms(g.min)} – ${ms(g.max)} | ${num(g.gflops, 3)} | ${g.timing ?? ''} |`);
    }
    out.push('');
  }
  if (r.problems.length) {
    out.push('## Problems in this run', '');
    for (const p of r.problems) out.push(`- ${p}`);
    out.push('');
  }
  out.push('Raw samples of every run: `${r.outName}.json` beside this file. Chart: `${r.outName}.svg`. Reproduce: `npm run bench` (see bench/README.md).', '');
  return out.join('\n');
}

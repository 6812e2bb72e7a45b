// Figures and tables of issue 12's benchmark (bench/node-wasm.mjs, bench/wasm-run.mjs).
import { median } from './stats.mjs';

/**
 * Where the library's time went, from engine.phaseTimes() of each timed step (medians per phase):
 * recurrence = the forward steps and the reverse sweep; products = the products over all T*B rows
 * (input projection, output and loss, G = dO Wqh, weight gradients); other = transposes, norm, update.
 */
export function phaseShare(phases) {
  const m = (k) => median(phases.map((p) => p[k]));
  const recurrence = m('forwardRecurrence') + m('reverseSweep');
  const products = m('inputProjection') + m('outputAndLoss') + m('outputToHidden') + m('weightGradients');
  const other = m('transposes') + m('normClipUpdate');
  const total = recurrence + products + other;
  return { recurrence: recurrence / total, products: products / total, other: other / total, ms: { recurrence, products, other } };
}

const f1 = (x) => (x === undefined || x === null ? '-' : x.toFixed(1));
const f2 = (x) => (x === undefined || x === null ? '-' : x.toFixed(2));
const pct = (x) => `${(100 * x).toFixed(0)}%`;

/** Node targets: the library's wasm engine at least as fast as PyTorch at the same thread count, on char and d2l. */
export function nodeTargets(report) {
  const out = [];
  for (const id of ['char', 'd2l']) {
    const c = report.cases.find((x) => x.id === id);
    for (const n of [1, 2]) {
      const lib = c?.backends[`library-wasm-${n}`];
      const torch = c?.backends[`torch-${n}`];
      const text = `Node ${id}, ${n} thread${n > 1 ? 's' : ''}: library-wasm at least as fast as PyTorch's training step`;
      if (!lib?.median || !torch?.median) {
        out.push({ status: 'n/a', text, detail: c?.backends.torch?.skipped ?? 'not measured' });
        continue;
      }
      const ratio = torch.median / lib.median;
      out.push({ status: ratio >= 1 ? 'met' : 'missed', text, detail: `${f1(lib.median)} ms vs ${f1(torch.median)} ms (${f2(ratio)}x)` });
    }
  }
  return out;
}

export function renderNodeMarkdown(report) {
  const lines = [
    `# Issue 12 benchmark, Node: the 'wasm' engine against PyTorch and jax-js`,
    '',
    `\`${report.command}\` at ${report.startedAt}, commit ${report.commit}; ${report.machine.cpus} x ${report.machine.cpuModel}, Node ${report.machine.node}; load average ${f2(report.machine.loadAverage.start)} at the start, ${f2(report.machine.loadAverage.end)} at the end (other processes share these cores: compare rows of one run, which are interleaved).`,
    `PyTorch: ${report.torch.version ?? `skipped (${report.torch.skipped})`}. ${report.runs} timed training steps per backend (one SGD step, only the loss read back), after 2 warm-up steps; every backend's gradients checked against the float64 CPU reference first.`,
    '',
  ];
  for (const c of report.cases) {
    const s = c.shape;
    lines.push(`## ${c.id}: T=${s.T} B=${s.B} ${s.tokens ? `tokens over ${s.d}` : `d=${s.d}`} h=${s.h} q=${s.q}, ${s.loss}, ${(c.flops / 1e6).toFixed(0)} MFLOP a step`, '');
    lines.push('| backend | median ms | min | max | GFLOP/s | first call ms | check | recurrence / products / other |', '| --- | --- | --- | --- | --- | --- | --- | --- |');
    for (const [name, b] of Object.entries(c.backends)) {
      if (b.skipped) {
        lines.push(`| ${name} | skipped: ${b.skipped} | | | | | | |`);
        continue;
      }
      const share = b.share ? `${pct(b.share.recurrence)} / ${pct(b.share.products)} / ${pct(b.share.other)}` : '';
      const check = b.check ? (b.check.ok ? `ok (${b.check.worst.toFixed(3)})` : 'MISMATCH') : '';
      lines.push(`| ${name} | ${f1(b.median)} | ${f1(b.min)} | ${f1(b.max)} | ${f2(b.gflops)} | ${f1(b.firstCallMs)} | ${check} | ${share} |`);
    }
    lines.push('');
  }
  lines.push('## Targets', '');
  for (const t of nodeTargets(report)) lines.push(`- **${t.status}**: ${t.text}: ${t.detail}`);
  lines.push('');
  return lines.join('\n');
}

const med = (page, id, b, mode) => page?.cases[id]?.backends[b]?.modes[mode]?.median;

/** The browser targets of issue 12, per case and mode (gradients read back; a training step). */
export function browserTargets(report) {
  const out = [];
  const plain = report.pages.plain;
  const iso = report.pages.isolated;
  const ids = Object.keys((plain ?? iso)?.cases ?? {});
  const push = (text, ok, detail) => out.push({ status: ok === null ? 'n/a' : ok ? 'met' : 'missed', text, detail });
  for (const id of ids) {
    for (const mode of ['step', 'gradients']) {
      const where = `${id}, ${mode}`;
      {
        const lib = med(plain, id, 'library-wasm', mode);
        const jx = med(plain, id, 'jax-wasm', mode);
        push(`${where}: plain page (1 thread each): library-wasm at least as fast as jax-js wasm`, lib && jx ? jx / lib >= 1 : null, lib && jx ? `${f1(lib)} ms vs ${f1(jx)} ms (${f2(jx / lib)}x)` : 'not measured');
      }
      {
        const lib = med(iso, id, 'library-wasm', mode);
        const cands = ['jax-wasm', 'jax-webgpu'].map((b) => [b, med(iso, id, b, mode)]).filter(([, v]) => v);
        const best = cands.sort((a, b) => a[1] - b[1])[0];
        push(`${where}: isolated page: library-wasm (2 threads) at least 1.6x faster than jax-js's fastest configuration there`, lib && best ? best[1] / lib >= 1.6 : null, lib && best ? `${f1(lib)} ms vs ${best[0]} ${f1(best[1])} ms (${f2(best[1] / lib)}x)` : 'not measured');
      }
      for (const [name, page] of [['plain', plain], ['isolated', iso]]) {
        const lib = med(page, id, 'library-wasm', mode);
        const tf = med(page, id, 'tfjs-wasm', mode);
        push(`${where}: ${name} page: library-wasm at least 5x faster than tfjs-wasm`, lib && tf ? tf / lib >= 5 : null, lib && tf ? `${f1(lib)} ms vs ${f1(tf)} ms (${f2(tf / lib)}x)` : 'not measured');
        const others = Object.entries(page?.cases[id]?.backends ?? {}).filter(([b, r]) => b !== 'library-wasm' && r.modes[mode]);
        const fastest = others.map(([b, r]) => [b, r.modes[mode].median]).sort((a, b) => a[1] - b[1])[0];
        push(`${where}: ${name} page: library-wasm faster than every other backend of the page`, lib && fastest ? lib < fastest[1] : null, lib && fastest ? `${f1(lib)} ms; next fastest ${fastest[0]} ${f1(fastest[1])} ms (${f2(fastest[1] / lib)}x)` : 'not measured');
      }
    }
  }
  return out;
}

export function renderBrowserMarkdown(report) {
  const lines = [
    `# Issue 12 benchmark, headless Chromium: the 'wasm' engine against jax-js, TF.js and the other backends`,
    '',
    `\`${report.command}\` at ${report.startedAt}, commit ${report.commit}; ${report.machine.cpus} x ${report.machine.cpuModel}; load average ${f2(report.machine.loadAverage.start)} at the start, ${f2(report.machine.loadAverage.end)} at the end (other processes share these cores).`,
    'Times are medians of interleaved runs in one page (milliseconds, wall clock, results read back). `gradients`: loss and every parameter gradient read back; `step`: one SGD training step, only the loss read back. The first call (jax-js: trace and compile; WebGPU: pipeline creation) is reported apart and checked against the float64 CPU reference.',
    '',
  ];
  for (const [kind, page] of Object.entries(report.pages)) {
    lines.push(`## ${kind} page (crossOriginIsolated ${page.info.crossOriginIsolated}), ${page.browser}`, '');
    lines.push(`library-wasm: ${page.info.libraryWasm}. jax-js devices: ${(page.info.jaxDevices ?? []).join(', ')}. TF.js wasm: ${page.info.wasm.threads} thread(s), SIMD ${page.info.wasm.simd}.`, '');
    for (const [id, c] of Object.entries(page.cases)) {
      const s = c.shape;
      lines.push(`### ${id}: T=${s.T} B=${s.B} ${s.tokens ? `tokens over ${s.d}` : `d=${s.d}`} h=${s.h} q=${s.q}, ${s.loss}, ${(c.flops / 1e6).toFixed(0)} MFLOP`, '');
      lines.push('| backend | step ms | step GFLOP/s | gradients ms | gradients GFLOP/s | first call ms | check |', '| --- | --- | --- | --- | --- | --- | --- |');
      const rows = Object.entries(c.backends).sort((a, b) => (a[1].modes.step?.median ?? Infinity) - (b[1].modes.step?.median ?? Infinity));
      for (const [b, r] of rows) {
        const check = r.error ? `error: ${r.error}` : r.check ? (r.check.ok ? `ok (${r.check.worst.toFixed(3)})` : `MISMATCH ${r.check.mismatches[0]}`) : 'reference';
        const st = r.modes.step;
        const gr = r.modes.gradients;
        lines.push(`| ${b} | ${st ? f1(st.median) : r.skipped ? `not timed: ${r.skipped}` : '-'} | ${st ? f2(st.gflops) : '-'} | ${gr ? f1(gr.median) : '-'} | ${gr ? f2(gr.gflops) : '-'} | ${f1(r.firstCallMs)} | ${check} |`);
      }
      lines.push('');
    }
  }
  lines.push('## Targets', '');
  for (const t of report.targets) lines.push(`- **${t.status}**: ${t.text}: ${t.detail}`);
  lines.push('');
  return lines.join('\n');
}

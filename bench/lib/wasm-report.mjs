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

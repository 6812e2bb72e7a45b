// A hand-written SVG chart of the report's figures: the two named cases as bars
// (median, with the min-max of the runs as a whisker; log time axis) and the
// three sweeps as log-log lines of the training step's median time.
import { BACKENDS } from './cases.mjs';
import { adapterLine, browserLine } from './report-md.mjs';

export const COLORS = {
  'library-webgpu': '#d62728',
  'library-webgpu-tuned': '#e377c2',
  'library-wasm': '#8c564b',
  'jax-wasm': '#17becf',
  'jax-webgpu': '#bcbd22',
  'library-cpu': '#ff7f0e',
  'tfjs-webgpu': '#1f77b4',
  'tfjs-wasm': '#2ca02c',
  'tfjs-cpu': '#9467bd',
};

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const f1 = (x) => (Math.round(x * 10) / 10).toString();
const label = (x) => (x >= 1000 ? `${(x / 1000).toFixed(x >= 10000 ? 0 : 1)} s` : x >= 1 ? `${x.toFixed(x >= 10 ? 0 : 1)} ms` : `${x.toFixed(2)} ms`);

/** A log10 scale from [lo, hi] (widened to whole decades) onto [a, b]. */
function logScale(lo, hi, a, b) {
  const l0 = Math.floor(Math.log10(lo));
  const l1 = Math.max(l0 + 1, Math.ceil(Math.log10(hi)));
  const map = (v) => a + ((Math.log10(v) - l0) / (l1 - l0)) * (b - a);
  const ticks = [];
  for (let e = l0; e <= l1; e++) ticks.push(10 ** e);
  return { map, ticks };
}

function barPanel(c, x, y, w, h) {
  const out = [`<g transform="translate(${x},${y})">`, `<text x="0" y="0" class="t">${esc(c.label)}</text>`];
  const rows = [];
  for (const b of BACKENDS) {
    const r = c.backends[b];
    if (!r) continue;
    for (const mode of c.modes) rows.push({ b, mode, m: r.modes[mode], err: r.error, bad: r.check && !r.check.ok });
  }
  const values = rows.filter((r) => r.m).flatMap((r) => [r.m.min, r.m.max]);
  if (values.length === 0) return `${out.join('')}<text x="0" y="24" class="s">no figures</text></g>`;
  const left = 150;
  const top = 14;
  const rowH = Math.min(20, (h - top - 22) / rows.length);
  const { map, ticks } = logScale(Math.min(...values), Math.max(...values), left, w - 60);
  const bottom = top + rows.length * rowH;
  for (const t of ticks) {
    out.push(`<line x1="${f1(map(t))}" y1="${top}" x2="${f1(map(t))}" y2="${f1(bottom)}" class="g"/>`);
    out.push(`<text x="${f1(map(t))}" y="${f1(bottom + 12)}" class="s" text-anchor="middle">${label(t)}</text>`);
  }
  rows.forEach((r, i) => {
    const cy = top + i * rowH + rowH / 2;
    out.push(`<text x="${left - 6}" y="${f1(cy + 4)}" class="s" text-anchor="end">${esc(r.b)} · ${r.mode}</text>`);
    if (!r.m) {
      out.push(`<text x="${left + 4}" y="${f1(cy + 4)}" class="s err">${r.err ? 'error' : 'n/a'}</text>`);
      return;
    }
    const x1 = map(r.m.median);
    const op = r.mode === 'step' ? 1 : 0.45;
    out.push(`<rect x="${left}" y="${f1(cy - rowH * 0.35)}" width="${f1(Math.max(1, x1 - left))}" height="${f1(rowH * 0.7)}" fill="${COLORS[r.b]}" fill-opacity="${op}"/>`);
    out.push(`<line x1="${f1(map(r.m.min))}" y1="${f1(cy)}" x2="${f1(map(r.m.max))}" y2="${f1(cy)}" stroke="#222" stroke-width="1"/>`);
    out.push(`<text x="${f1(Math.max(x1, map(r.m.max)) + 4)}" y="${f1(cy + 4)}" class="s">${label(r.m.median)}${r.bad ? ' MISMATCH' : ''}</text>`);
  });
  out.push('</g>');
  return out.join('');
}

function linePanel(cases, group, letter, x, y, w, h) {
  const list = cases.filter((c) => c.group === group).sort((a, b) => a.shape[letter] - b.shape[letter]);
  const out = [`<g transform="translate(${x},${y})">`, `<text x="0" y="0" class="t">training step vs ${letter}</text>`];
  const series = BACKENDS.map((b) => ({ b, pts: list.map((c) => [c.shape[letter], c.backends[b]?.modes.step?.median]).filter(([, v]) => v) })).filter((s) => s.pts.length);
  if (series.length === 0) return `${out.join('')}<text x="0" y="24" class="s">no figures</text></g>`;
  const xs = list.map((c) => c.shape[letter]);
  const ys = series.flatMap((s) => s.pts.map((p) => p[1]));
  const left = 46;
  const top = 12;
  const bottom = h - 22;
  const lx0 = Math.log2(Math.min(...xs));
  const lx1 = Math.log2(Math.max(...xs));
  const mapX = (v) => (lx1 > lx0 ? left + 10 + ((Math.log2(v) - lx0) / (lx1 - lx0)) * (w - 28 - left) : (left + w) / 2);
  const { map: sy, ticks } = logScale(Math.min(...ys), Math.max(...ys), bottom, top);
  out.push(`<line x1="${left}" y1="${bottom}" x2="${w - 8}" y2="${bottom}" class="a"/><line x1="${left}" y1="${top}" x2="${left}" y2="${bottom}" class="a"/>`);
  for (const t of ticks) {
    out.push(`<line x1="${left}" y1="${f1(sy(t))}" x2="${w - 8}" y2="${f1(sy(t))}" class="g"/>`);
    out.push(`<text x="${left - 4}" y="${f1(sy(t) + 3)}" class="s" text-anchor="end">${label(t)}</text>`);
  }
  for (const v of xs) out.push(`<text x="${f1(mapX(v))}" y="${bottom + 13}" class="s" text-anchor="middle">${v}</text>`);
  for (const s of series) {
    out.push(`<polyline fill="none" stroke="${COLORS[s.b]}" stroke-width="1.8" points="${s.pts.map(([a, v]) => `${f1(mapX(a))},${f1(sy(v))}`).join(' ')}"/>`);
    for (const [a, v] of s.pts) out.push(`<circle cx="${f1(mapX(a))}" cy="${f1(sy(v))}" r="2.5" fill="${COLORS[s.b]}"/>`);
  }
  out.push('</g>');
  return out.join('');
}

export function renderSvg(r) {
  const W = 980;
  const H = 600;
  const named = r.cases.filter((c) => c.group === 'named');
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, sans-serif">`,
    '<style>.t{font-size:13px;font-weight:600}.s{font-size:10px;fill:#333}.err{fill:#b00}.g{stroke:#ddd;stroke-width:1}.a{stroke:#888;stroke-width:1}</style>',
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="16" y="22" font-size="15" font-weight="700">webgpu-bptt benchmark (${esc(r.mode)}): median time per call, log scale; whiskers: min-max of the timed runs</text>`,
    `<text x="16" y="40" class="s">adapter ${esc(adapterLine(r))} · ${esc(browserLine(r))} · TF.js ${esc(r.page.tfjsVersion)} · ${esc(r.startedAt)}</text>`,
  ];
  named.slice(0, 2).forEach((c, i) => parts.push(barPanel(c, 16 + i * 482, 66, 470, 250)));
  [['sweep-T', 'T'], ['sweep-h', 'h'], ['sweep-B', 'B']].forEach(([g, l], i) => parts.push(linePanel(r.cases, g, l, 16 + i * 322, 340, 310, 220)));
  BACKENDS.forEach((b, i) => {
    const lx = 16 + (i % 5) * 160; // two rows: nine backends do not fit one
    const ly = H - 38 + Math.floor(i / 5) * 16;
    parts.push(`<rect x="${lx}" y="${ly}" width="12" height="10" fill="${COLORS[b]}"/><text x="${lx + 16}" y="${ly + 9}" class="s">${b}</text>`);
  });
  parts.push(`<text x="${W - 16}" y="${H - 13}" class="s" text-anchor="end">bars: step solid, gradients pale</text>`);
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

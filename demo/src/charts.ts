// Hand-written SVG charts (no chart library): pure functions from data to
// SVG markup, so they can be checked in Node and drawn with innerHTML.

export interface Series {
  label: string;
  color: string;
  points: [number, number][]; // [x, y]; non-finite y values are skipped
  dashed?: boolean;
  width?: number;
  dots?: boolean;
  opacity?: number;
}

export interface LineChartOptions {
  width: number;
  height: number;
  series: Series[];
  xLabel: string;
  yLabel: string;
  yLog?: boolean; // log10 scale for y (y > 0 only)
  xDomain?: [number, number];
  yDomain?: [number, number];
  rightTicks?: (y: number) => string; // a second tick label on the right, at the same heights (e.g. perplexity = exp(loss))
  rightLabel?: string;
  legend?: boolean;
}

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** About `count` round tick values covering [min, max]. */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!(max > min)) return [min];
  const raw = (max - min) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) ticks.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return ticks;
}

export function formatTick(v: number): string {
  const a = Math.abs(v);
  if (a === 0) return '0';
  if (a >= 1e4 || a < 1e-3) return v.toExponential(0);
  return String(Number(v.toPrecision(3)));
}

function extent(values: number[], fallback: [number, number]): [number, number] {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return fallback;
  let lo = Math.min(...finite);
  let hi = Math.max(...finite);
  if (lo === hi) {
    lo -= 0.5;
    hi += 0.5;
  }
  return [lo, hi];
}

let chartCount = 0; // unique clip-path ids when several charts share a page

export function lineChart(o: LineChartOptions): string {
  const clipId = `plot-clip-${++chartCount}`;
  const { width: W, height: H } = o;
  const m = { left: 52, right: o.rightTicks ? 48 : 12, top: 10, bottom: 36 };
  // legend above the plot, wrapped into rows that fit the width
  const legendItems: string[] = [];
  if (o.legend !== false) {
    let x = m.left;
    let y = 12;
    for (const s of o.series) {
      if (!s.label) continue;
      const w = 28 + s.label.length * 6.2;
      if (x > m.left && x + w > W - m.right) {
        x = m.left;
        y += 16;
      }
      const dash = s.dashed ? ' stroke-dasharray="5 4"' : '';
      const opacity = s.opacity !== undefined ? ` stroke-opacity="${Math.max(0.6, s.opacity)}"` : '';
      legendItems.push(`<line x1="${x}" x2="${x + 16}" y1="${y}" y2="${y}" stroke="${s.color}" stroke-width="${s.dashed ? 1.6 : 3}"${dash}${opacity}/>`);
      legendItems.push(`<text x="${x + 20}" y="${y}" class="legend" dominant-baseline="middle">${escapeXml(s.label)}</text>`);
      x += w;
    }
    if (legendItems.length) m.top = y + 14;
  }
  const fy = (y: number) => (o.yLog ? Math.log10(y) : y);
  const xs = o.series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = o.series.flatMap((s) => s.points.map((p) => fy(p[1])));
  const [x0, x1] = o.xDomain ?? extent(xs, [0, 1]);
  let [y0, y1] = o.yDomain ? [fy(o.yDomain[0]), fy(o.yDomain[1])] : extent(ys, [0, 1]);
  if (!o.yDomain) {
    const pad = (y1 - y0) * 0.05;
    y0 -= pad;
    y1 += pad;
  }
  const px = (x: number) => m.left + ((x - x0) / (x1 - x0 || 1)) * (W - m.left - m.right);
  const py = (y: number) => H - m.bottom - ((y - y0) / (y1 - y0 || 1)) * (H - m.top - m.bottom);
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" class="chart" role="img">`);
  const yTicks = o.yLog ? niceTicks(Math.ceil(y0), Math.floor(y1), 6).filter((v) => Number.isInteger(v)) : niceTicks(y0, y1, 5);
  for (const v of yTicks) {
    const y = py(v).toFixed(1);
    parts.push(`<line x1="${m.left}" x2="${W - m.right}" y1="${y}" y2="${y}" class="grid"/>`);
    const label = o.yLog ? `1e${v}` : formatTick(v);
    parts.push(`<text x="${m.left - 6}" y="${y}" class="tick" text-anchor="end" dominant-baseline="middle">${label}</text>`);
    if (o.rightTicks) parts.push(`<text x="${W - m.right + 6}" y="${y}" class="tick" dominant-baseline="middle">${escapeXml(o.rightTicks(v))}</text>`);
  }
  for (const v of niceTicks(x0, x1, Math.max(3, Math.floor(W / 90)))) {
    const x = px(v).toFixed(1);
    parts.push(`<line x1="${x}" x2="${x}" y1="${H - m.bottom}" y2="${H - m.bottom + 4}" class="axis"/>`);
    parts.push(`<text x="${x}" y="${H - m.bottom + 15}" class="tick" text-anchor="middle">${formatTick(v)}</text>`);
  }
  parts.push(`<rect x="${m.left}" y="${m.top}" width="${W - m.left - m.right}" height="${H - m.top - m.bottom}" class="frame"/>`);
  parts.push(`<text x="${(m.left + W - m.right) / 2}" y="${H - 4}" class="label" text-anchor="middle">${escapeXml(o.xLabel)}</text>`);
  parts.push(`<text transform="translate(12 ${(m.top + H - m.bottom) / 2}) rotate(-90)" class="label" text-anchor="middle">${escapeXml(o.yLabel)}</text>`);
  if (o.rightLabel) {
    parts.push(`<text transform="translate(${W - 6} ${(m.top + H - m.bottom) / 2}) rotate(90)" class="label" text-anchor="middle">${escapeXml(o.rightLabel)}</text>`);
  }
  parts.push(`<clipPath id="${clipId}"><rect x="${m.left}" y="${m.top}" width="${W - m.left - m.right}" height="${H - m.top - m.bottom}"/></clipPath>`);
  parts.push(`<g clip-path="url(#${clipId})">`);
  for (const s of o.series) {
    const pts = s.points.filter((p) => Number.isFinite(fy(p[1])));
    if (pts.length === 0) continue;
    const d = pts.map((p, i) => `${i ? 'L' : 'M'}${px(p[0]).toFixed(1)} ${py(fy(p[1])).toFixed(1)}`).join('');
    const dash = s.dashed ? ' stroke-dasharray="5 4"' : '';
    const opacity = s.opacity !== undefined ? ` stroke-opacity="${s.opacity}"` : '';
    parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="${s.width ?? 1.8}"${dash}${opacity} stroke-linejoin="round"/>`);
    if (s.dots) for (const p of pts) parts.push(`<circle cx="${px(p[0]).toFixed(1)}" cy="${py(fy(p[1])).toFixed(1)}" r="2.2" fill="${s.color}"/>`);
  }
  parts.push('</g>');
  parts.push(...legendItems);
  parts.push('</svg>');
  return parts.join('');
}

export interface Bar {
  label: string;
  values: { name: string; value: number; color: string }[];
}

/** Horizontal grouped bars with their values written beside them. */
export function barChart(bars: Bar[], o: { width: number; xLabel: string }): string {
  const rowH = 18;
  const groupGap = 14;
  const above = o.width < 460; // narrow: each group's label on a line of its own, above its bars
  const labelW = above ? 4 : Math.min(170, o.width * 0.38);
  const labelH = above ? 16 : 0;
  const top = 8;
  const H = top + bars.reduce((s, b) => s + labelH + b.values.length * rowH + groupGap, 0) + 24;
  const max = Math.max(1e-12, ...bars.flatMap((b) => b.values.map((v) => v.value)).filter(Number.isFinite));
  const plotW = o.width - labelW - 84; // room for the value written after the longest bar
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${o.width} ${H}" class="chart" role="img">`];
  let y = top;
  for (const b of bars) {
    const gh = b.values.length * rowH;
    if (above) {
      parts.push(`<text x="0" y="${y + labelH / 2}" class="label" dominant-baseline="middle">${escapeXml(b.label)}</text>`);
      y += labelH;
    } else {
      parts.push(`<text x="${labelW - 8}" y="${y + gh / 2}" class="label" text-anchor="end" dominant-baseline="middle">${escapeXml(b.label)}</text>`);
    }
    for (const v of b.values) {
      const w = Number.isFinite(v.value) ? (v.value / max) * plotW : 0;
      parts.push(`<rect x="${labelW}" y="${y + 2}" width="${Math.max(0.5, w).toFixed(1)}" height="${rowH - 4}" fill="${v.color}" rx="2"/>`);
      parts.push(`<text x="${labelW + w + 5}" y="${y + rowH / 2}" class="tick" dominant-baseline="middle">${escapeXml(v.name)} ${formatTick(v.value)}</text>`);
      y += rowH;
    }
    y += groupGap;
  }
  if (!above) parts.push(`<line x1="${labelW}" x2="${labelW}" y1="${top}" y2="${y - groupGap + 2}" class="axis"/>`);
  parts.push(`<text x="${labelW + plotW / 2}" y="${H - 6}" class="label" text-anchor="middle">${escapeXml(o.xLabel)}</text>`);
  parts.push('</svg>');
  return parts.join('');
}

/** A perceptual colour ramp (viridis, 7 stops) for u in [0, 1]: [r, g, b] 0-255. */
export function viridis(u: number): [number, number, number] {
  const stops: [number, number, number][] = [
    [68, 1, 84],
    [70, 50, 127],
    [54, 92, 141],
    [39, 127, 142],
    [31, 161, 135],
    [74, 194, 109],
    [159, 218, 58],
    [253, 231, 37],
  ];
  const x = Math.min(1, Math.max(0, Number.isFinite(u) ? u : 0)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  return [0, 1, 2].map((k) => Math.round(stops[i][k] + f * (stops[i + 1][k] - stops[i][k]))) as [number, number, number];
}

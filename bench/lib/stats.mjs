// Summaries of timing samples: the median and the spread of the runs.

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** { n, median, min, max, spread }: spread is (max - min) / median. */
export function summarize(samples) {
  if (!samples || samples.length === 0) return null;
  const med = median(samples);
  const min = Math.min(...samples);
  const max = Math.max(...samples);
  return { n: samples.length, median: med, min, max, spread: med > 0 ? (max - min) / med : 0 };
}

/** Least-squares line y = a + b x; returns { a, b, r2 }. */
export function linearFit(xs, ys) {
  const n = xs.length;
  const mx = xs.reduce((s, x) => s + x, 0) / n;
  const my = ys.reduce((s, y) => s + y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i] - mx) * (ys[i] - my);
    sxx += (xs[i] - mx) ** 2;
    syy += (ys[i] - my) ** 2;
  }
  const b = sxx > 0 ? sxy / sxx : 0;
  const a = my - b * mx;
  const r2 = syy > 0 ? (sxy * sxy) / (sxx * syy) : 1;
  return { a, b, r2 };
}

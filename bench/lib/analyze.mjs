// Turns the page's raw samples into the reported figures: medians and spreads,
// ratios against this library's WebGPU time, effective GFLOP/s and their
// fraction of the best GEMM rate, and the four targets.
import { BACKENDS } from './cases.mjs';
import { linearFit, summarize } from './stats.mjs';

const GPU_BACKENDS = ['library-webgpu', 'library-webgpu-tuned', 'tfjs-webgpu', 'jax-webgpu'];
const CPU_BACKENDS = ['library-cpu', 'library-wasm', 'tfjs-wasm', 'tfjs-cpu', 'jax-wasm'];

/** Best GEMM GFLOP/s among `backends`, or null. */
function bestGemm(gemm, backends) {
  let best = null;
  for (const b of backends) {
    const g = gemm?.backends[b]?.gflops;
    if (g && (!best || g > best.gflops)) best = { backend: b, gflops: g };
  }
  return best;
}

export function analyzeGemm(entry, raw) {
  const n = raw.n;
  const backends = {};
  for (const [b, r] of Object.entries(raw.backends)) {
    const s = summarize(r.times);
    backends[b] = { ...r, ...(s ?? {}), gflops: s ? entry.flops / (s.median * 1e6) : null };
  }
  const out = { id: entry.id, label: entry.label, n, flops: entry.flops, backends };
  out.bestOnAdapter = bestGemm(out, GPU_BACKENDS);
  out.bestOnCpu = bestGemm(out, CPU_BACKENDS);
  return out;
}

export function analyzeCase(entry, raw, gemm) {
  const out = {
    id: entry.id,
    group: entry.group,
    label: entry.label,
    shape: entry.shape,
    flops: entry.flops,
    modes: entry.spec.modes,
    runsUsed: raw?.runsUsed ?? 0,
    elapsedS: raw ? raw.elapsedMs / 1000 : 0,
    backends: {},
  };
  if (!raw) return out;
  const adapterBest = bestGemm(gemm, GPU_BACKENDS);
  const cpuBest = bestGemm(gemm, CPU_BACKENDS);
  for (const b of BACKENDS) {
    const r = raw.backends[b];
    if (!r) continue;
    const modes = {};
    for (const mode of entry.spec.modes) {
      const s = summarize(r.times[mode]);
      if (!s) continue;
      const gflops = entry.flops / (s.median * 1e6);
      const best = GPU_BACKENDS.includes(b) ? adapterBest : cpuBest;
      modes[mode] = { samples: r.times[mode], ...s, gflops, ofBestGemm: best ? gflops / best.gflops : null };
    }
    out.backends[b] = { error: r.error, skipped: r.skipped, refused: r.refused, fewerRuns: r.fewerRuns, about: r.about, checkedCallMs: r.checkedCallMs, check: r.check, stats: r.stats, modes };
  }
  for (const mode of entry.spec.modes) {
    const lib = out.backends['library-webgpu']?.modes[mode]?.median;
    for (const b of Object.values(out.backends)) if (b.modes[mode]) b.modes[mode].vsLibraryWebgpu = lib ? b.modes[mode].median / lib : null;
  }
  return out;
}

const med = (c, b, mode) => c?.backends[b]?.modes[mode]?.median ?? null;

/** The four targets of issue 4, each { id, text, status: 'pass' | 'fail' | 'n/a', detail }. */
export function evaluateTargets(cases, gemm) {
  const named = ['char', 'dense'].map((id) => cases.find((c) => c.id === id));
  const targets = [];
  if (!named.some(Boolean) && !cases.some((c) => c.group === 'sweep-T')) {
    // a run narrowed with --cases to other cases (the gated ones): say so rather than list missing figures
    const none = (id, text) => ({ id, text, status: 'n/a', detail: 'not in this run (char, dense and the T sweep were not among --cases)' });
    return [
      none('step-vs-tfjs-webgpu', 'training step >= 5x faster than TF.js webgpu (char, dense)'),
      none('char-vs-gemm', "char case's effective GFLOP/s >= 80% of the adapter's best large-GEMM rate"),
      none('linear-in-T', 'time grows linearly in T (R² >= 0.98, exponent <= 1.2 at the top)'),
      none('cpu-vs-tfjs-cpu', 'CPU reference at least as fast as TF.js cpu (char, dense; tfjs-cpu time / library-cpu time)'),
    ];
  }

  {
    const parts = [];
    let status = 'pass';
    for (const c of named) {
      const lib = med(c, 'library-webgpu', 'step');
      const tf = med(c, 'tfjs-webgpu', 'step');
      if (!c || !lib || !tf) {
        status = 'n/a';
        parts.push(`${c?.id ?? '?'}: no figure`);
        continue;
      }
      const x = tf / lib;
      if (x < 5 && status !== 'n/a') status = 'fail';
      parts.push(`${c.id}: ${x.toFixed(2)}x`);
    }
    targets.push({ id: 'step-vs-tfjs-webgpu', text: 'training step >= 5x faster than TF.js webgpu (char, dense)', status, detail: parts.join('; ') });
  }

  {
    const c = named[0];
    const best = bestGemm(gemm, GPU_BACKENDS);
    const rate = c?.backends['library-webgpu']?.modes.step?.gflops;
    let status = 'n/a';
    let detail = 'no figure';
    if (rate && best) {
      const f = rate / best.gflops;
      status = f >= 0.8 ? 'pass' : 'fail';
      detail = `${rate.toFixed(3)} GFLOP/s = ${(100 * f).toFixed(0)}% of ${best.gflops.toFixed(3)} GFLOP/s (${best.backend} GEMM n=${gemm.n})`;
    } else if (best) detail = `best GEMM ${best.gflops.toFixed(3)} GFLOP/s (${best.backend}); no library-webgpu figure`;
    targets.push({ id: 'char-vs-gemm', text: "char case's effective GFLOP/s >= 80% of the adapter's best large-GEMM rate", status, detail });
  }

  {
    const fits = linearityInT(cases);
    const lib = fits['library-webgpu'];
    let status = 'n/a';
    let detail = 'no figure';
    if (lib) {
      status = lib.r2 >= 0.98 && lib.lastExponent <= 1.2 ? 'pass' : 'fail';
      detail = `library-webgpu: R² ${lib.r2.toFixed(4)} of t = a + b·T, exponent ${lib.lastExponent.toFixed(2)} between the two largest T`;
    }
    const others = Object.entries(fits)
      .filter(([b]) => b !== 'library-webgpu')
      .map(([b, f]) => `${b} R² ${f.r2.toFixed(3)}`);
    if (others.length) detail += ` (${others.join(', ')})`;
    targets.push({ id: 'linear-in-T', text: 'time grows linearly in T (R² >= 0.98, exponent <= 1.2 at the top)', status, detail });
  }

  {
    const parts = [];
    let status = 'pass';
    for (const c of named) {
      for (const mode of c?.modes ?? ['gradients']) {
        const lib = med(c, 'library-cpu', mode);
        const tf = med(c, 'tfjs-cpu', mode);
        if (!lib || !tf) {
          status = 'n/a';
          parts.push(`${c?.id ?? '?'} ${mode}: no figure`);
          continue;
        }
        if (lib > tf && status !== 'n/a') status = 'fail';
        parts.push(`${c.id} ${mode}: ${(tf / lib).toFixed(2)}x`);
      }
    }
    targets.push({ id: 'cpu-vs-tfjs-cpu', text: 'CPU reference at least as fast as TF.js cpu (char, dense; tfjs-cpu time / library-cpu time)', status, detail: parts.join('; ') });
  }
  return targets;
}

/** Per backend, the straight-line fit of step time against T over the T sweep. */
export function linearityInT(cases) {
  const sweep = cases.filter((c) => c.group === 'sweep-T').sort((a, b) => a.shape.T - b.shape.T);
  const fits = {};
  for (const b of BACKENDS) {
    const pts = sweep.map((c) => [c.shape.T, med(c, b, 'step')]).filter(([, y]) => y);
    if (pts.length < 3) continue;
    const fit = linearFit(pts.map((p) => p[0]), pts.map((p) => p[1]));
    const [[T1, t1], [T2, t2]] = pts.slice(-2);
    fits[b] = { ...fit, lastExponent: Math.log(t2 / t1) / Math.log(T2 / T1), points: pts };
  }
  return fits;
}

/**
 * Issue 13: per named case and mode, library-webgpu-tuned's median over
 * library-webgpu's (tuning 'off'); at most 1 means the tuned engine is no slower.
 */
export function tunedVsDefault(cases) {
  const rows = [];
  for (const c of cases.filter((x) => x.group === 'named')) {
    const tuned = c.backends['library-webgpu-tuned'];
    if (!tuned) continue;
    for (const mode of c.modes) {
      const d = med(c, 'library-webgpu', mode);
      const t = med(c, 'library-webgpu-tuned', mode);
      if (!d || !t) continue;
      rows.push({ case: c.id, mode, defaultMs: d, tunedMs: t, ratio: t / d, choice: tuned.about ?? null });
    }
  }
  return rows;
}

/**
 * Issue 10's gated cases (lstm, gru): each backend's training step, the ratio
 * tfjs-webgpu : library-webgpu (target >= 5) and library-wasm against every
 * other backend (above 1: library-wasm is faster).
 */
export function gatedSummary(cases) {
  const out = [];
  for (const c of cases.filter((x) => x.id === 'lstm' || x.id === 'gru')) {
    const step = {};
    for (const [b, r] of Object.entries(c.backends)) step[b] = r.modes.step?.median ?? null;
    const lib = step['library-webgpu'];
    const tf = step['tfjs-webgpu'];
    const wasm = step['library-wasm'];
    const wasmVs = {};
    if (wasm) for (const [b, ms] of Object.entries(step)) if (b !== 'library-wasm' && ms) wasmVs[b] = ms / wasm;
    out.push({
      case: c.id,
      stepMs: step,
      tfjsWebgpuOverLibraryWebgpu: lib && tf ? tf / lib : null,
      target5x: lib && tf ? (tf / lib >= 5 ? 'pass' : 'fail') : 'n/a',
      libraryWasmSpeedup: wasm ? wasmVs : null,
      libraryWasmNote: wasm ? null : (c.backends['library-wasm']?.skipped ?? c.backends['library-wasm']?.error ?? 'not run'),
    });
  }
  return out;
}

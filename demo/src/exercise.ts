// The chapter's exercise, made runnable: powers of W_hh decide whether
// gradients vanish or explode, and truncation trades bias for variance.
//
// 1. Spectral radius. A linear RNN (identity activation, no biases) with
//    W_hh = r * M, M a random orthogonal matrix (every |eigenvalue| = 1) or a
//    random symmetric one scaled to spectral radius 1. The loss reaches only
//    the last step (loss 'none', dO nonzero at t = T only) and W_qh = I, so
//    dL/dh_t = (W_hh^T)^(T-t) dO_T: ||dL/dh_t|| = r^(T-t) ||dO_T|| exactly for
//    the orthogonal M, and asymptotically (far from T, where the top
//    eigenvalue dominates) for the symmetric one. Axis convention: x is t,
//    y is log ||dL/dh_t||, so the fitted slope is -log r.
// 2. Truncation. Gradients of a linear RNN on the corpus under chunked,
//    window and randomized truncation against the full gradient: the relative
//    bias ||E[g_s] - g|| / ||g|| and spread sqrt(E||g_s - E[g_s]||^2) / ||g||,
//    the expectation over many randomized draws (different seeds).
import type { Batch, Engine, GradientResult, RnnModel, Truncation } from '../../src/index.js';
import { makeRng } from '../../src/index.js';

export type MatrixKind = 'orthogonal' | 'symmetric';

/** n x n standard normal entries (row-major) from a seeded generator (Box-Muller). */
export function gaussianMatrix(n: number, seed: number): Float64Array {
  const rng = makeRng(seed);
  const M = new Float64Array(n * n);
  for (let i = 0; i < n * n; i++) {
    const u = 1 - rng();
    const v = rng();
    M[i] = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
  return M;
}

/** Q of the QR factorisation of a seeded Gaussian matrix (modified Gram-Schmidt on its columns). */
export function orthogonalMatrix(n: number, seed: number): Float64Array {
  const Q = gaussianMatrix(n, seed);
  for (let j = 0; j < n; j++) {
    for (let k = 0; k < j; k++) {
      let dot = 0;
      for (let i = 0; i < n; i++) dot += Q[i * n + j] * Q[i * n + k];
      for (let i = 0; i < n; i++) Q[i * n + j] -= dot * Q[i * n + k];
    }
    let norm = 0;
    for (let i = 0; i < n; i++) norm += Q[i * n + j] ** 2;
    norm = Math.sqrt(norm);
    for (let i = 0; i < n; i++) Q[i * n + j] /= norm;
  }
  return Q;
}

/** y = M x for a row-major n x n M. */
export function matVec(M: ArrayLike<number>, x: ArrayLike<number>, n: number): Float64Array {
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < n; j++) s += M[i * n + j] * x[j];
    y[i] = s;
  }
  return y;
}

/** max |lambda| of a symmetric matrix: power iteration on M^2 (whose top eigenvalue is lambda_max^2 >= 0). */
export function spectralRadiusSymmetric(M: ArrayLike<number>, n: number, iterations = 3000): number {
  let x: Float64Array = new Float64Array(n).fill(1 / Math.sqrt(n));
  x[0] += 0.1; // off any symmetric subspace
  let rho2 = 0;
  for (let k = 0; k < iterations; k++) {
    const y = matVec(M, matVec(M, x, n), n);
    let norm = 0;
    for (let i = 0; i < n; i++) norm += y[i] * y[i];
    norm = Math.sqrt(norm);
    rho2 = norm; // ||M^2 x|| with ||x|| = 1
    if (norm === 0) return 0;
    for (let i = 0; i < n; i++) y[i] /= norm;
    x = y;
  }
  return Math.sqrt(rho2);
}

/** (G + G^T) / 2 of a seeded Gaussian G, scaled to spectral radius 1. */
export function symmetricMatrix(n: number, seed: number): Float64Array {
  const G = gaussianMatrix(n, seed);
  const S = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) S[i * n + j] = (G[i * n + j] + G[j * n + i]) / 2;
  const rho = spectralRadiusSymmetric(S, n);
  for (let i = 0; i < n * n; i++) S[i] /= rho;
  return S;
}

/** W_hh = radius * M, M orthogonal or symmetric with spectral radius 1. [n, n] */
export function recurrentMatrix(kind: MatrixKind, n: number, radius: number, seed: number): Float32Array {
  const M = kind === 'orthogonal' ? orthogonalMatrix(n, seed) : symmetricMatrix(n, seed);
  return Float32Array.from(M, (v) => radius * v);
}

/** Least-squares line y = slope * x + intercept. */
export function fitLine(xs: ArrayLike<number>, ys: ArrayLike<number>): { slope: number; intercept: number } {
  const m = xs.length;
  let sx = 0;
  let sy = 0;
  for (let i = 0; i < m; i++) {
    sx += xs[i];
    sy += ys[i];
  }
  const mx = sx / m;
  const my = sy / m;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < m; i++) {
    sxy += (xs[i] - mx) * (ys[i] - my);
    sxx += (xs[i] - mx) ** 2;
  }
  const slope = sxy / sxx;
  return { slope, intercept: my - slope * mx };
}

export interface SpectralOptions {
  hiddenSize: number; // n
  steps: number; // T
  kind: MatrixKind;
  seed: number;
}

export interface SpectralCurve {
  radius: number;
  logNorms: Float64Array; // [T]: log ||dL/dh_t|| for t = 1..T (natural log)
  slope: number; // fitted slope of logNorms against t, over the fitted range
  intercept: number;
  expectedSlope: number; // -log(radius): the eigenvalue power law
  fitFrom: number; // fitted over t = fitFrom..fitTo (1-based)
  fitTo: number;
}

/** The linear RNN of the exercise and a batch whose loss reaches only h_T. */
export function spectralProblem(radius: number, options: SpectralOptions): { model: RnnModel; batch: Batch } {
  const { hiddenSize: n, steps: T, kind, seed } = options;
  const Wqh = new Float32Array(n * n);
  for (let i = 0; i < n; i++) Wqh[i * n + i] = 1; // W_qh = I, so dL/dh_T = dO_T
  const model: RnnModel = {
    inputSize: 1,
    hiddenSize: n,
    outputSize: n,
    activation: 'identity',
    Whx: new Float32Array(n), // [n, 1]: the inputs play no part in dL/dh_t
    Whh: recurrentMatrix(kind, n, radius, seed),
    Wqh,
  };
  const dO = new Float32Array(T * n); // [T, 1, n], nonzero at t = T only: a random unit vector
  const g = gaussianMatrix(n, seed + 7919).subarray(0, n);
  const norm = Math.hypot(...g);
  for (let i = 0; i < n; i++) dO[(T - 1) * n + i] = g[i] / norm;
  return { model, batch: { steps: T, batchSize: 1, x: new Float32Array(T), dO } };
}

/**
 * log ||dL/dh_t|| for each radius, computed by the library (gradNormPerStep),
 * with the least-squares slope. The fit covers the half of the steps farthest
 * from the loss (t <= T/2), where for a symmetric M the top eigenvalue has
 * taken over; for an orthogonal M the law is exact at every t.
 */
export async function spectralCurves(engine: Engine, radii: number[], options: SpectralOptions): Promise<SpectralCurve[]> {
  const T = options.steps;
  const fitFrom = 1;
  const fitTo = Math.max(2, Math.floor(T / 2));
  const curves: SpectralCurve[] = [];
  for (const radius of radii) {
    const { model, batch } = spectralProblem(radius, options);
    const r = await engine.gradients(model, batch, { loss: 'none', gradNormPerStep: true });
    const logNorms = Float64Array.from(r.gradNormPerStep!, (v) => Math.log(v));
    const ts = Array.from({ length: fitTo - fitFrom + 1 }, (_, i) => fitFrom + i);
    const { slope, intercept } = fitLine(ts, ts.map((t) => logNorms[t - 1]));
    curves.push({ radius, logNorms, slope, intercept, expectedSlope: -Math.log(radius), fitFrom, fitTo });
  }
  return curves;
}

/** Every parameter gradient in one vector (float64). */
export function flatGradient(r: GradientResult): Float64Array {
  const parts = [r.dWhx, r.dWhh, r.dWqh, r.dbh, r.dbq].filter((a): a is Float32Array => a !== undefined);
  const out = new Float64Array(parts.reduce((s, a) => s + a.length, 0));
  let o = 0;
  for (const a of parts) {
    out.set(a, o);
    o += a.length;
  }
  return out;
}

function distance(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return Math.sqrt(s);
}

function norm(a: Float64Array): number {
  return distance(a, new Float64Array(a.length));
}

export interface StrategyStats {
  name: 'chunked' | 'window' | 'randomized';
  label: string;
  bias: number; // ||E[g_s] - g|| / ||g||
  spread: number; // sqrt(E ||g_s - E[g_s]||^2) / ||g||; 0 for the deterministic strategies
  draws: number;
}

export interface TruncationComparison {
  gradNorm: number; // ||g|| of the full gradient
  strategies: StrategyStats[];
  runningError: Float64Array; // [draws]: ||mean of the first n randomized gradients - g|| / ||g||
  expectedError: Float64Array; // [draws]: spread / sqrt(n), what an unbiased estimator's running error follows
  exampleXi: Float32Array; // xi_1..xi_T of the first randomized draw
}

export interface TruncationOptions {
  loss: 'cross-entropy';
  tau: number; // chunked and window length
  keepProbability: number; // pi of randomized truncation
  draws: number; // randomized draws (seeds seed, seed + 1, ...)
  seed: number;
  onDraw?: (n: number) => void; // progress
}

/** The three truncation strategies against the full gradient on one model and batch. */
export async function compareTruncations(engine: Engine, model: RnnModel, batch: Batch, options: TruncationOptions): Promise<TruncationComparison> {
  const run = async (truncation: Truncation) => engine.gradients(model, batch, { loss: options.loss, truncation });
  const full = flatGradient(await run({ kind: 'full' }));
  const gNorm = norm(full);
  const chunked = flatGradient(await run({ kind: 'chunked', steps: options.tau }));
  const windowed = flatGradient(await run({ kind: 'window', steps: options.tau }));
  const draws: Float64Array[] = [];
  const mean = new Float64Array(full.length);
  const runningError = new Float64Array(options.draws);
  let exampleXi: Float32Array = new Float32Array(batch.steps);
  for (let n = 0; n < options.draws; n++) {
    const r = await run({ kind: 'randomized', keepProbability: options.keepProbability, seed: options.seed + n });
    if (n === 0 && r.xi) exampleXi = r.xi;
    const g = flatGradient(r);
    draws.push(g);
    for (let i = 0; i < g.length; i++) mean[i] += (g[i] - mean[i]) / (n + 1);
    runningError[n] = distance(mean, full) / gNorm;
    options.onDraw?.(n + 1);
  }
  let variance = 0;
  for (const g of draws) variance += distance(g, mean) ** 2;
  variance /= Math.max(1, draws.length - 1);
  const spread = Math.sqrt(variance) / gNorm;
  const tau = options.tau;
  return {
    gradNorm: gNorm,
    strategies: [
      { name: 'chunked', label: `chunked (tau = ${tau})`, bias: distance(chunked, full) / gNorm, spread: 0, draws: 1 },
      { name: 'window', label: `window (tau = ${tau})`, bias: distance(windowed, full) / gNorm, spread: 0, draws: 1 },
      { name: 'randomized', label: `randomized (pi = ${options.keepProbability})`, bias: runningError[options.draws - 1], spread, draws: options.draws },
    ],
    runningError,
    expectedError: Float64Array.from(runningError, (_, n) => spread / Math.sqrt(n + 1)),
    exampleXi,
  };
}

/**
 * The linear RNN of the truncation comparison: token inputs and outputs
 * (d = q = vocab), W_hh = radius * M, W_hx and W_qh Gaussian, identity activation, no biases.
 */
export function linearTokenModel(vocab: number, n: number, radius: number, kind: MatrixKind, seed: number): RnnModel {
  const Whx = gaussianMatrix(Math.max(n, vocab), seed + 1);
  const Wqh = gaussianMatrix(Math.max(n, vocab), seed + 2);
  return {
    inputSize: vocab,
    hiddenSize: n,
    outputSize: vocab,
    activation: 'identity',
    Whx: Float32Array.from(Whx.subarray(0, n * vocab), (v) => v * 0.5),
    Whh: recurrentMatrix(kind, n, radius, seed),
    Wqh: Float32Array.from(Wqh.subarray(0, vocab * n), (v) => v / Math.sqrt(n)),
  };
}

/** Where each strategy cuts the first T tokens (the chapter's figure): segment lengths, left to right. */
export function segmentLengths(xi: ArrayLike<number>): number[] {
  const lengths: number[] = [];
  let run = 0;
  for (let t = 0; t < xi.length; t++) {
    if (t > 0 && xi[t] === 0) {
      lengths.push(run);
      run = 0;
    }
    run++;
  }
  lengths.push(run);
  return lengths;
}

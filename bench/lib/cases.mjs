// The benchmark plan: the two named cases of issue 4, the sweeps over T, h and
// B, the large GEMM, and the tiny versions of each for --quick. The FLOP count
// of a case lives here, once, and travels to the report.

export const BACKENDS = ['library-webgpu', 'library-wasm', 'library-cpu', 'tfjs-webgpu', 'tfjs-wasm', 'tfjs-cpu', 'jax-wasm', 'jax-webgpu'];
export const GEMM_BACKENDS = ['library-webgpu', 'tfjs-webgpu', 'tfjs-wasm', 'tfjs-cpu'];

/**
 * FLOPs of one training step's gradient (forward, loss, backward), counting the
 * matrix products only (2 per multiply-add; elementwise work is O(T B (h + q))
 * and left out):
 *   forward   A_t = X_t Whx^T + H_{t-1} Whh^T     2 T B (d h + h h)   (token ids: a gather, 0)
 *             O_t = H_t Wqh^T                     2 T B h q
 *   backward  dWqh, dH_t = dO_t Wqh               4 T B h q
 *             dWhh, dH_{t-1} += dA_t Whh          4 T B h h
 *             dWhx                                2 T B d h          (token ids: a scatter-add, 0)
 *   total     T B (6 h^2 + 6 h q + 4 d h), or T B (6 h^2 + 6 h q) for token ids
 */
export function stepFlops({ T, B, d, h, q, tokens }) {
  return T * B * (6 * h * h + 6 * h * q + (tokens ? 0 : 4 * d * h));
}
export const FLOPS_FORMULA = 'T·B·(6h² + 6hq + 4dh) per step (matrix products only; token-id input: T·B·(6h² + 6hq))';

export const gemmFlops = (n) => 2 * n ** 3;

/** |got - ref| <= atolOfMax * max|ref| + rtol * |ref|, per element, per gradient. */
export const TOLERANCE = { rtol: 2e-3, atolOfMax: 1e-3 };

const CHAR = { T: 35, B: 32, d: 28, h: 256, q: 28, tokens: true, loss: 'cross-entropy' };
const DENSE = { T: 64, B: 16, d: 32, h: 128, q: 32, tokens: false, loss: 'mse' };
const SWEEP_T = { B: 16, d: 32, h: 64, q: 32, tokens: false, loss: 'mse' };
const SWEEP_H = { T: 32, B: 16, d: 32, q: 32, tokens: false, loss: 'mse' };
const SWEEP_B = { T: 32, d: 32, h: 128, q: 32, tokens: false, loss: 'mse' };

function rnn(group, id, label, shape, common) {
  return { kind: 'rnn', group, id, label, shape, flops: stepFlops(shape), spec: { id, ...shape, ...common } };
}

function sweeps(valuesT, valuesH, valuesB, common) {
  return [
    ...valuesT.map((T) => rnn('sweep-T', `sweep-T-${T}`, `T=${T}`, { ...SWEEP_T, T }, common)),
    ...valuesH.map((h) => rnn('sweep-h', `sweep-h-${h}`, `h=${h}`, { ...SWEEP_H, h }, common)),
    ...valuesB.map((B) => rnn('sweep-B', `sweep-B-${B}`, `B=${B}`, { ...SWEEP_B, B }, common)),
  ];
}

const base = (backends) => ({ seed: 7, backends, tolerance: TOLERANCE, learningRate: 0.01, minRuns: 2, maxCallMs: 20_000 });

/** The full suite, about 10-15 minutes on SwiftShader with 2 cores. */
export function fullPlan({ runs = 5, backends = BACKENDS } = {}) {
  const named = { ...base(backends), warmup: 1, runs, budgetMs: 150_000, maxCallMs: 300_000, modes: ['gradients', 'step'] };
  const sweep = { ...base(backends), warmup: 1, runs, budgetMs: 25_000, modes: ['step'] };
  return [
    rnn('named', 'char', 'char-level: T=35 B=32 tokens/28 h=256 q=28, cross-entropy', CHAR, named),
    rnn('named', 'dense', 'dense: T=64 B=16 d=32 h=128 q=32, mse', DENSE, named),
    { kind: 'gemm', group: 'gemm', id: 'gemm', label: 'square GEMM n=1024', flops: gemmFlops(1024), spec: { n: 1024, warmup: 1, runs: 3, backends: GEMM_BACKENDS.filter((b) => backends.includes(b)) } },
    ...sweeps([16, 64, 256, 1024], [32, 64, 128, 256, 512], [1, 4, 16, 64], sweep),
  ];
}

/** One small case of everything, for CI: well under a minute. */
export function quickPlan({ runs = 2, backends = BACKENDS } = {}) {
  const common = { ...base(backends), warmup: 1, runs, budgetMs: 5_000, maxCallMs: 60_000, modes: ['gradients', 'step'] };
  const sweep = { ...common, modes: ['step'] }; // as in the full run
  const tiny = { T: 4, B: 3, d: 5, h: 12, q: 4, tokens: false, loss: 'mse' };
  return [
    rnn('named', 'char', 'char-level (quick): T=6 B=4 tokens/28 h=16 q=28, cross-entropy', { ...CHAR, T: 6, B: 4, h: 16 }, common),
    rnn('named', 'dense', 'dense (quick): T=8 B=3 d=5 h=12 q=4, mse', { ...DENSE, T: 8, B: 3, d: 5, h: 12, q: 4 }, common),
    rnn('sweep-T', 'sweep-T-6', 'T=6', { ...tiny, T: 6 }, sweep),
    rnn('sweep-h', 'sweep-h-20', 'h=20', { ...tiny, h: 20 }, sweep),
    rnn('sweep-B', 'sweep-B-5', 'B=5', { ...tiny, B: 5 }, sweep),
    { kind: 'gemm', group: 'gemm', id: 'gemm', label: 'square GEMM n=64 (quick)', flops: gemmFlops(64), spec: { n: 64, warmup: 1, runs, backends: GEMM_BACKENDS.filter((b) => backends.includes(b)) } },
  ];
}

/** --cases=char,dense,sweep-T,gemm,sweep-h-128: groups or ids. */
export function selectCases(plan, names) {
  if (!names) return plan;
  const wanted = new Set(names);
  const unknown = [...wanted].filter((n) => !plan.some((c) => c.id === n || c.group === n));
  if (unknown.length) {
    throw new Error(`--cases: unknown ${unknown.join(', ')}; expected some of ${[...new Set(plan.flatMap((c) => [c.group, c.id]))].join(', ')}`);
  }
  return plan.filter((c) => wanted.has(c.id) || wanted.has(c.group));
}

// Rough rates on SwiftShader (shared/WEBGPU-HERE.md), for the time estimate only.
const GUESS_GFLOPS = { 'library-webgpu': 0.3, 'library-wasm': 15, 'library-cpu': 0.4, 'tfjs-webgpu': 0.12, 'tfjs-wasm': 1.0, 'tfjs-cpu': 0.4, 'jax-wasm': 5, 'jax-webgpu': 0.3 };
const GUESS_OVERHEAD_MS = 30;

/** Estimated seconds for one entry of the plan. */
export function estimateSeconds(entry) {
  if (entry.kind === 'gemm') {
    return entry.spec.backends.reduce((s, b) => s + (entry.flops / (GUESS_GFLOPS[b] ?? 0.5) / 1e9) * (entry.spec.warmup + entry.spec.runs), 0);
  }
  const { spec } = entry;
  let perCall = 0;
  for (const b of new Set(['library-cpu', ...spec.backends])) perCall += entry.flops / (GUESS_GFLOPS[b] * 1e9) + GUESS_OVERHEAD_MS / 1000;
  const calls = spec.modes.length;
  const warm = perCall * (1 + spec.warmup * calls);
  const timed = Math.min(perCall * calls * spec.runs, Math.max(spec.budgetMs / 1000, perCall * calls * spec.minRuns));
  return warm + timed;
}

/**
 * The cases of issue 12's benchmark (the WebAssembly engine against jax-js, TF.js and PyTorch):
 * the two named cases above and d2l's char-level RNN (h=32, T=32, B=1024, 28 tokens).
 */
export const WASM_CASES = {
  char: CHAR,
  dense: DENSE,
  d2l: { T: 32, B: 1024, d: 28, h: 32, q: 28, tokens: true, loss: 'cross-entropy' },
};

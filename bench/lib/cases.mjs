// The benchmark plan: the two named cases of issue 4, the sweeps over T, h and
// B, the large GEMM, and the tiny versions of each for --quick. The FLOP count
// of a case lives here, once, and travels to the report.

export const BACKENDS = ['library-webgpu', 'library-webgpu-tuned', 'library-wasm', 'library-cpu', 'tfjs-webgpu', 'tfjs-wasm', 'tfjs-cpu', 'jax-wasm', 'jax-webgpu'];
/** Run in the named cases only (issue 13's tuned-against-default ratio); the sweeps and the GEMM leave it out. */
export const NAMED_ONLY = ['library-webgpu-tuned'];
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

/** Gate blocks per cell (MATH.md part 2). */
export const GATES = { rnn: 1, gru: 3, lstm: 4 };

/**
 * FLOPs of one training step of a stack (matrix products only, as stepFlops):
 * per layer forward 2 T B G h (n_in + h), backward twice that, with n_in = d
 * for layer 0 (0 with token ids: a gather and a scatter-add) and h above; the
 * head 6 T B h q. With lengths, the valid steps sum(lengths) replace T B.
 */
export function stackStepFlops({ T, B, d, h, q, tokens, cell, numLayers, rows = T * B }) {
  const G = GATES[cell];
  let f = 6 * rows * h * q;
  for (let l = 0; l < numLayers; l++) f += 6 * rows * G * h * ((l === 0 ? (tokens ? 0 : d) : h) + h);
  return f;
}

/** sum of lengths drawn as the page draws them (bench/lib/problem.mjs, seed + 1): the valid steps of a 'uniform' case. */
export function validSteps({ T, B, lengths, seed }, makeRng) {
  if (lengths !== 'uniform') return T * B;
  const rng = makeRng(seed + 1);
  let n = 0;
  for (let b = 0; b < B; b++) n += 1 + Math.floor(rng() * T);
  return n;
}

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

/** A SequenceModel case (cell, numLayers; lengths 'uniform' in 1..T or every length T). */
function stack(group, id, label, shape, common, rows) {
  return { kind: 'rnn', group, id, label, shape, flops: stackStepFlops({ ...shape, rows }), spec: { id, ...shape, ...common } };
}

const STACK = { T: 35, B: 32, d: 28, h: 256, q: 28, tokens: true, loss: 'cross-entropy', numLayers: 2 };
const LENGTHS = { T: 128, B: 32, d: 28, h: 256, q: 28, tokens: true, loss: 'cross-entropy', cell: 'lstm', numLayers: 1 };
// Backends that cannot run a case, and why: a skip shows in the report (the full plan); --quick leaves them out.
// library-wasm is not among them: it is tried on every case (its engine takes SequenceModels and lengths), and
// where an engine refuses the model (a BpttInputError naming 'model') the report says so.
const NO_STACKS = {};
const NO_LENGTHS = {
  'jax-wasm': 'jax-js has no packed sequences (masking would compute every padded step)',
  'jax-webgpu': 'jax-js has no packed sequences (masking would compute every padded step)',
  'tfjs-webgpu': 'TF.js has no packed sequences (masking would compute every padded step)',
  'tfjs-wasm': 'TF.js has no packed sequences (masking would compute every padded step)',
  'tfjs-cpu': 'TF.js has no packed sequences (masking would compute every padded step)',
};

function stackCases(common, quick, makeRng) {
  const size = quick ? { T: 5, B: 3, h: 12 } : {};
  const lengthSize = quick ? { T: 9, B: 4, h: 12 } : {};
  const only = (skip) => (quick ? { ...common, backends: common.backends.filter((b) => !skip[b]) } : { ...common, skip });
  const lstm = { ...STACK, ...size, cell: 'lstm' };
  const gru = { ...STACK, ...size, cell: 'gru' };
  const uniform = { ...LENGTHS, ...lengthSize, lengths: 'uniform' };
  const full = { ...LENGTHS, ...lengthSize, lengths: 'full' };
  const q = quick ? ' (quick)' : '';
  return [
    stack('named', 'lstm', `lstm${q}: 2 layers T=${lstm.T} B=${lstm.B} tokens/28 h=${lstm.h} q=28, cross-entropy`, lstm, only(NO_STACKS)),
    stack('named', 'gru', `gru${q}: 2 layers T=${gru.T} B=${gru.B} tokens/28 h=${gru.h} q=28, cross-entropy`, gru, only(NO_STACKS)),
    stack('named', 'lstm-lengths', `lstm${q}, lengths uniform in 1..${uniform.T}: T=${uniform.T} B=${uniform.B} h=${uniform.h}`, uniform, only(NO_LENGTHS), validSteps({ ...uniform, seed: common.seed }, makeRng)),
    stack('named', 'lstm-full', `lstm${q}, every length ${full.T} (the same batch): T=${full.T} B=${full.B} h=${full.h}`, full, only(NO_LENGTHS)),
  ];
}

function sweeps(valuesT, valuesH, valuesB, withTuned) {
  const common = { ...withTuned, backends: withTuned.backends.filter((b) => !NAMED_ONLY.includes(b)) };
  return [
    ...valuesT.map((T) => rnn('sweep-T', `sweep-T-${T}`, `T=${T}`, { ...SWEEP_T, T }, common)),
    ...valuesH.map((h) => rnn('sweep-h', `sweep-h-${h}`, `h=${h}`, { ...SWEEP_H, h }, common)),
    ...valuesB.map((B) => rnn('sweep-B', `sweep-B-${B}`, `B=${B}`, { ...SWEEP_B, B }, common)),
  ];
}

const base = (backends) => ({ seed: 7, backends, tolerance: TOLERANCE, learningRate: 0.01, minRuns: 2, maxCallMs: 20_000 });

/**
 * The full suite, about 10-15 minutes on SwiftShader with 2 cores for the vanilla cases;
 * the gated and variable-length cases take far longer there (run them with --cases).
 * makeRng: the library's generator (the lengths of the variable-length case, for its FLOP count).
 */
export function fullPlan({ runs = 5, backends = BACKENDS, makeRng } = {}) {
  // slowCallMs: a backend whose warm call takes longer (TF.js cpu and webgpu on the gated cases, 40-80 s on
  // SwiftShader) gets slowRuns timed runs, said in the report, so that a full-size case's time stays predictable
  const named = { ...base(backends), warmup: 1, runs, budgetMs: 150_000, maxCallMs: 300_000, slowCallMs: 30_000, slowRuns: 1, modes: ['gradients', 'step'] };
  const sweep = { ...base(backends), warmup: 1, runs, budgetMs: 25_000, modes: ['step'] };
  // the char case also times the forward-only call (engine.forward with y: the loss), on this library's backends
  return [
    rnn('named', 'char', 'char-level: T=35 B=32 tokens/28 h=256 q=28, cross-entropy', CHAR, { ...named, modes: ['gradients', 'step', 'forward'] }),
    rnn('named', 'dense', 'dense: T=64 B=16 d=32 h=128 q=32, mse', DENSE, named),
    { kind: 'gemm', group: 'gemm', id: 'gemm', label: 'square GEMM n=1024', flops: gemmFlops(1024), spec: { n: 1024, warmup: 1, runs: 3, backends: GEMM_BACKENDS.filter((b) => backends.includes(b)) } },
    ...sweeps([16, 64, 256, 1024], [32, 64, 128, 256, 512], [1, 4, 16, 64], sweep),
    // a gated case's warm call over 2 minutes is not timed (its checked call, compilation and all, over 6)
    ...(makeRng ? stackCases({ ...named, runs: Math.min(runs, 3), maxCallMs: 120_000, modes: ['step'] }, false, makeRng) : []),
  ];
}

/** One small case of everything, for CI: well under a minute. */
export function quickPlan({ runs = 2, backends = BACKENDS, makeRng } = {}) {
  const common = { ...base(backends), warmup: 1, runs, budgetMs: 5_000, maxCallMs: 60_000, modes: ['gradients', 'step'] };
  const sweep = { ...common, modes: ['step'], backends: common.backends.filter((b) => !NAMED_ONLY.includes(b)) }; // as in the full run
  const tiny = { T: 4, B: 3, d: 5, h: 12, q: 4, tokens: false, loss: 'mse' };
  return [
    rnn('named', 'char', 'char-level (quick): T=6 B=4 tokens/28 h=16 q=28, cross-entropy', { ...CHAR, T: 6, B: 4, h: 16 }, common),
    rnn('named', 'dense', 'dense (quick): T=8 B=3 d=5 h=12 q=4, mse', { ...DENSE, T: 8, B: 3, d: 5, h: 12, q: 4 }, common),
    rnn('sweep-T', 'sweep-T-6', 'T=6', { ...tiny, T: 6 }, sweep),
    rnn('sweep-h', 'sweep-h-20', 'h=20', { ...tiny, h: 20 }, sweep),
    rnn('sweep-B', 'sweep-B-5', 'B=5', { ...tiny, B: 5 }, sweep),
    { kind: 'gemm', group: 'gemm', id: 'gemm', label: 'square GEMM n=64 (quick)', flops: gemmFlops(64), spec: { n: 64, warmup: 1, runs, backends: GEMM_BACKENDS.filter((b) => backends.includes(b)) } },
    ...(makeRng ? stackCases(common, true, makeRng) : []),
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
const GUESS_GFLOPS = { 'library-webgpu': 0.3, 'library-webgpu-tuned': 0.3, 'library-wasm': 15, 'library-cpu': 0.4, 'tfjs-webgpu': 0.12, 'tfjs-wasm': 1.0, 'tfjs-cpu': 0.4, 'jax-wasm': 5, 'jax-webgpu': 0.3 };
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

// What bench/run.mjs sends to the page and what the page sends back. Times are
// milliseconds of wall-clock time (performance.now) per call, read-back included.
import type { EngineStats } from '../../src/index.js';

export type BackendId = 'library-webgpu' | 'library-webgpu-tuned' | 'library-wasm' | 'library-cpu' | 'tfjs-webgpu' | 'tfjs-wasm' | 'tfjs-cpu' | 'jax-wasm' | 'jax-webgpu';
export type Mode = 'gradients' | 'step' | 'forward';

export interface Tolerance {
  rtol: number; // relative to |ref| per element
  atolOfMax: number; // absolute floor, as a fraction of max |ref| over the tensor
}

/** One RNN case: shapes of MATH.md, tanh, both biases. */
export interface RnnCaseSpec {
  id: string;
  T: number;
  B: number;
  d: number;
  h: number;
  q: number;
  tokens: boolean; // x as token ids in [0, d)
  loss: 'cross-entropy' | 'mse';
  seed: number;
  warmup: number; // untimed calls per backend and mode, after the checked call
  runs: number; // timed calls per backend and mode, at most
  minRuns: number; // timed calls per backend and mode, at least
  budgetMs: number; // time for the timed runs; runs shrink (not below minRuns) to fit
  maxCallMs: number; // a backend whose warm call takes longer (or whose checked call takes 3x longer) is not timed further
  slowCallMs?: number; // a backend whose warm call takes longer gets slowRuns timed runs, and the report says so
  slowRuns?: number;
  skip?: Partial<Record<BackendId, string>>; // backends not run in this case, and why
  modes: Mode[];
  backends: BackendId[];
  tolerance: Tolerance;
  learningRate: number;
  cell?: 'rnn' | 'gru' | 'lstm'; // a stack (SequenceModel) case
  numLayers?: number;
  lengths?: 'uniform' | 'full'; // lengths drawn in 1..T, or every length T
}

export interface CheckResult {
  ok: boolean;
  worst: number; // largest |got - ref| / (atol + rtol |ref|) over all gradients and the loss; <= 1 passes
  worstAt: string; // tensor[index] of the worst element
  mismatches: string[]; // the first few mismatching elements
}

/** What checkBackend returns: the first gradients call of a backend, checked against the CPU reference. */
export interface CheckedCall {
  checkedCallMs?: number;
  check?: CheckResult;
  stats?: EngineStats;
  about?: string;
  error?: string;
  errorArgument?: string; // a BpttInputError's argument (the engine refused the model or batch)
}

/** What callBackend returns: one call's wall-clock ms (null: the backend has no call for that mode). */
export interface TimedCall {
  ms: number | null;
  stats?: EngineStats;
}

export interface BackendCaseResult {
  error?: string;
  skipped?: string; // why this backend was not timed (too slow for the time budget, or the engine refused the model)
  refused?: boolean; // skipped because the engine refuses this model (not a failure: a build without that feature)
  fewerRuns?: string; // why it got fewer timed runs than the others (a call over the case's slowCallMs)
  checkedCallMs?: number; // the first, checked call (shader compilation and all)
  check?: CheckResult;
  times: Partial<Record<Mode, number[]>>;
  stats?: Partial<Record<Mode, EngineStats>>;
  about?: string; // how the backend ran (library-wasm: its backendReason, threads)
}

export interface RnnCaseResult {
  id: string;
  runsUsed: number;
  elapsedMs: number;
  backends: Partial<Record<BackendId, BackendCaseResult>>;
}

export interface GemmSpec {
  n: number;
  warmup: number;
  runs: number;
  backends: BackendId[];
}

export interface GemmBackendResult {
  error?: string;
  unavailable?: string; // the backend has no GEMM to time (not an error)
  times?: number[];
  timing?: string; // what a time covers
  maxError?: number; // engine.benchGemm's check of the product (<= 1 passes)
}

export interface GemmResult {
  n: number;
  backends: Partial<Record<BackendId, GemmBackendResult>>;
}

export interface AdapterInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean | null;
}

export interface PageInfo {
  userAgent: string;
  hardwareConcurrency: number;
  crossOriginIsolated: boolean;
  adapter: AdapterInfo | null; // navigator.gpu.requestAdapter() as the page sees it
  adapterError?: string;
  libraryAdapter: AdapterInfo | null; // engine.adapter of createEngine({ backend: 'webgpu' })
  libraryWebgpuError?: string;
  tfjsVersion: string;
  tfjsBackends: Partial<Record<BackendId, string>>; // 'ok' or the error
  wasm: { simd: boolean; multithread: boolean; threads: number };
  libraryWasm?: string; // createEngine({ backend: 'wasm' }).backendReason on this page
  jaxDevices?: string[]; // what jax-js's init() started
}

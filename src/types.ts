// The public types of webgpu-bptt. Shapes and layouts are those of
// shared/spec/MATH.md: dense, row-major, float32, time-major.
// Dimension letters: T steps, B batch, d input, h hidden, q output.
import type { TuningOption } from './tuning-types.js';

export type Activation = 'identity' | 'tanh' | 'relu';
export type LossKind = 'cross-entropy' | 'mse' | 'none';
export type BackendName = 'webgpu' | 'wasm' | 'cpu';
export type CellKind = 'rnn' | 'gru' | 'lstm';

export interface RnnModel {
  inputSize: number; // d
  hiddenSize: number; // h
  outputSize: number; // q
  activation: Activation;
  Whx: Float32Array; // [h, d]
  Whh: Float32Array; // [h, h]
  Wqh: Float32Array; // [q, h]
  bh?: Float32Array; // [h]   both biases present, or neither
  bq?: Float32Array; // [q]
}

export interface Batch {
  steps: number; // T
  batchSize: number; // B
  x: Float32Array | Int32Array; // [T, B, d] values, or [T, B] token ids in [0, d)
  y?: Int32Array | Float32Array; // [T, B] class ids (cross-entropy) or [T, B, q] (mse)
  dO?: Float32Array; // [T, B, q] upstream dL/do_t, with loss: 'none'
  h0?: Float32Array; // [B, h], zeros when absent
  dhT?: Float32Array; // [B, h], gradient arriving at h_T from later steps
  // For a SequenceModel, h0, dhT (and c0, dcT) are [L*dirs, B, h].
  c0?: Float32Array; // [L*dirs, B, h] initial cell state (lstm only), zeros when absent
  dcT?: Float32Array; // [L*dirs, B, h] gradient arriving at c_T (lstm only)
  lengths?: Int32Array; // [B], each in 1..T: packed-sequence semantics (MATH.md)
  dY?: Float32Array; // [T, B, dirs*h] upstream gradient on the top layer's output (SequenceModel without head, loss 'none')
}

/** One layer-direction of a SequenceModel: PyTorch's weight_ih/weight_hh/bias_ih/bias_hh. G = 1 (rnn), 3 (gru), 4 (lstm). */
export interface SequenceLayer {
  Wx: Float32Array; // [G*h, n_in]
  Wh: Float32Array; // [G*h, h]
  bx?: Float32Array; // [G*h]  both biases, or neither, in every layer
  bh?: Float32Array; // [G*h]
}

export interface SequenceHead {
  outputSize: number; // q
  W: Float32Array; // [q, dirs*h]
  b?: Float32Array; // [q]
}

/** The PyTorch-shaped network of MATH.md's second part (nn.RNN / nn.GRU / nn.LSTM + an optional nn.Linear head). */
export interface SequenceModel {
  cell: CellKind;
  inputSize: number; // d (the vocabulary with token ids)
  hiddenSize: number; // h
  numLayers?: number; // L, default 1
  bidirectional?: boolean; // default false
  activation?: Activation; // rnn only, default 'tanh'
  layers: SequenceLayer[]; // L*dirs entries, index l*dirs + dir (dir 1 = reverse)
  head?: SequenceHead;
}

export interface SequenceLayerGradients {
  dWx: Float32Array;
  dWh: Float32Array;
  dbx?: Float32Array;
  dbh?: Float32Array;
}

export interface SequenceGradients {
  loss: number; // NaN with loss: 'none'
  gradNorm: number; // every layer's and the head's gradients
  clipped: boolean;
  nonFinite: boolean;
  layers: SequenceLayerGradients[];
  head?: { dW: Float32Array; db?: Float32Array };
  dh0: Float32Array; // [L*dirs, B, h]
  hT: Float32Array; // [L*dirs, B, h]
  dc0?: Float32Array; // lstm
  cT?: Float32Array; // lstm
  dx?: Float32Array; // [T, B, d], value inputs only
  gradNormPerStep?: Float32Array; // [L*dirs, T]
  xi?: Float32Array;
}

/** Any model the engines take. */
export type AnyModel = RnnModel | SequenceModel;

export interface ForwardOptions {
  outputs?: Array<'O' | 'Y'>;
}

export interface ForwardResult {
  loss?: number; // with batch.y (or NaN-free only when y is given)
  O?: Float32Array; // [T, B, q], zero at padded steps
  Y?: Float32Array; // [T, B, dirs*h] (RnnModel: [T, B, h]), zero at padded steps
  hT: Float32Array;
  cT?: Float32Array;
}

export interface GenerateOptions {
  prefix: Int32Array; // token ids, at least one
  steps: number; // n new tokens
  temperature?: number; // 0 (default): argmax
  seed?: number;
}

export type Truncation =
  | { kind: 'full' }
  | { kind: 'chunked'; steps: number }
  | { kind: 'window'; steps: number }
  | { kind: 'randomized'; keepProbability: number; seed: number }
  | { kind: 'randomized'; xi: Float32Array };

export interface GradientOptions {
  loss: LossKind;
  truncation?: Truncation; // default { kind: 'full' }
  clipNorm?: number; // global-norm clipping threshold
  inputGradient?: boolean; // return dx (value inputs only)
  gradNormPerStep?: boolean; // return ||dH_t|| for t = 1..T
  checkFinite?: boolean; // reject NaN or infinite inputs before any work
}

export interface GradientResult {
  loss: number; // NaN with loss: 'none'
  dWhx: Float32Array; // [h, d]
  dWhh: Float32Array; // [h, h]
  dWqh: Float32Array; // [q, h]
  dbh?: Float32Array; // [h]
  dbq?: Float32Array; // [q]
  dh0: Float32Array; // [B, h]
  hT: Float32Array; // [B, h]
  dx?: Float32Array; // [T, B, d]
  gradNorm: number; // global L2 norm of the parameter gradients before clipping
  clipped: boolean;
  nonFinite: boolean;
  gradNormPerStep?: Float32Array; // [T]
  xi?: Float32Array; // [T] xi_1..xi_T, for randomized truncation
}

export type OptimizerOptions =
  | { kind: 'sgd'; learningRate: number }
  | { kind: 'adam'; learningRate: number; beta1?: number; beta2?: number; epsilon?: number };

export interface TrainerOptions {
  optimizer: OptimizerOptions;
  loss: LossKind;
  truncation?: Truncation;
  clipNorm?: number;
  carryState?: boolean; // each step's hT becomes the next step's h0 (detached)
  checkFinite?: boolean;
}

export interface StepResult {
  loss: number; // NaN with loss: 'none'
  skipped: boolean; // true when the gradients were not finite and no update was applied
  step: number; // how many updates have been applied so far
  gradNorm?: number; // only when the step was asked to read it back
}

export interface StepOptions {
  readGradNorm?: boolean; // also read back the gradient norm (a few more bytes)
}

export interface Trainer<M extends AnyModel = RnnModel> {
  readonly backend: BackendName;
  step(batch: Batch, options?: StepOptions): Promise<StepResult>;
  read(): Promise<M>;
  /** Forget the carried hidden state (carryState) so the next step starts from batch.h0 or zeros. */
  resetState(): void;
  /** engine.forward on the trainer's current parameters. */
  forward(batch: Batch, options?: ForwardOptions): Promise<ForwardResult>;
  /** engine.generate on the trainer's current parameters. */
  generate(options: GenerateOptions): Promise<Int32Array>;
  dispose(): void;
}

/** A trainer as a backend builds it: the steps; the engine adds forward and generate. */
export type StepTrainer<M extends AnyModel = RnnModel> = Omit<Trainer<M>, 'forward' | 'generate'>;

export interface EngineOptions {
  backend?: 'auto' | 'webgpu' | 'wasm' | 'cpu';
  device?: GPUDevice; // a device the caller owns: used, never destroyed by the engine
  /** With 'auto', also accept a software adapter (SwiftShader); by default 'auto' uses the CPU then. */
  allowSoftwareAdapter?: boolean;
  /**
   * Work within lower limits than the device's (bytes). A device cannot be asked
   * for lower limits; this makes the engine refuse work beyond them as it would
   * on a smaller device.
   */
  limits?: { maxStorageBufferBindingSize?: number; maxBufferSize?: number };
  /** Skip the self-check that 'auto' runs on a GPU adapter before choosing it. */
  skipSelfCheck?: boolean;
  /** The 'wasm' backend: worker threads (1 where the page is not cross-origin isolated). */
  threads?: number;
  /** Testing only: replacement WGSL source for named kernels of this engine. */
  kernelSources?: Record<string, string>;
  /**
   * Kernel variants for the WebGPU backend's SequenceModel calls (src/tuning-types.ts):
   * 'auto' (default) measures them on a hardware adapter, lazily, at most 500 ms per
   * shape class; 'off' the defaults; or { mode, budgetMs, fixed, table }.
   */
  tuning?: TuningOption;
}

export interface EngineStats {
  dispatches: number; // compute dispatches recorded by the last call
  submits: number; // queue submits made by the last call
  liveBuffers: number; // GPU buffers the engine holds now (pool included)
  liveBytes: number;
  peakBytes: number;
  /** Bytes the WebGPU backend has read back to the host, over the engine's life. */
  readBytes?: number;
  /** Wall-clock ms this engine has spent tuning kernel variants, over its life (0: none). */
  tuningMs?: number;
  /** Candidate calls the tuner has timed, over the engine's life. */
  tuningRuns?: number;
}

// What the engine says about its adapter and self-check (declared here so that
// engine.ts and src/gpu/ share them without importing each other).
export interface AdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean;
}

export interface SelfCheckResult {
  ok: boolean;
  worstError: number; // largest |gpu - cpu| / (atol + rtol*|cpu|) over every output; <= 1 passes
  milliseconds: number;
}

// The public types of webgpu-bptt. Shapes and layouts are those of
// shared/spec/MATH.md: dense, row-major, float32, time-major.
// Dimension letters: T steps, B batch, d input, h hidden, q output.

export type Activation = 'identity' | 'tanh' | 'relu';
export type LossKind = 'cross-entropy' | 'mse' | 'none';
export type BackendName = 'webgpu' | 'cpu';

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

export interface Trainer {
  readonly backend: BackendName;
  step(batch: Batch, options?: StepOptions): Promise<StepResult>;
  read(): Promise<RnnModel>;
  /** Forget the carried hidden state (carryState) so the next step starts from batch.h0 or zeros. */
  resetState(): void;
  dispose(): void;
}

export interface EngineOptions {
  backend?: 'auto' | 'webgpu' | 'cpu';
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
  /** Testing only: replacement WGSL source for named kernels of this engine. */
  kernelSources?: Record<string, string>;
}

export interface EngineStats {
  dispatches: number; // compute dispatches recorded by the last call
  submits: number; // queue submits made by the last call
  liveBuffers: number; // GPU buffers the engine holds now (pool included)
  liveBytes: number;
  peakBytes: number;
}

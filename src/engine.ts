// createEngine: picks a backend and exposes the public contract of API.md.
import type {
  AnyModel,
  Batch,
  ForwardOptions,
  ForwardResult,
  GenerateOptions,
  EngineOptions,
  EngineStats,
  GradientOptions,
  GradientResult,
  RnnModel,
  SequenceGradients,
  SequenceModel,
  Trainer,
  TrainerOptions,
  BackendName,
  AdapterSummary,
  SelfCheckResult,
} from './types.js';
import { BpttDeviceError, BpttInputError, describe } from './errors.js';
import { checkOptionalBoolean, checkPositiveInt, validateEngineLimits, validateGradientCall, validateTrainerOptions } from './validate.js';
import { cpuRnnGradients } from './cpu/rnn-gradients.js';
import { forwardOnCpu, generateOnCpu, withInference } from './inference.js';
import { validateForwardCall, validateGenerateCall } from './validate-forward.js';
import { cpuSequenceGradients } from './cpu/sequence/gradients.js';
import { validateSequenceCall, validateSequenceTrainerOptions } from './validate-sequence.js';
import { createCpuSequenceTrainer } from './cpu/sequence/trainer.js';
import { isSequenceModel } from './sequence-model.js';
import { createCpuTrainer } from './cpu/trainer.js';
import { assertUsable, markDisposed } from './lifecycle.js';
import { createGpuBackend, type GpuBackend } from './gpu/backend.js';
import { gpuProviderNote } from './gpu/provider.js';
import type { DeviceApi } from './gpu/device-api.js';
import type { GemmTiming } from './gpu/bench-gemm.js';
import { type KernelChoice, type TuningTable, DEFAULT_CHOICE } from './tuning-types.js';
import { validateTuningOption } from './gpu/tuning.js';
import { createWasmEngine } from './wasm/engine.js';

export type { AdapterSummary, SelfCheckResult } from './types.js';

export interface Engine {
  /** What 'auto' chose ('webgpu', 'wasm' or 'cpu'). */
  readonly backend: BackendName;
  /** Why that backend was chosen, in words. */
  readonly backendReason: string;
  /** The adapter in use, for the WebGPU backend. */
  readonly adapter: AdapterSummary | null;
  /** The GPUDevice in use, for the WebGPU backend. */
  readonly device: GPUDevice | null;
  /** The layer on GPUBuffers (forward, backward), for the WebGPU backend; throws on the CPU one. */
  readonly gpu: DeviceApi;
  // The RnnModel signature comes first and last: an untyped model resolves to the first,
  // ReturnType<Engine['gradients']> reads the last, and both stay GradientResult as before.
  gradients(model: RnnModel, batch: Batch, options: GradientOptions): Promise<GradientResult>;
  gradients(model: SequenceModel, batch: Batch, options: GradientOptions): Promise<SequenceGradients>;
  gradients(model: RnnModel, batch: Batch, options: GradientOptions): Promise<GradientResult>;
  trainer(model: RnnModel, options: TrainerOptions): Trainer;
  trainer(model: SequenceModel, options: TrainerOptions): Trainer<SequenceModel>;
  trainer(model: RnnModel, options: TrainerOptions): Trainer;
  /** The model's outputs without gradients: the loss with batch.y, O and/or Y when asked, hT (cT). */
  forward(model: AnyModel, batch: Batch, options?: ForwardOptions): Promise<ForwardResult>;
  /** Token ids generated after a prefix, greedy or sampled (API.md "Forward only"). */
  generate(model: AnyModel, options: GenerateOptions): Promise<Int32Array>;
  /** Dispatch and submit counts of the last call, and the device memory held. */
  stats(): EngineStats;
  /** A small gradient call compared with the CPU reference. */
  selfCheck(): Promise<SelfCheckResult>;
  /** The WebGPU backend only: times the library's GEMM kernel on an n x n product. */
  benchGemm?(n: number, runs?: number): Promise<GemmTiming>;
  /** The kernel variants chosen so far, per shape class (pass it back as createEngine({ tuning: { table } })). */
  tuning(): TuningTable;
  /**
   * Tunes the kernel variants for this call's shape class now (up front) and resolves to the choice:
   * the cell kernels' variants, or the chapter's kernels' where the call runs them (an RnnModel without lengths).
   */
  tune(model: AnyModel, batch: Batch, options: GradientOptions): Promise<KernelChoice>;
  dispose(): void;
}

class CpuEngine implements Engine {
  readonly backend = 'cpu' as const;
  readonly adapter = null;
  readonly device = null;
  constructor(readonly backendReason: string) {}
  get gpu(): DeviceApi {
    throw new BpttDeviceError(`engine.gpu needs the 'webgpu' backend; this engine uses the CPU (${this.backendReason})`);
  }
  // The RnnModel signature comes first and last: an untyped model resolves to the first,
  // ReturnType<Engine['gradients']> reads the last, and both stay GradientResult as before.
  gradients(model: RnnModel, batch: Batch, options: GradientOptions): Promise<GradientResult>;
  gradients(model: SequenceModel, batch: Batch, options: GradientOptions): Promise<SequenceGradients>;
  gradients(model: RnnModel, batch: Batch, options: GradientOptions): Promise<GradientResult>;
  async gradients(model: AnyModel, batch: Batch, options: GradientOptions): Promise<GradientResult | SequenceGradients> {
    assertUsable(this, 'engine');
    if (isSequenceModel(model)) return cpuSequenceGradients(model, batch, validateSequenceCall(model, batch, options));
    const problem = validateGradientCall(model, batch, options);
    return cpuRnnGradients(model, batch, problem);
  }
  trainer(model: RnnModel, options: TrainerOptions): Trainer;
  trainer(model: SequenceModel, options: TrainerOptions): Trainer<SequenceModel>;
  trainer(model: AnyModel, options: TrainerOptions): Trainer | Trainer<SequenceModel> {
    assertUsable(this, 'engine');
    if (isSequenceModel(model)) return withInference(createCpuSequenceTrainer(model, options));
    return withInference(createCpuTrainer(model, options));
  }
  async forward(model: AnyModel, batch: Batch, options?: ForwardOptions): Promise<ForwardResult> {
    assertUsable(this, 'engine');
    return forwardOnCpu(model, batch, options);
  }
  async generate(model: AnyModel, options: GenerateOptions): Promise<Int32Array> {
    assertUsable(this, 'engine');
    return generateOnCpu(model, options);
  }
  stats(): EngineStats {
    return { dispatches: 0, submits: 0, liveBuffers: 0, liveBytes: 0, peakBytes: 0 };
  }
  async selfCheck(): Promise<SelfCheckResult> {
    assertUsable(this, 'engine');
    return { ok: true, worstError: 0, milliseconds: 0 };
  }
  tuning(): TuningTable {
    return { adapter: 'cpu', classes: {} };
  }
  async tune(): Promise<KernelChoice> {
    assertUsable(this, 'engine');
    return { ...DEFAULT_CHOICE }; // nothing to tune: the CPU reference has one implementation
  }
  dispose(): void {
    markDisposed(this);
  }
}

class GpuEngine implements Engine {
  readonly backend = 'webgpu' as const;
  constructor(
    readonly backendReason: string,
    private readonly impl: GpuBackend,
  ) {}
  get adapter(): AdapterSummary {
    return this.impl.adapter;
  }
  get device(): GPUDevice {
    return this.impl.device;
  }
  get gpu(): DeviceApi {
    assertUsable(this, 'engine');
    return this.impl.gpu;
  }
  // The RnnModel signature comes first and last: an untyped model resolves to the first,
  // ReturnType<Engine['gradients']> reads the last, and both stay GradientResult as before.
  gradients(model: RnnModel, batch: Batch, options: GradientOptions): Promise<GradientResult>;
  gradients(model: SequenceModel, batch: Batch, options: GradientOptions): Promise<SequenceGradients>;
  gradients(model: RnnModel, batch: Batch, options: GradientOptions): Promise<GradientResult>;
  async gradients(model: AnyModel, batch: Batch, options: GradientOptions): Promise<GradientResult | SequenceGradients> {
    assertUsable(this, 'engine');
    if (isSequenceModel(model)) return this.impl.sequenceGradients(model, batch, validateSequenceCall(model, batch, options));
    // an RnnModel, with or without lengths, is one case of the layer walk (its one rnn layer and head, on its own layout)
    return this.impl.gradients(model, batch, validateGradientCall(model, batch, options));
  }
  trainer(model: RnnModel, options: TrainerOptions): Trainer;
  trainer(model: SequenceModel, options: TrainerOptions): Trainer<SequenceModel>;
  trainer(model: AnyModel, options: TrainerOptions): Trainer | Trainer<SequenceModel> {
    assertUsable(this, 'engine');
    if (isSequenceModel(model)) {
      // forward and generate run on the device, on the trainer's parameter buffer (as for an RnnModel)
      return this.impl.sequenceTrainer(model, validateSequenceTrainerOptions(model, options));
    }
    // lengths run as the layer walk on the trainer's own buffers; forward and generate too, without read-back
    return this.impl.trainer(model, validateTrainerOptions(model, options));
  }
  // The forward part of a gradient call on the GPU, storing nothing for a backward pass.
  async forward(model: AnyModel, batch: Batch, options?: ForwardOptions): Promise<ForwardResult> {
    assertUsable(this, 'engine');
    const call = validateForwardCall(model, batch, options);
    return this.impl.forward(call, batch);
  }
  async generate(model: AnyModel, options: GenerateOptions): Promise<Int32Array> {
    assertUsable(this, 'engine');
    return this.impl.generate(validateGenerateCall(model, options));
  }
  stats(): EngineStats {
    return this.impl.stats();
  }
  async selfCheck(): Promise<SelfCheckResult> {
    assertUsable(this, 'engine');
    return this.impl.selfCheck();
  }
  tuning(): TuningTable {
    return this.impl.tuning();
  }
  async tune(model: AnyModel, batch: Batch, options: GradientOptions): Promise<KernelChoice> {
    assertUsable(this, 'engine');
    if (isSequenceModel(model)) return this.impl.tune(model, validateSequenceCall(model, batch, options));
    return this.impl.tuneRnn(model, validateGradientCall(model, batch, options)); // (refuses what is neither model, naming it)
  }
  /** Times the library's GEMM kernel on an n x n product (benchmarks). */
  benchGemm(n: number, runs?: number): Promise<GemmTiming> {
    assertUsable(this, 'engine');
    return this.impl.benchGemm(n, runs);
  }
  dispose(): void {
    if (!markDisposedOnce(this)) return;
    this.impl.dispose();
  }
}

function markDisposedOnce(owner: object): boolean {
  try {
    assertUsable(owner, 'engine');
  } catch {
    return false;
  }
  markDisposed(owner);
  return true;
}

export async function createEngine(options: EngineOptions = {}): Promise<Engine> {
  if (typeof options !== 'object' || options === null) {
    throw new BpttInputError('options', "an EngineOptions object ({ backend?: 'auto' | 'webgpu' | 'wasm' | 'cpu', device? })", describe(options));
  }
  const backend = options.backend ?? 'auto';
  if (backend !== 'auto' && backend !== 'webgpu' && backend !== 'wasm' && backend !== 'cpu') {
    throw new BpttInputError('options.backend', "one of 'auto', 'webgpu', 'wasm', 'cpu'", describe(backend));
  }
  validateEngineLimits(options.limits);
  validateTuningOption(options.tuning);
  checkOptionalBoolean('options.allowSoftwareAdapter', options.allowSoftwareAdapter);
  checkOptionalBoolean('options.skipSelfCheck', options.skipSelfCheck);
  if (options.threads !== undefined) checkPositiveInt('options.threads', options.threads);
  const sources = options.kernelSources as unknown;
  if (sources !== undefined && (typeof sources !== 'object' || sources === null || Object.values(sources).some((v) => typeof v !== 'string'))) {
    throw new BpttInputError('options.kernelSources', 'a record of WGSL source strings by kernel name', describe(sources));
  }
  const device = options.device as Partial<GPUDevice> | undefined;
  if (device !== undefined && (typeof device !== 'object' || device === null || typeof device.createBuffer !== 'function' || typeof device.queue?.submit !== 'function')) {
    throw new BpttInputError('options.device', 'a GPUDevice (or undefined)', describe(options.device));
  }
  if (backend === 'cpu') return new CpuEngine("backend: 'cpu' was asked for");
  if (backend === 'wasm') return createWasmEngine(options.threads, "backend: 'wasm' was asked for");
  // What the GPU provider found on its way (Node: which Vulkan drivers), said rather than printed.
  const found = () => (gpuProviderNote() ? `; ${gpuProviderNote()}` : '');
  const gpuOptions = { device: options.device, limits: options.limits, kernelSources: options.kernelSources, tuning: options.tuning };
  if (backend === 'webgpu') {
    const impl = await createGpuBackend({ ...gpuOptions, allowFallbackAdapter: true });
    return new GpuEngine(`backend: 'webgpu' was asked for; adapter ${impl.adapter.vendor} ${impl.adapter.architecture}${found()}`, impl);
  }
  // auto: a real (non-fallback) adapter whose self-check passes, else WebAssembly, else the CPU reference
  const fallback = (why: string) => withoutGpu(why, options.threads);
  let impl: GpuBackend;
  try {
    impl = await createGpuBackend({ ...gpuOptions, allowFallbackAdapter: options.allowSoftwareAdapter === true });
  } catch (e) {
    return fallback(`no usable WebGPU adapter (${(e as Error).message}${found()})`);
  }
  if (options.skipSelfCheck) return new GpuEngine(`WebGPU adapter ${impl.adapter.vendor} ${impl.adapter.architecture} (self-check skipped)`, impl);
  let check: SelfCheckResult;
  try {
    check = await impl.selfCheck();
  } catch (e) {
    impl.dispose();
    return fallback(`the WebGPU self-check could not run on ${impl.adapter.vendor} ${impl.adapter.architecture} (${(e as Error).message})`);
  }
  if (!check.ok) {
    impl.dispose();
    return fallback(
      `the WebGPU self-check failed on ${impl.adapter.vendor} ${impl.adapter.architecture} (worst error ${check.worstError.toPrecision(3)} > 1, in units of its tolerance)`,
    );
  }
  return new GpuEngine(
    `WebGPU adapter ${impl.adapter.vendor} ${impl.adapter.architecture} passed the self-check (worst error ${check.worstError.toPrecision(3)} of tolerance, ${check.milliseconds.toFixed(0)} ms)`,
    impl,
  );
}

/** Without a usable GPU: the WebAssembly engine, or the CPU reference where WebAssembly SIMD is missing. */
async function withoutGpu(why: string, threads: number | undefined): Promise<Engine> {
  try {
    return await createWasmEngine(threads, `${why}; using WebAssembly`);
  } catch (e) {
    return new CpuEngine(`${why}; WebAssembly SIMD is not available either (${(e as Error).message}); using the CPU reference`);
  }
}

export { BpttDeviceError };

// createEngine: picks a backend and exposes the public contract of API.md.
import type { AnyModel, Batch, EngineOptions, EngineStats, GradientOptions, GradientResult, RnnModel, SequenceGradients, SequenceModel, Trainer, TrainerOptions, BackendName } from './types.js';
import { isSequenceModel, validateSequenceCall, validateSequenceTrainerOptions } from './validate-sequence.js';
import { BpttDeviceError, BpttInputError, describe } from './errors.js';
import { validateEngineLimits, validateGradientCall, validateTrainerOptions } from './validate.js';
import { cpuGradients } from './cpu/gradients.js';
import { createCpuTrainer } from './cpu/trainer.js';
import { assertUsable, markDisposed } from './lifecycle.js';
import { createGpuBackend, type GpuBackend } from './gpu/backend.js';
import type { DeviceApi } from './gpu/device-api.js';
import type { GemmTiming } from './gpu/bench-gemm.js';
import { type KernelChoice, type TuningTable, DEFAULT_CHOICE } from './tuning-types.js';
import { validateTuningOption } from './gpu/tuning.js';

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

export interface Engine {
  /** What 'auto' chose ('webgpu' or 'cpu'). */
  readonly backend: BackendName;
  /** Why that backend was chosen, in words. */
  readonly backendReason: string;
  /** The adapter in use, for the WebGPU backend. */
  readonly adapter: AdapterSummary | null;
  /** The GPUDevice in use, for the WebGPU backend. */
  readonly device: GPUDevice | null;
  /** The layer on GPUBuffers (forward, backward), for the WebGPU backend; throws on the CPU one. */
  readonly gpu: DeviceApi;
  gradients(model: RnnModel, batch: Batch, options: GradientOptions): Promise<GradientResult>;
  gradients(model: SequenceModel, batch: Batch, options: GradientOptions): Promise<SequenceGradients>;
  trainer(model: RnnModel, options: TrainerOptions): Trainer;
  trainer(model: SequenceModel, options: TrainerOptions): Trainer<SequenceModel>;
  /** Dispatch and submit counts of the last call, and the device memory held. */
  stats(): EngineStats;
  /** A small gradient call compared with the CPU reference. */
  selfCheck(): Promise<SelfCheckResult>;
  /** The WebGPU backend only: times the library's GEMM kernel on an n x n product. */
  benchGemm?(n: number, runs?: number): Promise<GemmTiming>;
  /** The kernel variants chosen so far, per shape class (pass it back as createEngine({ tuning: { table } })). */
  tuning(): TuningTable;
  /** Tunes the kernel variants for this call's shape class now (up front) and resolves to the choice. */
  tune(model: SequenceModel, batch: Batch, options: GradientOptions): Promise<KernelChoice>;
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
  gradients(model: RnnModel, batch: Batch, options: GradientOptions): Promise<GradientResult>;
  gradients(model: SequenceModel, batch: Batch, options: GradientOptions): Promise<SequenceGradients>;
  async gradients(model: AnyModel, batch: Batch, options: GradientOptions): Promise<GradientResult | SequenceGradients> {
    assertUsable(this, 'engine');
    if (isSequenceModel(model)) throw new BpttDeviceError('a SequenceModel on the CPU engine is not available in this build');
    const problem = validateGradientCall(model, batch, options);
    return cpuGradients(model, batch, problem);
  }
  trainer(model: RnnModel, options: TrainerOptions): Trainer;
  trainer(model: SequenceModel, options: TrainerOptions): Trainer<SequenceModel>;
  trainer(model: AnyModel, options: TrainerOptions): Trainer | Trainer<SequenceModel> {
    assertUsable(this, 'engine');
    if (isSequenceModel(model)) throw new BpttDeviceError('a SequenceModel on the CPU engine is not available in this build');
    return createCpuTrainer(model, options);
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
  gradients(model: RnnModel, batch: Batch, options: GradientOptions): Promise<GradientResult>;
  gradients(model: SequenceModel, batch: Batch, options: GradientOptions): Promise<SequenceGradients>;
  async gradients(model: AnyModel, batch: Batch, options: GradientOptions): Promise<GradientResult | SequenceGradients> {
    assertUsable(this, 'engine');
    if (isSequenceModel(model)) return this.impl.sequenceGradients(model, batch, validateSequenceCall(model, batch, options));
    const problem = validateGradientCall(model, batch, options);
    return this.impl.gradients(model, batch, problem);
  }
  trainer(model: RnnModel, options: TrainerOptions): Trainer;
  trainer(model: SequenceModel, options: TrainerOptions): Trainer<SequenceModel>;
  trainer(model: AnyModel, options: TrainerOptions): Trainer | Trainer<SequenceModel> {
    assertUsable(this, 'engine');
    if (isSequenceModel(model)) return this.impl.sequenceTrainer(model, validateSequenceTrainerOptions(model, options));
    return this.impl.trainer(model, validateTrainerOptions(model, options));
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
  async tune(model: SequenceModel, batch: Batch, options: GradientOptions): Promise<KernelChoice> {
    assertUsable(this, 'engine');
    if (!isSequenceModel(model)) throw new BpttInputError('model', 'a SequenceModel (the kernel variants are those of its cells)', describe(model));
    return this.impl.tune(model, validateSequenceCall(model, batch, options));
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
    throw new BpttInputError('options', "an EngineOptions object ({ backend?: 'auto' | 'webgpu' | 'cpu', device? })", describe(options));
  }
  const backend = options.backend ?? 'auto';
  if (backend !== 'auto' && backend !== 'webgpu' && backend !== 'cpu') {
    throw new BpttInputError('options.backend', "one of 'auto', 'webgpu', 'cpu'", describe(backend));
  }
  validateEngineLimits(options.limits);
  validateTuningOption(options.tuning);
  const device = options.device as Partial<GPUDevice> | undefined;
  if (device !== undefined && (typeof device !== 'object' || device === null || typeof device.createBuffer !== 'function' || typeof device.queue?.submit !== 'function')) {
    throw new BpttInputError('options.device', 'a GPUDevice (or undefined)', describe(options.device));
  }
  if (backend === 'cpu') return new CpuEngine("backend: 'cpu' was asked for");
  const gpuOptions = { device: options.device, limits: options.limits, kernelSources: options.kernelSources, tuning: options.tuning };
  if (backend === 'webgpu') {
    const impl = await createGpuBackend({ ...gpuOptions, allowFallbackAdapter: true });
    return new GpuEngine(`backend: 'webgpu' was asked for; adapter ${impl.adapter.vendor} ${impl.adapter.architecture}`, impl);
  }
  // auto: a real (non-fallback) adapter whose self-check passes, else the CPU reference
  let impl: GpuBackend;
  try {
    impl = await createGpuBackend({ ...gpuOptions, allowFallbackAdapter: options.allowSoftwareAdapter === true });
  } catch (e) {
    return new CpuEngine(`no usable WebGPU adapter (${(e as Error).message}); using the CPU reference`);
  }
  if (options.skipSelfCheck) return new GpuEngine(`WebGPU adapter ${impl.adapter.vendor} ${impl.adapter.architecture} (self-check skipped)`, impl);
  let check: SelfCheckResult;
  try {
    check = await impl.selfCheck();
  } catch (e) {
    impl.dispose();
    return new CpuEngine(`the WebGPU self-check could not run on ${impl.adapter.vendor} ${impl.adapter.architecture} (${(e as Error).message}); using the CPU reference`);
  }
  if (!check.ok) {
    impl.dispose();
    return new CpuEngine(
      `the WebGPU self-check failed on ${impl.adapter.vendor} ${impl.adapter.architecture} (worst error ${check.worstError.toPrecision(3)} > 1, in units of its tolerance); using the CPU reference`,
    );
  }
  return new GpuEngine(
    `WebGPU adapter ${impl.adapter.vendor} ${impl.adapter.architecture} passed the self-check (worst error ${check.worstError.toPrecision(3)} of tolerance, ${check.milliseconds.toFixed(0)} ms)`,
    impl,
  );
}

export { BpttDeviceError };

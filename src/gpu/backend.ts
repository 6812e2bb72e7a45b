// The WebGPU backend behind createEngine({ backend: 'webgpu' }): owns (or
// borrows) the device, the per-device context, and the self-check.
import type { Trainer, ForwardResult, AdapterSummary, SelfCheckResult, Batch, EngineStats, GradientResult, RnnModel, SequenceGradients, SequenceModel, StepTrainer, TrainerOptions } from '../types.js';
import type { SequenceProblem } from '../validate-sequence.js';
import type { Problem } from '../validate.js';
import { validateGradientCall } from '../validate.js';
import { cpuRnnGradients } from '../cpu/rnn-gradients.js';
import { sequenceProblemOfRnn } from '../validate-sequence.js';
import { rnnAsSequence, rnnGradientsOf } from '../sequence-model.js';
import { makeRng, uniformArray } from '../rng.js';
import { BpttDeviceError } from '../errors.js';
import { acquireDevice } from './device.js';
import { GpuContext } from './context.js';
import { gpuSequenceGradients } from './sequence-gradients.js';
import { gpuSequenceForward } from './sequence-forward.js';
import type { ForwardCall, GenerateCall } from '../validate-forward.js';
import { gpuGenerate } from './sequence-generate.js';
import { createGpuTrainer } from './trainer.js';
import { createGpuSequenceTrainer } from './sequence-trainer.js';
import { type DeviceApi, createDeviceApi } from './device-api.js';
import { type GemmTiming, benchGemm } from './bench-gemm.js';
import { Tuner, resolveTuning } from './tuning.js';
import type { KernelChoice, TuningOption, TuningTable } from '../tuning-types.js';
import { sequenceShape } from './sequence-gradients.js';
import { sequenceLayoutOfRnn } from '../params.js';

export interface GpuBackend {
  readonly adapter: AdapterSummary;
  readonly device: GPUDevice;
  readonly context: GpuContext;
  readonly gpu: DeviceApi;
  gradients(model: RnnModel, batch: Batch, problem: Problem): Promise<GradientResult>;
  sequenceGradients(model: SequenceModel, batch: Batch, problem: SequenceProblem): Promise<SequenceGradients>;
  trainer(model: RnnModel, options: TrainerOptions): StepTrainer & Pick<Trainer, 'forward' | 'generate'>;
  sequenceTrainer(model: SequenceModel, options: TrainerOptions): StepTrainer<SequenceModel> & Pick<Trainer<SequenceModel>, 'forward' | 'generate'>;
  forward(call: ForwardCall, batch: Batch): Promise<ForwardResult>;
  generate(call: GenerateCall): Promise<Int32Array>;
  stats(): EngineStats;
  selfCheck(): Promise<SelfCheckResult>;
  benchGemm(n: number, runs?: number): Promise<GemmTiming>;
  /** The tuned (or given) kernel variants per shape class. */
  tuning(): TuningTable;
  /** Tunes the shape class of this call now (up front), whatever the mode; resolves to its choice. */
  tune(model: SequenceModel, problem: SequenceProblem): Promise<KernelChoice>;
  /** The same for an RnnModel call (the chapter's kernels, or with lengths the cell kernels' variants). */
  tuneRnn(model: RnnModel, problem: Problem): Promise<KernelChoice>;
  dispose(): void;
}

export interface GpuBackendOptions {
  device?: GPUDevice;
  allowFallbackAdapter: boolean;
  /** Work within lower limits than the device's (bytes), e.g. to test what happens beyond them. */
  limits?: { maxStorageBufferBindingSize?: number; maxBufferSize?: number };
  /** Replacement WGSL for named kernels (tests of the self-check). */
  kernelSources?: Record<string, string>;
  /** Kernel variants (validated by createEngine). */
  tuning?: TuningOption;
}

/** Worst |gpu - cpu| / (atol + rtol*|cpu|) over every element of every output. */
export function worstError(gpu: GradientResult, cpu: GradientResult, rtol = 2e-3, atol = 1e-5): number {
  let worst = 0;
  const keys = ['dWhx', 'dWhh', 'dWqh', 'dbh', 'dbq', 'dh0', 'hT', 'dx', 'gradNormPerStep'] as const;
  for (const key of keys) {
    const a = gpu[key];
    const b = cpu[key];
    if (!a && !b) continue;
    if (!a || !b || a.length !== b.length) return Infinity;
    for (let i = 0; i < b.length; i++) {
      const r = Math.abs(a[i] - b[i]) / (atol + rtol * Math.abs(b[i]));
      if (!(r <= worst)) worst = Number.isNaN(r) ? Infinity : r;
    }
  }
  for (const key of ['loss', 'gradNorm'] as const) {
    if (Number.isNaN(cpu[key]) && Number.isNaN(gpu[key])) continue;
    const r = Math.abs(gpu[key] - cpu[key]) / (atol + rtol * Math.abs(cpu[key]));
    if (!(r <= worst)) worst = Number.isNaN(r) ? Infinity : r;
  }
  return worst;
}

/** The self-check's problem: small, odd sizes, tanh, biases, cross-entropy, every output. */
export function selfCheckProblem(): { model: RnnModel; batch: Batch } {
  const rng = makeRng(20261125);
  const T = 6, B = 3, d = 5, h = 9, q = 4;
  const model: RnnModel = {
    inputSize: d, hiddenSize: h, outputSize: q, activation: 'tanh',
    Whx: uniformArray(rng, h * d, 0.5), Whh: uniformArray(rng, h * h, 0.4), Wqh: uniformArray(rng, q * h, 0.6),
    bh: uniformArray(rng, h, 0.1), bq: uniformArray(rng, q, 0.1),
  };
  const batch: Batch = {
    steps: T, batchSize: B, x: uniformArray(rng, T * B * d, 1),
    y: Int32Array.from({ length: T * B }, () => Math.floor(rng() * q)),
    h0: uniformArray(rng, B * h, 0.3),
  };
  return { model, batch };
}

export async function createGpuBackend(options: GpuBackendOptions): Promise<GpuBackend> {
  const handle = await acquireDevice(options);
  const { device } = handle;
  const context = new GpuContext(device, options.kernelSources);
  const a = handle.adapter;
  const tuner = new Tuner(context, resolveTuning(options.tuning, a.isFallbackAdapter), `${a.vendor} ${a.architecture} ${a.device}`.trim());
  context.tuner = tuner;
  const limits = {
    maxBinding: Math.min(device.limits.maxStorageBufferBindingSize, options.limits?.maxStorageBufferBindingSize ?? Infinity),
    maxBuffer: Math.min(device.limits.maxBufferSize, options.limits?.maxBufferSize ?? Infinity),
  };
  const trainers = new Set<StepTrainer | StepTrainer<SequenceModel>>();
  let disposed = false;
  const assertOpen = () => {
    if (disposed) throw new BpttDeviceError('engine: this engine was disposed; create a new one');
  };
  const backend: GpuBackend = {
    adapter: handle.adapter,
    device,
    context,
    gpu: createDeviceApi(context, limits, assertOpen),
    // an RnnModel is one case of the layer walk: one rnn layer and a head (the chapter's kernels without lengths)
    gradients: async (model, batch, problem) =>
      rnnGradientsOf(await gpuSequenceGradients(context, limits, rnnAsSequence(model), batch, sequenceProblemOfRnn(model.activation, problem, problem.lengths ?? null), sequenceLayoutOfRnn(model))),
    sequenceGradients: (model, batch, problem) => gpuSequenceGradients(context, limits, model, batch, problem),
    forward: (call, batch) => gpuSequenceForward(context, limits, call, batch),
    generate: (call) => gpuGenerate(context, limits, call),
    trainer(model, trainerOptions) {
      const trainer = createGpuTrainer(context, limits, model, trainerOptions, () => trainers.delete(trainer));
      trainers.add(trainer);
      return trainer;
    },
    sequenceTrainer(model, trainerOptions) {
      const trainer = createGpuSequenceTrainer(context, limits, model, trainerOptions, () => trainers.delete(trainer));
      trainers.add(trainer);
      return trainer;
    },
    stats: () => ({
      dispatches: context.dispatches,
      submits: context.submits,
      liveBuffers: context.pool.liveBuffers + context.extraBuffers,
      liveBytes: context.pool.liveBytes + context.extraBytes,
      peakBytes: context.pool.peakBytes,
      readBytes: context.readBytes,
      tuningMs: tuner.milliseconds,
      tuningRuns: tuner.measurements,
    }),
    tuning: () => tuner.table(),
    async tune(model, problem) {
      const s = await tuner.choose(sequenceShape(model, problem), true);
      return s.choice!;
    },
    async tuneRnn(model, problem) {
      const s = await tuner.choose(sequenceShape(rnnAsSequence(model), sequenceProblemOfRnn(model.activation, problem, problem.lengths ?? null)), true);
      return s.choice!;
    },
    benchGemm: (n, runs) => benchGemm(context, n, runs),
    async selfCheck() {
      const start = performance.now();
      const { model, batch } = selfCheckProblem();
      const options = { loss: 'cross-entropy' as const, inputGradient: true, gradNormPerStep: true };
      const problem = validateGradientCall(model, batch, options);
      const gpu = await backend.gradients(model, batch, problem);
      const worst = worstError(gpu, cpuRnnGradients(model, batch, problem));
      return { ok: worst <= 1, worstError: worst, milliseconds: performance.now() - start };
    },
    dispose() {
      disposed = true;
      context.close(); // calls still pending reject with a BpttDeviceError that says so
      for (const t of [...trainers]) t.dispose();
      context.pool.destroyAll();
      context.destroyCaches();
      if (handle.owned) device.destroy();
    },
  };
  return backend;
}

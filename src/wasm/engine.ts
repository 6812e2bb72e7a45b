// The Engine of the 'wasm' backend (API.md "Backends"): the public contract
// around src/wasm/backend.ts.
import type { Engine, AdapterSummary, SelfCheckResult } from '../engine.js';
import type {
  AnyModel,
  Batch,
  EngineStats,
  ForwardOptions,
  ForwardResult,
  GenerateOptions,
  GradientOptions,
  GradientResult,
  RnnModel,
  SequenceGradients,
  SequenceModel,
  Trainer,
  TrainerOptions,
} from '../types.js';
import type { DeviceApi } from '../gpu/device-api.js';
import { BpttDeviceError } from '../errors.js';
import { assertUsable, isDisposed, markDisposed } from '../lifecycle.js';
import { checkPositiveInt } from '../validate.js';
import { isSequenceModel } from '../sequence-model.js';
import { createWasmBackend, type WasmBackend } from './backend.js';
import { type KernelChoice, type TuningTable, DEFAULT_CHOICE } from '../tuning-types.js';
import type { PhaseTimes } from './seq-call.js';
import { selfCheckProblem, worstError } from '../gpu/backend.js';
import { cpuRnnGradients } from '../cpu/rnn-gradients.js';
import { validateGradientCall } from '../validate.js';

export class WasmEngine implements Engine {
  readonly backend = 'wasm' as const;
  readonly adapter: AdapterSummary | null = null;
  readonly device: GPUDevice | null = null;
  constructor(
    readonly backendReason: string,
    private readonly impl: WasmBackend,
  ) {}
  /** Threads this engine computes on. */
  get threads(): number {
    return this.impl.threads;
  }
  get gpu(): DeviceApi {
    throw new BpttDeviceError(`engine.gpu needs the 'webgpu' backend; this engine uses WebAssembly (${this.backendReason})`);
  }
  // The RnnModel signature comes first and last, as in src/engine.ts.
  gradients(model: RnnModel, batch: Batch, options: GradientOptions): Promise<GradientResult>;
  gradients(model: SequenceModel, batch: Batch, options: GradientOptions): Promise<SequenceGradients>;
  gradients(model: RnnModel, batch: Batch, options: GradientOptions): Promise<GradientResult>;
  async gradients(model: AnyModel, batch: Batch, options: GradientOptions): Promise<GradientResult | SequenceGradients> {
    assertUsable(this, 'engine');
    if (isSequenceModel(model)) return this.impl.sequenceGradients(model, batch, options);
    return this.impl.gradients(model, batch, options);
  }
  trainer(model: RnnModel, options: TrainerOptions): Trainer;
  trainer(model: SequenceModel, options: TrainerOptions): Trainer<SequenceModel>;
  trainer(model: AnyModel, options: TrainerOptions): Trainer | Trainer<SequenceModel> {
    assertUsable(this, 'engine');
    // forward and generate run on the trainer's current flat parameters (src/wasm/trainer.ts)
    return isSequenceModel(model) ? this.impl.sequenceTrainer(model, options) : this.impl.trainer(model, options);
  }
  async forward(model: AnyModel, batch: Batch, options?: ForwardOptions): Promise<ForwardResult> {
    assertUsable(this, 'engine');
    return this.impl.forward(model, batch, options);
  }
  async generate(model: AnyModel, options: GenerateOptions): Promise<Int32Array> {
    assertUsable(this, 'engine');
    return this.impl.generate(model, options);
  }
  stats(): EngineStats {
    return this.impl.stats();
  }
  /** Benchmarks: milliseconds in each phase of the last gradient call or trainer step (thread 0's clock). */
  phaseTimes(): PhaseTimes | null {
    return this.impl.phaseTimes();
  }
  /**
   * Tests and benchmarks: which steps the layers of the last call ran, the chapter's own (src/wasm/c/seq_chapter.c,
   * wherever runsChapterKernels holds: an RnnModel without lengths) or the cells' (seq_step.c, seq_sweep.c).
   */
  lastSteps(): 'chapter' | 'cells' | null {
    return this.impl.lastSteps();
  }
  /** The kernel variants are the WebGPU backend's; this backend has one implementation. */
  tuning(): TuningTable {
    return { adapter: 'wasm', classes: {} };
  }
  async tune(): Promise<KernelChoice> {
    assertUsable(this, 'engine');
    return { ...DEFAULT_CHOICE };
  }
  async selfCheck(): Promise<SelfCheckResult> {
    assertUsable(this, 'engine');
    const start = performance.now();
    const { model, batch } = selfCheckProblem();
    const options = { loss: 'cross-entropy' as const, inputGradient: true, gradNormPerStep: true };
    const problem = validateGradientCall(model, batch, options);
    const got = this.impl.gradients(model, batch, options);
    const worst = worstError(got, cpuRnnGradients(model, batch, problem));
    return { ok: worst <= 1, worstError: worst, milliseconds: performance.now() - start };
  }
  dispose(): void {
    if (isDisposed(this)) return;
    markDisposed(this);
    this.impl.dispose();
  }
}

/** A 'wasm' engine; `why` starts its backendReason. Throws when WebAssembly SIMD is not available here. */
export async function createWasmEngine(threads: number | undefined, why: string): Promise<WasmEngine> {
  if (threads !== undefined) checkPositiveInt('options.threads', threads);
  const impl = await createWasmBackend(threads);
  return new WasmEngine(`${why}; WebAssembly SIMD on ${impl.threadReason}`, impl);
}

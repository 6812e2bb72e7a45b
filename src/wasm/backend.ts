// The 'wasm' engine: float32 kernels in WebAssembly (SIMD), on one or more
// threads over shared memory (src/wasm/pool.ts). Every call runs the layer walk
// (seq_run, seq-call.ts, seq-backend.ts); an RnnModel is one case of it, one rnn
// layer and a head on its own flat layout [Whx | Whh | Wqh | bh | bq]
// (sequenceLayoutOfRnn), where the rnn recipe runs the chapter's own steps
// (runsChapterKernels); the trainers are trainer.ts. An RnnModel's validation and
// parameter layout are the CPU reference's own (src/validate.ts, src/params.ts),
// so every engine refuses and accepts the same calls.
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
import { validateGradientCall } from '../validate.js';
import { packParams, sequenceLayoutOfRnn } from '../params.js';
import { rnnAsSequence, rnnGradientsOf } from '../sequence-model.js';
import { WasmPool } from './pool.js';
import type { PhaseTimes } from './seq-call.js';
import { wasmPlatform } from './platform.js';
import { sequenceProblemOfRnn, validateSequenceCall } from '../validate-sequence.js';
import { sequenceForward, sequenceGenerate, sequenceGradients } from './seq-backend.js';
import { createWasmRnnTrainer, createWasmSequenceTrainer } from './trainer.js';

export interface WasmBackend {
  readonly threads: number;
  /** engine.forward of any model (validated here). */
  forward(model: AnyModel, batch: Batch, options?: ForwardOptions): ForwardResult;
  /** engine.generate of any model (validated here). */
  generate(model: AnyModel, options: GenerateOptions): Int32Array;
  /** Why this many threads, in words. */
  readonly threadReason: string;
  gradients(model: RnnModel, batch: Batch, options: GradientOptions): GradientResult;
  trainer(model: RnnModel, options: TrainerOptions): Trainer;
  /** The same two for a SequenceModel (seq-backend.ts), validated here. */
  sequenceGradients(model: SequenceModel, batch: Batch, options: GradientOptions): SequenceGradients;
  sequenceTrainer(model: SequenceModel, options: TrainerOptions): Trainer<SequenceModel>;
  stats(): EngineStats;
  phaseTimes(): PhaseTimes | null;
  lastSteps(): 'chapter' | 'cells' | null;
  dispose(): void;
}

/**
 * A pool of `threads` (default min(cores, 4)); 1 where threads cannot share memory, or where the workers
 * do not start (a page whose content security policy forbids blob: workers), with the reason.
 */
export async function createWasmBackend(threads: number | undefined): Promise<WasmBackend> {
  const platform = wasmPlatform();
  const wanted = threads ?? Math.min(platform.cores(), 4);
  const blocked = wanted > 1 ? platform.noSharedMemory() : null;
  const n = blocked ? 1 : wanted;
  if (blocked) return new WasmImpl(await WasmPool.create(1, platform), `1 thread: ${blocked}`);
  try {
    const pool = await WasmPool.create(n, platform);
    return new WasmImpl(pool, `${n} thread${n > 1 ? 's' : ''}${threads === undefined ? ` (min(${platform.cores()} cores, 4))` : ''}`);
  } catch (e) {
    if (n === 1) throw e;
    return new WasmImpl(await WasmPool.create(1, platform), `1 thread: the worker threads did not start (${(e as Error).message})`);
  }
}

class WasmImpl implements WasmBackend {
  private readonly trainers = new Set<{ dispose(): void }>();
  constructor(
    private readonly pool: WasmPool,
    readonly threadReason: string,
  ) {}
  get threads(): number {
    return this.pool.threads;
  }

  /** An RnnModel's gradients: the walk's on its rnnAsSequence model, on the RnnModel's own flat layout. */
  gradients(model: RnnModel, batch: Batch, options: GradientOptions): GradientResult {
    const problem = validateGradientCall(model, batch, options);
    const p = sequenceProblemOfRnn(model.activation, problem, problem.lengths ?? null);
    return rnnGradientsOf(sequenceGradients(this.pool, rnnAsSequence(model), batch, p, sequenceLayoutOfRnn(model), packParams(model)));
  }

  forward(model: AnyModel, batch: Batch, options?: ForwardOptions): ForwardResult {
    return sequenceForward(this.pool, model, batch, options);
  }

  generate(model: AnyModel, options: GenerateOptions): Int32Array {
    return sequenceGenerate(this.pool, model, options);
  }

  trainer(model: RnnModel, options: TrainerOptions): Trainer {
    const t = createWasmRnnTrainer(this.pool, model, options, () => this.trainers.delete(t));
    this.trainers.add(t);
    return t;
  }

  sequenceGradients(model: SequenceModel, batch: Batch, options: GradientOptions): SequenceGradients {
    return sequenceGradients(this.pool, model, batch, validateSequenceCall(model, batch, options));
  }

  sequenceTrainer(model: SequenceModel, options: TrainerOptions): Trainer<SequenceModel> {
    const t = createWasmSequenceTrainer(this.pool, model, options, () => this.trainers.delete(t));
    this.trainers.add(t);
    return t;
  }

  stats(): EngineStats {
    const bytes = this.pool.memory.buffer.byteLength;
    return { dispatches: 0, submits: 0, liveBuffers: 0, liveBytes: bytes, peakBytes: bytes };
  }

  phaseTimes(): PhaseTimes | null {
    return this.pool.lastPhases;
  }

  lastSteps(): 'chapter' | 'cells' | null {
    return this.pool.lastSteps;
  }

  dispose(): void {
    for (const t of [...this.trainers]) t.dispose();
    this.pool.dispose();
  }
}

// The 'wasm' engine: float32 kernels in WebAssembly (SIMD), on one or more
// threads over shared memory (src/wasm/pool.ts). Validation, truncation draws,
// parameter layout and the trainer's bookkeeping are the CPU reference's own
// (src/validate.ts, src/truncation.ts, src/params.ts), so every engine
// refuses and accepts the same calls.
import type { Batch, GradientOptions, GradientResult, RnnModel, StepOptions, StepResult, StepTrainer, TrainerOptions, EngineStats } from '../types.js';
import type { Problem } from '../validate.js';
import { validateBatch, validateGradientCall, validateModel, validateTrainerOptions, validateTruncation } from '../validate.js';
import { BpttInputError } from '../errors.js';
import { layoutOf, packParams, unpackParams } from '../params.js';
import { truncationForStep } from '../truncation.js';
import { assertUsable, markDisposed } from '../lifecycle.js';
import { WasmPool } from './pool.js';
import { runCall, type PhaseTimes } from './call.js';
import { wasmPlatform } from './platform.js';

export interface WasmBackend {
  readonly threads: number;
  /** Why this many threads, in words. */
  readonly threadReason: string;
  gradients(model: RnnModel, batch: Batch, options: GradientOptions): GradientResult;
  trainer(model: RnnModel, options: TrainerOptions): StepTrainer;
  stats(): EngineStats;
  phaseTimes(): PhaseTimes | null;
  dispose(): void;
}

/** A pool of `threads` (default min(cores, 4)); 1 where threads cannot share memory, with the reason. */
export async function createWasmBackend(threads: number | undefined): Promise<WasmBackend> {
  const platform = wasmPlatform();
  const wanted = threads ?? Math.min(platform.cores(), 4);
  const blocked = wanted > 1 ? platform.noSharedMemory() : null;
  const n = blocked ? 1 : wanted;
  const reason = blocked
    ? `1 thread: ${blocked}`
    : `${n} thread${n > 1 ? 's' : ''}${threads === undefined ? ` (min(${platform.cores()} cores, 4))` : ''}`;
  const pool = await WasmPool.create(n, platform);
  return new WasmImpl(pool, reason);
}

class WasmImpl implements WasmBackend {
  private readonly trainers = new Set<StepTrainer>();
  constructor(
    private readonly pool: WasmPool,
    readonly threadReason: string,
  ) {}
  get threads(): number {
    return this.pool.threads;
  }

  gradients(model: RnnModel, batch: Batch, options: GradientOptions): GradientResult {
    const problem = validateGradientCall(model, batch, options);
    return gradientsOf(this.pool, model, batch, problem);
  }

  trainer(model: RnnModel, options: TrainerOptions): StepTrainer {
    const t = createWasmTrainer(this.pool, model, options, () => this.trainers.delete(t));
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

  dispose(): void {
    for (const t of [...this.trainers]) t.dispose();
    this.pool.dispose();
  }
}

function gradientsOf(pool: WasmPool, model: RnnModel, batch: Batch, problem: Problem): GradientResult {
  const { T, B, d, h, q } = problem.dims;
  const L = layoutOf(model);
  const r = runCall(pool, problem, model.activation, packParams(model), batch);
  const result: GradientResult = {
    loss: r.loss,
    dWhx: r.read('P_GRADS', h * d, L.Whx),
    dWhh: r.read('P_GRADS', h * h, L.Whh),
    dWqh: r.read('P_GRADS', q * h, L.Wqh),
    dh0: r.read('P_DH0', B * h),
    hT: r.read('P_HS', B * h, T * B * h),
    gradNorm: r.gradNorm,
    clipped: r.clipScale !== 0,
    nonFinite: r.nonFinite,
  };
  if (problem.hasBias) {
    result.dbh = r.read('P_GRADS', h, L.bh);
    result.dbq = r.read('P_GRADS', q, L.bq);
  }
  if (problem.inputGradient) result.dx = r.read('P_DX', T * B * d);
  if (problem.gradNormPerStep) result.gradNormPerStep = r.stepNorms();
  if (problem.truncation.kind === 'randomized' && r.xi) result.xi = r.xi;
  return result;
}

/** The trainer: parameters and Adam moments in flat Float32Arrays between steps, exactly as the CPU trainer keeps them. */
function createWasmTrainer(pool: WasmPool, model: RnnModel, options: TrainerOptions, onDispose: () => void): StepTrainer {
  const opts = validateTrainerOptions(model, options);
  const dims = validateModel(model);
  const shape = unpackParams(model, packParams(model));
  const params = packParams(model);
  const n = params.length;
  const adam = opts.optimizer.kind === 'adam';
  const m = adam ? new Float32Array(n) : undefined;
  const v = adam ? new Float32Array(n) : undefined;
  let applied = 0;
  let carried: Float32Array | null = null;
  let carriedB = 0;
  let draws = 0; // step() calls that passed validation: step k draws randomized xi from seed + k
  const self: StepTrainer = {
    backend: 'wasm',
    async step(batch: Batch, stepOptions: StepOptions = {}): Promise<StepResult> {
      assertUsable(self, 'trainer');
      const { T, B, tokens } = validateBatch(batch, dims, opts.loss, opts.checkFinite === true);
      const truncation = validateTruncation(opts.truncation, T, 'options.truncation');
      if (carried && carriedB !== B && batch.h0 === undefined) {
        throw new BpttInputError('batch.batchSize', `${carriedB} (the batch size of the carried state; call resetState() to change it)`, `${B}`);
      }
      const h0 = batch.h0 ?? (opts.carryState && carried ? carried : undefined);
      const problem: Problem = {
        dims: { T, B, d: dims.d, h: dims.h, q: dims.q },
        tokens,
        hasBias: dims.hasBias,
        loss: opts.loss,
        truncation: truncationForStep(truncation, draws++),
        clipNorm: opts.clipNorm,
        inputGradient: false,
        gradNormPerStep: false,
      };
      const r = runCall(pool, problem, shape.activation, params, { ...batch, h0 }, { optimizer: opts.optimizer, step: applied, m, v });
      if (!r.nonFinite) {
        applied++;
        // Only a step that was applied advances the carried state: a skipped step leaves the trainer as it was.
        if (opts.carryState) {
          carried = r.read('P_HS', B * dims.h, T * B * dims.h);
          carriedB = B;
        }
      }
      const out: StepResult = { loss: r.loss, skipped: r.nonFinite, step: applied };
      if (stepOptions.readGradNorm) out.gradNorm = r.gradNorm;
      return out;
    },
    async read(): Promise<RnnModel> {
      assertUsable(self, 'trainer');
      return unpackParams(shape, params);
    },
    resetState(): void {
      carried = null;
    },
    dispose(): void {
      markDisposed(self);
      onDispose();
    },
  };
  return self;
}

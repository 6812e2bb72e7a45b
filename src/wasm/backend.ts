// The 'wasm' engine: float32 kernels in WebAssembly (SIMD), on one or more
// threads over shared memory (src/wasm/pool.ts). An RnnModel runs here
// (bptt_run, call.ts); a SequenceModel in seq-backend.ts (seq_run, seq-call.ts). Validation, truncation draws,
// parameter layout and the trainer's bookkeeping are the CPU reference's own
// (src/validate.ts, src/truncation.ts, src/params.ts), so every engine
// refuses and accepts the same calls.
import type {
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
  StepOptions,
  StepResult,
  StepTrainer,
  Trainer,
  TrainerOptions,
} from '../types.js';
import { validateForwardCall, validateGenerateCall } from '../validate-forward.js';
import { pickToken } from '../cpu/sequence/infer.js';
import { makeRng } from '../rng.js';
import type { Problem } from '../validate.js';
import { validateBatch, validateGradientCall, validateModel, validateStepOptions, validateTrainerOptions, validateTruncation } from '../validate.js';
import { BpttInputError } from '../errors.js';
import { layoutOf, packParams, unpackParams } from '../params.js';
import { truncationForStep } from '../truncation.js';
import { assertUsable, markDisposed } from '../lifecycle.js';
import { WasmPool } from './pool.js';
import { runCall, type PhaseTimes } from './call.js';
import { wasmPlatform } from './platform.js';
import { validateSequenceCall } from '../validate-sequence.js';
import { createWasmSequenceTrainer, sequenceForward, sequenceGenerate, sequenceGradients } from './seq-backend.js';

export interface WasmBackend {
  readonly threads: number;
  /** engine.forward of an RnnModel (validated here). */
  forward(model: RnnModel, batch: Batch, options?: ForwardOptions): ForwardResult;
  /** engine.generate of an RnnModel (validated here). */
  generate(model: RnnModel, options: GenerateOptions): Int32Array;
  /** Why this many threads, in words. */
  readonly threadReason: string;
  gradients(model: RnnModel, batch: Batch, options: GradientOptions): GradientResult;
  trainer(model: RnnModel, options: TrainerOptions): StepTrainer;
  /** The same four for a SequenceModel (seq-backend.ts), validated here. */
  sequenceGradients(model: SequenceModel, batch: Batch, options: GradientOptions): SequenceGradients;
  sequenceForward(model: SequenceModel, batch: Batch, options?: ForwardOptions): ForwardResult;
  sequenceGenerate(model: SequenceModel, options: GenerateOptions): Int32Array;
  sequenceTrainer(model: SequenceModel, options: TrainerOptions): Trainer<SequenceModel>;
  stats(): EngineStats;
  phaseTimes(): PhaseTimes | null;
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

  gradients(model: RnnModel, batch: Batch, options: GradientOptions): GradientResult {
    const problem = validateGradientCall(model, batch, options);
    return gradientsOf(this.pool, model, batch, problem);
  }

  forward(model: RnnModel, batch: Batch, options?: ForwardOptions): ForwardResult {
    return forwardOf(this.pool, model, batch, options);
  }

  generate(model: RnnModel, options: GenerateOptions): Int32Array {
    const { prefix, steps, temperature, seed } = validateGenerateCall(model, options);
    const rng = makeRng(seed);
    const { h, q } = { h: model.hiddenSize, q: model.outputSize };
    const out = new Int32Array(steps);
    // the prefix from zero state, then one step per new token from the state before it (as the CPU reference)
    let batch: Batch = { steps: prefix.length, batchSize: 1, x: prefix };
    for (let i = 0; i < steps; i++) {
      const r = forwardOf(this.pool, model, batch, { outputs: ['O'] });
      out[i] = pickToken(r.O!.subarray((batch.steps - 1) * q, batch.steps * q), temperature, rng);
      batch = { steps: 1, batchSize: 1, x: Int32Array.of(out[i]), h0: r.hT.slice(0, h) };
    }
    return out;
  }

  trainer(model: RnnModel, options: TrainerOptions): StepTrainer {
    const t = createWasmTrainer(this.pool, model, options, () => this.trainers.delete(t));
    this.trainers.add(t);
    return t;
  }

  sequenceGradients(model: SequenceModel, batch: Batch, options: GradientOptions): SequenceGradients {
    return sequenceGradients(this.pool, model, batch, validateSequenceCall(model, batch, options));
  }

  sequenceForward(model: SequenceModel, batch: Batch, options?: ForwardOptions): ForwardResult {
    return sequenceForward(this.pool, model, batch, options);
  }

  sequenceGenerate(model: SequenceModel, options: GenerateOptions): Int32Array {
    return sequenceGenerate(this.pool, model, options);
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

  dispose(): void {
    for (const t of [...this.trainers]) t.dispose();
    this.pool.dispose();
  }
}

function forwardOf(pool: WasmPool, model: RnnModel, batch: Batch, options?: ForwardOptions): ForwardResult {
  const call = validateForwardCall(model, batch, options);
  const { T, B, d, h, q, tokens, hasBias, loss, lengths } = call.problem;
  const problem: Problem = {
    dims: { T, B, d, h, q },
    tokens,
    hasBias,
    loss,
    truncation: { kind: 'full' },
    clipNorm: undefined,
    inputGradient: false,
    gradNormPerStep: false,
    lengths,
  };
  const r = runCall(pool, problem, model.activation, packParams(model), batch, undefined, { O: call.outputs.O });
  const out: ForwardResult = { hT: r.read('P_HS', B * h, T * B * h) };
  if (call.withLoss) out.loss = r.loss;
  if (call.outputs.O) out.O = r.read('P_O', T * B * q);
  if (call.outputs.Y) {
    const Y = r.read('P_HS', T * B * h, B * h);
    // zero at padded steps (H carries each sequence's last state there)
    if (lengths) for (let t = 0; t < T; t++) for (let b = 0; b < B; b++) if (t >= lengths[b]) Y.fill(0, (t * B + b) * h, (t * B + b + 1) * h);
    out.Y = Y;
  }
  return out;
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
    async step(batch: Batch, stepOptionsGiven?: StepOptions): Promise<StepResult> {
      assertUsable(self, 'trainer');
      const stepOptions = validateStepOptions(stepOptionsGiven);
      const { T, B, tokens, lengths } = validateBatch(batch, dims, opts.loss, opts.checkFinite === true);
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
        lengths,
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

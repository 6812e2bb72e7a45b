// The 'wasm' trainers: the parameters and Adam moments live in flat
// Float32Arrays between steps, in the trainer's layout, as they do in one GPU
// buffer; a step is one call of the layer walk (runSequenceCall) on them with
// the update. One step serves both trainers: a SequenceModel's on its layout
// (sequence-params.ts) and an RnnModel's on its own [Whx|Whh|Wqh|bh|bq]
// (sequenceLayoutOfRnn), as the CPU and WebGPU trainers do; each checks its
// batches its own way, so every refusal names what it did before. Forward and
// generate run on the flat parameters, without unpacking them. Truncation draws
// and the bookkeeping are the CPU trainer's (src/cpu/sequence/trainer.ts).
import type { Batch, ForwardOptions, ForwardResult, GenerateOptions, OptimizerOptions, RnnModel, SequenceModel, StepOptions, StepResult, Trainer, TrainerOptions } from '../types.js';
import { packSequence, sequenceLayout, unpackSequence, type SequenceLayout } from '../sequence-params.js';
import { packParams, sequenceLayoutOfRnn, unpackParams } from '../params.js';
import { validateSequenceBatch, validateSequenceTrainerOptions, type SequenceDims } from '../validate-sequence.js';
import { modelAsSequence, validateForwardCall } from '../validate-forward.js';
import { validateBatch, validateModel, validateTrainerOptions } from '../validate.js';
import { assertUsable, markDisposed } from '../lifecycle.js';
import { type BatchCheck, type CarriedState, prepareHostStep } from '../trainer-step.js';
import { forwardOnFlat, generateOnFlat } from './seq-backend.js';
import { runSequenceCall } from './seq-call.js';
import type { WasmPool } from './pool.js';

/** What a wasm trainer keeps between steps. */
interface TrainerState {
  params: Float32Array; // the flat parameters, in the trainer's layout
  m?: Float32Array; // Adam moments, the same layout
  v?: Float32Array;
  applied: number; // updates applied
  carried: CarriedState | null; // each sequence's final states from its own end
  draws: number; // step() calls that passed validation: step k draws randomized xi from seed + k
}

function trainerState(params: Float32Array, optimizer: OptimizerOptions): TrainerState {
  const adam = optimizer.kind === 'adam';
  const n = params.length;
  return { params, m: adam ? new Float32Array(n) : undefined, v: adam ? new Float32Array(n) : undefined, applied: 0, carried: null, draws: 0 };
}

/** One training step of the layer walk on own.params, laid out as `layout` says. */
function trainerStep(
  pool: WasmPool,
  dims: SequenceDims,
  layout: SequenceLayout,
  opts: TrainerOptions,
  own: TrainerState,
  batch: Batch,
  stepOptionsGiven: StepOptions | undefined,
  checkBatch: BatchCheck,
): StepResult {
  const { stepOptions, shape, p, h0, c0 } = prepareHostStep(dims, opts, own, batch, stepOptionsGiven, checkBatch);
  const r = runSequenceCall(pool, p, own.params, layout, { ...batch, h0, c0 }, { optimizer: opts.optimizer, step: own.applied, m: own.m, v: own.v });
  if (!r.nonFinite) {
    own.applied++;
    // Only a step that was applied advances the carried state: a skipped step leaves the trainer as it was.
    if (opts.carryState) {
      const size = dims.L * dims.dirs * shape.B * dims.h;
      own.carried = { h: r.read('QP_HT', size), c: dims.cell === 'lstm' ? r.read('QP_CT', size) : null, B: shape.B };
    }
  }
  const out: StepResult = { loss: r.loss, skipped: r.nonFinite, step: own.applied };
  if (stepOptions.readGradNorm) out.gradNorm = r.gradNorm;
  return out;
}

/** A trainer around the step: `like` is the model (snapshotted) whose shape read() returns. */
function makeTrainer<M extends RnnModel | SequenceModel>(
  pool: WasmPool,
  like: M,
  dims: SequenceDims,
  layout: SequenceLayout,
  opts: TrainerOptions,
  own: TrainerState,
  checkBatch: BatchCheck,
  unpack: (flat: Float32Array) => M,
  onDispose: () => void,
): Trainer<M> {
  const self: Trainer<M> = {
    backend: 'wasm',
    async step(batch: Batch, stepOptions?: StepOptions): Promise<StepResult> {
      assertUsable(self, 'trainer');
      return trainerStep(pool, dims, layout, opts, own, batch, stepOptions, checkBatch);
    },
    async read(): Promise<M> {
      assertUsable(self, 'trainer');
      return unpack(own.params);
    },
    resetState(): void {
      own.carried = null;
    },
    async forward(batch: Batch, o?: ForwardOptions): Promise<ForwardResult> {
      assertUsable(self, 'trainer');
      return forwardOnFlat(pool, validateForwardCall(like, batch, o), own.params, layout, batch);
    },
    async generate(o: GenerateOptions): Promise<Int32Array> {
      assertUsable(self, 'trainer');
      return generateOnFlat(pool, like, own.params, layout, o);
    },
    dispose(): void {
      markDisposed(self);
      onDispose();
    },
  };
  return self;
}

/** A SequenceModel's trainer; the model and the options are snapshotted at creation. */
export function createWasmSequenceTrainer(pool: WasmPool, model: SequenceModel, options: TrainerOptions, onDispose: () => void): Trainer<SequenceModel> {
  const opts = validateSequenceTrainerOptions(model, options);
  const layout = sequenceLayout(model);
  const params = packSequence(model, layout);
  const like = unpackSequence(model, params, layout);
  const checkBatch: BatchCheck = (batch) => validateSequenceBatch(batch, opts.dims, opts.loss, opts.checkFinite === true);
  return makeTrainer(pool, like, opts.dims, layout, opts, trainerState(params, opts.optimizer), checkBatch, (flat) => unpackSequence(like, flat, layout), onDispose);
}

/** An RnnModel's trainer, on its [Whx|Whh|Wqh|bh|bq] vector (sequenceLayoutOfRnn); batches checked as an RnnModel's. */
export function createWasmRnnTrainer(pool: WasmPool, model: RnnModel, options: TrainerOptions, onDispose: () => void): Trainer {
  const opts = validateTrainerOptions(model, options);
  const rnnDims = validateModel(model);
  const like = unpackParams(model, packParams(model)); // the shape, never the caller's arrays
  const checkBatch: BatchCheck = (batch) => validateBatch(batch, rnnDims, opts.loss, opts.checkFinite === true);
  const state = trainerState(packParams(like), opts.optimizer);
  return makeTrainer(pool, like, modelAsSequence(like).dims, sequenceLayoutOfRnn(like), opts, state, checkBatch, (flat) => unpackParams(like, flat), onDispose);
}

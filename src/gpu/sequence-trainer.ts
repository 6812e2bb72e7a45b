// The WebGPU trainer of a SequenceModel: parameters, optimizer state and the
// carried states (h, and c for an lstm, of every layer-direction) stay on the
// device between steps; a step reads back 32 bytes (the loss and the flags of
// kernels/finalize.wgsl), nothing else.
import type { BufferPool } from './buffers.js';
import type { Batch, ForwardOptions, ForwardResult, GenerateOptions, SequenceModel, StepOptions, StepResult, StepTrainer, Trainer, TrainerOptions } from '../types.js';
import { validateForwardCall, validateGenerateCall } from '../validate-forward.js';
import { gpuGenerate } from './sequence-generate.js';
import { gpuSequenceForward } from './sequence-forward.js';
import { BpttDeviceError, BpttInputError } from '../errors.js';
import { type SequenceLayout, packSequence, sequenceLayout, unpackSequence } from '../sequence-params.js';
import { truncationForStep, truncationXi } from '../truncation.js';
import { validateStepOptions, validateTruncation } from '../validate.js';
import { type SequenceDims, validateSequenceBatch, validateSequenceModel } from '../validate-sequence.js';
import { assertUsable, markDisposed } from '../lifecycle.js';
import { type GpuContext, upload } from './context.js';
import { elementwise } from './encode.js';
import { STORAGE, checkLimits } from './limits.js';
import { kernel } from './kernels.js';
import { submitAndRead } from './call.js';
import { chooseVariants } from './tuning.js';
import { recordOptimizerUpdate } from './optimizer.js';
import { statsLayout } from './stats.js';
import { checkSequenceDispatchLimits, dispatchLimits } from './dispatch-limits.js';
import { planSequence, recordSequenceBackward, recordSequenceForward, recordSequenceHead, seqBufferSizes, seqOffsets, sequenceDispatches } from './sequence-encode.js';
import { acquireSequenceBuffers, releaseSequenceBuffers, uploadSequenceBatch } from './sequence-gradients.js';


/** What a device trainer keeps between steps: its buffers (in `layout`), the carried states and its counters. */
export interface DeviceTrainerState {
  params: GPUBuffer;
  stats: GPUBuffer; // the Stats scalars of finalize.wgsl (no per-step norms)
  m: GPUBuffer | null; // Adam's moments
  v: GPUBuffer | null;
  state: GPUBuffer | null; // carried h0 [K, B, h] (then c0 [K, B, h] for an lstm) of the next step
  stateB: number;
  applied: number;
  draws: number; // step() calls that passed validation: randomized xi from seed + k, as the other trainers
  released?: boolean; // set by releaseTrainerState (the trainer was disposed)
}

/**
 * After a step's submit, what the trainer records on the host from the Stats read back: a completed
 * step (applied or skipped) moves to the next randomized draw; only an applied one counts and adopts
 * `fresh` (the carried state at a new batch size) in place of the old one, which goes back to the pool.
 */
function settleStep(
  own: DeviceTrainerState,
  pool: BufferPool,
  out: Float32Array,
  fresh: GPUBuffer | null,
  B: number,
  lossIsNone: boolean,
  readGradNorm: boolean | undefined,
): StepResult {
  const S = statsLayout();
  const skipped = out[S.nonFinite] !== 0;
  own.draws++;
  if (!skipped) own.applied++;
  if (fresh && !skipped) {
    if (own.state) pool.release(own.state);
    own.state = fresh;
    own.stateB = B;
  }
  const result: StepResult = { loss: lossIsNone ? NaN : out[S.loss], skipped, step: own.applied };
  if (readGradNorm) result.gradNorm = out[S.gradNorm];
  return result;
}

/**
 * One training step of the layer walk on a trainer's own buffers: `layout` places every tensor inside
 * `own.params` (and the gradient, in the same layout), so the RnnModel trainer runs it on its vanilla
 * [Whx|Whh|Wqh|bh|bq] buffers (a batch with lengths) and the optimizer kernels run unchanged.
 */
export async function sequenceTrainerStep(
  ctx: GpuContext,
  limits: { maxBinding: number; maxBuffer: number },
  dims: SequenceDims,
  layout: SequenceLayout,
  opts: TrainerOptions,
  own: DeviceTrainerState,
  batch: Batch,
  stepOptions: { readGradNorm: boolean },
): Promise<StepResult> {
  const pool = ctx.pool;
  const S = statsLayout();
  const n = layout.total;
  const K = dims.L * dims.dirs;
  const lstm = dims.cell === 'lstm';
  const { params, stats, m, v } = own;
  const { T, B, tokens, lengths } = validateSequenceBatch(batch, dims, opts.loss, opts.checkFinite === true);
  const truncation = validateTruncation(opts.truncation, T, 'options.truncation');
  const carrying = opts.carryState === true && own.state !== null && batch.h0 === undefined && batch.c0 === undefined;
  if (carrying && own.stateB !== B) {
    throw new BpttInputError('batch.batchSize', `${own.stateB} (the batch size of the carried state; call resetState() to change it)`, `${B}`);
  }
  const s = await chooseVariants(ctx, planSequence(dims, { T, B, activation: dims.activation, tokens, loss: opts.loss, xi: truncationXi(truncationForStep(truncation, own.draws), T), window: truncation.kind === 'window' ? truncation.steps : 0, lengths }, layout));
  // (choosing may await the tuner: a dispose() meanwhile ends this step here, before any buffer is touched)
  ctx.assertAlive();
  if (own.released) throw new BpttDeviceError('trainer: this trainer was disposed while its step was being prepared; create a new one');
  const sizes = seqBufferSizes(s, false);
  checkLimits(sizes, limits);
  const dispatches = sequenceDispatches(s, { dx: false, clip: false }) + 1 + (opts.carryState ? 1 : 0);
  checkSequenceDispatchLimits(s, dispatches, dispatchLimits(ctx.device));
  const bufs = acquireSequenceBuffers(ctx, { ...sizes, params: 0, stats: 0 }, { params, stats });
  // h of every layer-direction, then c for an lstm: an rnn's carried state is [K, B, h], the RnnModel trainer's [B, h]
  const stateBytes = (lstm ? 2 : 1) * K * B * dims.h * 4;
  // A new carried state (first step, or a new batch size with h0/c0 given) goes into a buffer of
  // its own, adopted only once this step is known to have been applied: a step that fails or is
  // skipped leaves the carried state as it was, batch size included (as the RnnModel trainer).
  let fresh = opts.carryState && (!own.state || own.stateB !== B) ? pool.acquire(stateBytes, STORAGE(), 'carried state') : null;
  const target = fresh ?? (opts.carryState ? own.state : null);
  try {
    const out = await submitAndRead(ctx, 'a training step', dispatches, S.fixed, (rec, staging) => {
      uploadSequenceBatch(ctx, rec, s, bufs, batch);
      if (carrying) rec.copy(own.state!, 0, bufs.state0, 0, stateBytes); // state0 is h0 then c0, as the carried state
      recordSequenceForward(rec, s, bufs);
      recordSequenceHead(rec, s, bufs);
      recordSequenceBackward(rec, s, bufs, { perStepNorms: false, dx: false, clipNorm: opts.clipNorm ?? 0, applyClip: false, countStep: true });
      recordOptimizerUpdate(rec, opts.optimizer, { grad: bufs.grad, stats, theta: params, m, v }, n);
      if (target) {
        // Only a step that was applied advances the carried state (decided on the device: no read-back).
        rec.dispatch(
          kernel('carry_sequence_state'),
          {},
          { saved: bufs.saved, stats, state: target },
          { T, B, h: dims.h, dirs: dims.dirs, K, hasC: lstm ? 1 : 0, offHs: seqOffsets(s).Hs(0), offC: seqOffsets(s).C(0) },
          elementwise((lstm ? 2 : 1) * K * B * dims.h),
        );
      }
      rec.copy(stats, 0, staging, 0, S.fixed * 4);
    });
    const result = settleStep(own, pool, out, fresh, B, opts.loss === 'none', stepOptions.readGradNorm);
    if (result.skipped === false) fresh = null; // adopted as the carried state
    return result;
  } finally {
    if (fresh) pool.release(fresh);
    releaseSequenceBuffers(ctx, bufs, { params, stats });
    pool.settle();
  }
}

export function createGpuSequenceTrainer(
  ctx: GpuContext,
  limits: { maxBinding: number; maxBuffer: number },
  model: SequenceModel,
  opts: TrainerOptions,
  onDispose: () => void,
): StepTrainer<SequenceModel> & Pick<Trainer<SequenceModel>, 'forward' | 'generate'> {
  ctx.assertAlive();
  const dims = validateSequenceModel(model);
  const layout = sequenceLayout(model);
  const n = layout.total;
  checkLimits({ params: n }, limits, 'model', { 'trainer read': n });
  const like = unpackSequence(model, packSequence(model)); // the shape, never the caller's arrays
  const own = createTrainerState(ctx, packSequence(model), opts);
  const onDevice = { buffer: own.params, layout };

  const trainer: StepTrainer<SequenceModel> & Pick<Trainer<SequenceModel>, 'forward' | 'generate'> = {
    backend: 'webgpu',
    async step(batch: Batch, stepOptionsGiven?: StepOptions): Promise<StepResult> {
      assertUsable(trainer, 'trainer');
      ctx.assertAlive();
      return sequenceTrainerStep(ctx, limits, dims, layout, opts, own, batch, validateStepOptions(stepOptionsGiven));
    },
    /** engine.forward on the current parameters, in place on the device (no read-back of the parameters). */
    async forward(batch: Batch, options?: ForwardOptions): Promise<ForwardResult> {
      assertUsable(trainer, 'trainer');
      return gpuSequenceForward(ctx, limits, validateForwardCall(like, batch, options), batch, onDevice);
    },
    /** engine.generate on the current parameters, in place on the device. */
    async generate(options: GenerateOptions): Promise<Int32Array> {
      assertUsable(trainer, 'trainer');
      return gpuGenerate(ctx, limits, validateGenerateCall(like, options), onDevice);
    },
    async read(): Promise<SequenceModel> {
      assertUsable(trainer, 'trainer');
      ctx.assertAlive();
      const flat = await submitAndRead(ctx, 'trainer.read', 0, n, (rec, staging) => rec.copy(own.params, 0, staging, 0, n * 4));
      return unpackSequence(like, flat);
    },
    resetState(): void {
      if (own.state) ctx.pool.release(own.state);
      own.state = null;
    },
    dispose(): void {
      try {
        assertUsable(trainer, 'trainer');
      } catch {
        return;
      }
      markDisposed(trainer);
      releaseTrainerState(ctx, own);
      onDispose();
    },
  };
  return trainer;
}

/** A trainer's parameter buffer holding `flat`, its stats and (Adam) zeroed moments; nothing carried yet. */
export function createTrainerState(ctx: GpuContext, flat: Float32Array, opts: TrainerOptions): DeviceTrainerState {
  const pool = ctx.pool;
  const n = flat.length;
  const params = pool.acquire(n * 4, STORAGE(), 'trainer params');
  upload(ctx.device, params, 0, flat);
  const S = statsLayout();
  const stats = pool.acquire(S.fixed * 4, STORAGE(), 'trainer stats');
  upload(ctx.device, stats, 0, new Float32Array(S.fixed));
  const adam = opts.optimizer.kind === 'adam';
  const m = adam ? pool.acquire(n * 4, STORAGE(), 'adam m') : null;
  const v = adam ? pool.acquire(n * 4, STORAGE(), 'adam v') : null;
  if (m && v) {
    upload(ctx.device, m, 0, new Float32Array(n));
    upload(ctx.device, v, 0, new Float32Array(n));
  }
  return { params, stats, m, v, state: null, stateB: 0, applied: 0, draws: 0 };
}

export function releaseTrainerState(ctx: GpuContext, own: DeviceTrainerState): void {
  for (const b of [own.params, own.stats, own.m, own.v, own.state]) if (b) ctx.pool.release(b);
  own.state = null;
  own.released = true;
}

// The WebGPU trainer of a SequenceModel: parameters, optimizer state and the
// carried states (h, and c for an lstm, of every layer-direction) stay on the
// device between steps; a step reads back 32 bytes (the loss and the flags of
// kernels/finalize.wgsl), nothing else.
import type { Batch, ForwardOptions, ForwardResult, GenerateOptions, SequenceModel, StepOptions, StepResult, StepTrainer, Trainer, TrainerOptions } from '../types.js';
import { validateForwardCall, validateGenerateCall } from '../validate-forward.js';
import { gpuGenerate } from './sequence-generate.js';
import { gpuSequenceForward } from './sequence-forward.js';
import { BpttInputError } from '../errors.js';
import { packSequence, sequenceLayout, unpackSequence } from '../sequence-params.js';
import { truncationForStep, truncationXi } from '../truncation.js';
import { validateStepOptions, validateTruncation } from '../validate.js';
import { validateSequenceBatch, validateSequenceModel } from '../validate-sequence.js';
import { assertUsable, markDisposed } from '../lifecycle.js';
import { type GpuContext, upload } from './context.js';
import { elementwise } from './encode.js';
import { STORAGE, checkLimits } from './gradients.js';
import { kernel } from './kernels.js';
import { submitAndRead } from './call.js';
import { chooseVariants } from './tuning.js';
import { recordOptimizerUpdate } from './optimizer.js';
import { statsLayout } from './stats.js';
import { checkSequenceDispatchLimits, dispatchLimits } from './dispatch-limits.js';
import { planSequence, recordSequenceBackward, recordSequenceForward, recordSequenceHead, seqBufferSizes, seqOffsets, sequenceDispatches } from './sequence-encode.js';
import { acquireSequenceBuffers, releaseSequenceBuffers, uploadSequenceBatch } from './sequence-gradients.js';


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
  const pool = ctx.pool;
  const params = pool.acquire(n * 4, STORAGE(), 'trainer params');
  upload(ctx.device, params, 0, packSequence(model));
  const S = statsLayout();
  const stats = pool.acquire(S.fixed * 4, STORAGE(), 'trainer stats'); // the Stats scalars of finalize.wgsl (no per-step norms)
  upload(ctx.device, stats, 0, new Float32Array(S.fixed));
  const adam = opts.optimizer.kind === 'adam';
  const m = adam ? pool.acquire(n * 4, STORAGE(), 'adam m') : null;
  const v = adam ? pool.acquire(n * 4, STORAGE(), 'adam v') : null;
  if (m && v) {
    upload(ctx.device, m, 0, new Float32Array(n));
    upload(ctx.device, v, 0, new Float32Array(n));
  }
  const K = dims.L * dims.dirs;
  const lstm = dims.cell === 'lstm';
  let state: GPUBuffer | null = null; // carried [h0 | c0] of the next step, [2, K, B, h]
  let stateB = 0;
  let applied = 0;
  let draws = 0; // step() calls that passed validation: randomized xi from seed + k, as the other trainers

  const trainer: StepTrainer<SequenceModel> & Pick<Trainer<SequenceModel>, 'forward' | 'generate'> = {
    backend: 'webgpu',
    async step(batch: Batch, stepOptionsGiven?: StepOptions): Promise<StepResult> {
      assertUsable(trainer, 'trainer');
      ctx.assertAlive();
      const stepOptions = validateStepOptions(stepOptionsGiven);
      const { T, B, tokens, lengths } = validateSequenceBatch(batch, dims, opts.loss, opts.checkFinite === true);
      const truncation = validateTruncation(opts.truncation, T, 'options.truncation');
      if (lengths && truncation.kind === 'window') throw new BpttInputError('batch.lengths', "undefined with window truncation on the 'webgpu' backend (use full, chunked or randomized truncation, or backend 'cpu')", 'an Int32Array');
      const carrying = opts.carryState === true && state !== null && batch.h0 === undefined && batch.c0 === undefined;
      if (carrying && stateB !== B) {
        throw new BpttInputError('batch.batchSize', `${stateB} (the batch size of the carried state; call resetState() to change it)`, `${B}`);
      }
      const s = await chooseVariants(ctx, planSequence(dims, { T, B, activation: dims.activation, tokens, loss: opts.loss, xi: truncationXi(truncationForStep(truncation, draws), T), window: truncation.kind === 'window' ? truncation.steps : 0, lengths }, layout));
      // (choosing may await the tuner: a dispose() meanwhile ends this step here, before any buffer is touched)
      assertUsable(trainer, 'trainer');
      ctx.assertAlive();
      const sizes = seqBufferSizes(s, false);
      checkLimits(sizes, limits);
      const dispatches = sequenceDispatches(s, { dx: false, clip: false }) + 1 + (opts.carryState ? 1 : 0);
      checkSequenceDispatchLimits(s, dispatches, dispatchLimits(ctx.device));
      const bufs = acquireSequenceBuffers(ctx, { ...sizes, params: 0, stats: 0 }, { params, stats });
      const stateBytes = 2 * K * B * dims.h * 4;
      // A new carried state (first step, or a new batch size with h0/c0 given) goes into a buffer of
      // its own, adopted only once this step is known to have been applied: a step that fails or is
      // skipped leaves the carried state as it was, batch size included (as the RnnModel trainer).
      let fresh = opts.carryState && (!state || stateB !== B) ? pool.acquire(stateBytes, STORAGE(), 'carried state') : null;
      const target = fresh ?? (opts.carryState ? state : null);
      try {
        const out = await submitAndRead(ctx, 'a training step', dispatches, S.fixed, (rec, staging) => {
          uploadSequenceBatch(ctx, rec, s, bufs, batch);
          if (carrying) rec.copy(state!, 0, bufs.state0, 0, stateBytes);
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
        const skipped = out[S.nonFinite] !== 0;
        draws++; // a completed step (applied or skipped) moves to the next randomized draw, as on the CPU
        if (!skipped) applied++;
        if (fresh && !skipped) {
          if (state) pool.release(state);
          state = fresh;
          stateB = B;
          fresh = null;
        }
        const result: StepResult = { loss: opts.loss === 'none' ? NaN : out[S.loss], skipped, step: applied };
        if (stepOptions.readGradNorm) result.gradNorm = out[S.gradNorm];
        return result;
      } finally {
        if (fresh) pool.release(fresh);
        releaseSequenceBuffers(ctx, bufs, { params, stats });
        pool.settle();
      }
    },
    /** engine.forward on the current parameters, in place on the device (no read-back of the parameters). */
    async forward(batch: Batch, options?: ForwardOptions): Promise<ForwardResult> {
      assertUsable(trainer, 'trainer');
      return gpuSequenceForward(ctx, limits, validateForwardCall(like, batch, options), batch, params);
    },
    /** engine.generate on the current parameters, in place on the device. */
    async generate(options: GenerateOptions): Promise<Int32Array> {
      assertUsable(trainer, 'trainer');
      return gpuGenerate(ctx, limits, validateGenerateCall(like, options), params);
    },
    async read(): Promise<SequenceModel> {
      assertUsable(trainer, 'trainer');
      ctx.assertAlive();
      const flat = await submitAndRead(ctx, 'trainer.read', 0, n, (rec, staging) => rec.copy(params, 0, staging, 0, n * 4));
      return unpackSequence(like, flat);
    },
    resetState(): void {
      if (state) pool.release(state);
      state = null;
    },
    dispose(): void {
      try {
        assertUsable(trainer, 'trainer');
      } catch {
        return;
      }
      markDisposed(trainer);
      for (const b of [params, stats, m, v, state]) if (b) pool.release(b);
      state = null;
      onDispose();
    },
  };
  return trainer;
}


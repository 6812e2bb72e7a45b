// The WebGPU trainer of an RnnModel: parameters, optimizer state and the
// carried hidden state stay on the device between steps; a step reads back 32
// bytes (the loss and the flags of kernels/finalize.wgsl), nothing else. A
// batch with lengths runs the layer walk (sequence-trainer.ts) on the same
// buffers, read through the vanilla layout; forward and generate run on them
// too, without reading the parameters back.
import type { Batch, ForwardOptions, ForwardResult, GenerateOptions, RnnModel, StepOptions, StepResult, StepTrainer, Trainer, TrainerOptions } from '../types.js';
import { BpttInputError } from '../errors.js';
import { layoutOf, packParams, sequenceLayoutOfRnn, unpackParams } from '../params.js';
import { truncationForStep, truncationXi } from '../truncation.js';
import { validateBatch, validateModel, validateStepOptions, validateTruncation } from '../validate.js';
import { validateForwardCall, validateGenerateCall, modelAsSequence } from '../validate-forward.js';
import { assertUsable, markDisposed } from '../lifecycle.js';
import { type GpuContext, upload } from './context.js';
import { bufferSizes, elementwise, maxDispatches, planShape, recordBackward, recordForward, recordOutputAndLoss } from './encode.js';
import { STORAGE, acquireBuffers, checkLimits, releaseBuffers, uploadBatch } from './gradients.js';
import { kernel } from './kernels.js';
import { checkDispatchLimits, dispatchLimits } from './dispatch-limits.js';
import { submitAndRead } from './call.js';
import { recordOptimizerUpdate } from './optimizer.js';
import { statsLayout } from './stats.js';
import { chooseRnnVariants } from './tuning.js';
import { createTrainerState, releaseTrainerState, sequenceTrainerStep, settleStep } from './sequence-trainer.js';
import { gpuRnnForward } from './rnn-forward.js';
import { gpuSequenceForward } from './sequence-forward.js';
import { gpuGenerate } from './sequence-generate.js';

export function createGpuTrainer(
  ctx: GpuContext,
  limits: { maxBinding: number; maxBuffer: number },
  model: RnnModel,
  opts: TrainerOptions,
  onDispose: () => void,
): StepTrainer & Pick<Trainer, 'forward' | 'generate'> {
  ctx.assertAlive(); // a lost device: refuse now, not at the first step
  const dims = validateModel(model);
  const L = layoutOf(model);
  // The parameters (and Adam's moments, the same size) live in buffers of their own: refuse before allocating.
  checkLimits({ params: L.total }, limits, 'model', { 'trainer read': L.total });
  // Everything about the model is read now, once: a caller who changes model (activation included) later changes nothing here.
  const shapeModel = unpackParams(model, packParams(model));
  const pool = ctx.pool;
  // params, stats, moments, the carried h_T [B, h] and the counters: shared by both paths of step()
  const own = createTrainerState(ctx, packParams(model), opts);
  const { params, stats, m, v } = own;
  const S = statsLayout();
  // the layer walk's view of the same buffers (a batch with lengths, forward with lengths, generate)
  const walk = { dims: modelAsSequence(shapeModel).dims, onDevice: { buffer: params, layout: sequenceLayoutOfRnn(shapeModel) } };

  const trainer: StepTrainer & Pick<Trainer, 'forward' | 'generate'> = {
    backend: 'webgpu',
    async step(batch: Batch, stepOptionsGiven?: StepOptions): Promise<StepResult> {
      assertUsable(trainer, 'trainer');
      ctx.assertAlive();
      const stepOptions = validateStepOptions(stepOptionsGiven);
      const { T, B, tokens, lengths } = validateBatch(batch, dims, opts.loss, opts.checkFinite === true);
      // with lengths: the layer walk, each sequence carrying its own state from its own end
      if (lengths) return sequenceTrainerStep(ctx, limits, walk.dims, walk.onDevice.layout, opts, own, batch, stepOptions);
      const truncation = validateTruncation(opts.truncation, T, 'options.truncation');
      const carrying = opts.carryState === true && own.state !== null && batch.h0 === undefined;
      if (carrying && own.stateB !== B) {
        throw new BpttInputError('batch.batchSize', `${own.stateB} (the batch size of the carried state; call resetState() to change it)`, `${B}`);
      }
      const s = await chooseRnnVariants(
        ctx,
        planShape(
          { T, B, d: dims.d, h: dims.h, q: dims.q },
          { tokens, hasBias: dims.hasBias, activation: shapeModel.activation, loss: opts.loss, window: truncation.kind === 'window' ? truncation.steps : 0, xi: truncationXi(truncationForStep(truncation, own.draws), T) },
          L,
        ),
      );
      // (choosing may await the tuner: a dispose() meanwhile ends this step here, before any buffer is
      // touched; the engine's first, which says the call was pending)
      ctx.assertAlive();
      assertUsable(trainer, 'trainer');
      const sizes = bufferSizes(s, false);
      checkLimits(sizes, limits);
      checkDispatchLimits(s, dispatchLimits(ctx.device));
      const bufs = acquireBuffers(ctx, { ...sizes, params: 0, stats: 0 }, { params, stats });
      // A new carried state (first step, or a new batch size with h0 given) goes into a buffer of its
      // own, adopted only once this step is known to have been applied: a step that fails or is
      // skipped leaves the carried state as it was, batch size included.
      let fresh = opts.carryState && (!own.state || own.stateB !== B) ? pool.acquire(B * dims.h * 4, STORAGE(), 'carried state') : null;
      const target = fresh ?? (opts.carryState ? own.state : null);
      try {
        const out = await submitAndRead(ctx, 'a training step', maxDispatches(s), S.fixed, (rec, staging) => {
          uploadBatch(ctx, s, bufs, batch);
          if (batch.h0) upload(ctx.device, bufs.H, 0, batch.h0);
          if (batch.dhT) upload(ctx.device, bufs.dhT, 0, batch.dhT);
          const hBytes = B * dims.h * 4;
          if (carrying) rec.copy(own.state!, 0, bufs.H, 0, hBytes);
          else if (!batch.h0) rec.clear(bufs.H, 0, hBytes);
          if (!batch.dhT) rec.clear(bufs.dhT, 0, hBytes);
          recordForward(rec, s, bufs);
          recordOutputAndLoss(rec, s, bufs);
          recordBackward(rec, s, bufs, {
            dh0: false,
            perStepNorms: false,
            dx: false,
            clipNorm: opts.clipNorm ?? 0,
            applyClip: false,
            countStep: true,
          });
          recordOptimizerUpdate(rec, opts.optimizer, { grad: bufs.grad, stats, theta: params, m, v }, L.total);
          if (target) {
            // Only a step that was applied advances the carried state (decided on the device: no read-back).
            const n = B * dims.h;
            rec.dispatch(kernel('carry_state'), {}, { H: bufs.H, stats, state: target }, { n, offHT: T * n }, elementwise(n));
          }
          rec.copy(stats, 0, staging, 0, S.fixed * 4);
        });
        const result = settleStep(own, pool, out, fresh, B, opts.loss === 'none', stepOptions.readGradNorm);
        if (result.skipped === false) fresh = null; // adopted as the carried state
        return result;
      } finally {
        if (fresh) pool.release(fresh);
        releaseBuffers(ctx, bufs, { params, stats });
        pool.settle();
      }
    },
    /** engine.forward on the current parameters, from the trainer's buffer (no read-back of the parameters). */
    async forward(batch: Batch, options?: ForwardOptions): Promise<ForwardResult> {
      assertUsable(trainer, 'trainer');
      const call = validateForwardCall(shapeModel, batch, options);
      // as engine.forward: the vanilla kernels without lengths, the layer walk with them
      if (!batch.lengths) return gpuRnnForward(ctx, limits, shapeModel, call, batch, params);
      return gpuSequenceForward(ctx, limits, call, batch, walk.onDevice);
    },
    /** engine.generate on the current parameters, from the trainer's buffer. */
    async generate(options: GenerateOptions): Promise<Int32Array> {
      assertUsable(trainer, 'trainer');
      return gpuGenerate(ctx, limits, validateGenerateCall(shapeModel, options), walk.onDevice);
    },
    async read(): Promise<RnnModel> {
      assertUsable(trainer, 'trainer');
      ctx.assertAlive();
      const flat = await submitAndRead(ctx, 'trainer.read', 0, L.total, (rec, staging) => rec.copy(params, 0, staging, 0, L.total * 4));
      return unpackParams(shapeModel, flat.subarray(0, L.total));
    },
    resetState(): void {
      if (own.state) pool.release(own.state);
      own.state = null;
    },
    dispose(): void {
      if (!markOnce(trainer)) return;
      releaseTrainerState(ctx, own);
      onDispose();
    },
  };
  return trainer;
}

function markOnce(owner: object): boolean {
  try {
    assertUsable(owner, 'trainer');
  } catch {
    return false;
  }
  markDisposed(owner);
  return true;
}

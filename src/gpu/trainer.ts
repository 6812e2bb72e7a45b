// The WebGPU trainer: parameters, optimizer state and the carried hidden state
// stay on the device between steps; a step reads back 32 bytes (the loss and
// the flags of kernels/finalize.wgsl), nothing else.
import type { Batch, RnnModel, StepOptions, StepResult, StepTrainer, TrainerOptions } from '../types.js';
import { BpttInputError } from '../errors.js';
import { layoutOf, packParams, unpackParams } from '../params.js';
import { truncationForStep, truncationXi } from '../truncation.js';
import { validateBatch, validateModel, validateStepOptions, validateTruncation } from '../validate.js';
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


export function createGpuTrainer(
  ctx: GpuContext,
  limits: { maxBinding: number; maxBuffer: number },
  model: RnnModel,
  opts: TrainerOptions,
  onDispose: () => void,
): StepTrainer {
  ctx.assertAlive(); // a lost device: refuse now, not at the first step
  const dims = validateModel(model);
  const L = layoutOf(model);
  // The parameters (and Adam's moments, the same size) live in buffers of their own: refuse before allocating.
  checkLimits({ params: L.total }, limits, 'model', { 'trainer read': L.total });
  // Everything about the model is read now, once: a caller who changes model (activation included) later changes nothing here.
  const shapeModel = unpackParams(model, packParams(model));
  const pool = ctx.pool;
  const q = ctx.device.queue;
  const params = pool.acquire(L.total * 4, STORAGE(), 'trainer params');
  upload(ctx.device, params, 0, packParams(model));
  const S = statsLayout();
  const stats = pool.acquire(S.fixed * 4, STORAGE(), 'trainer stats'); // the Stats scalars of finalize.wgsl (no per-step norms)
  upload(ctx.device, stats, 0, new Float32Array(S.fixed));
  const adam = opts.optimizer.kind === 'adam';
  const m = adam ? pool.acquire(L.total * 4, STORAGE(), 'adam m') : null;
  const v = adam ? pool.acquire(L.total * 4, STORAGE(), 'adam v') : null;
  if (m && v) {
    upload(ctx.device, m, 0, new Float32Array(L.total));
    upload(ctx.device, v, 0, new Float32Array(L.total));
  }
  let state: GPUBuffer | null = null; // carried h_T, [B, h]
  let stateB = 0;
  let applied = 0;
  let draws = 0; // step() calls that passed validation: step k draws randomized xi from seed + k, as the CPU trainer


  const trainer: StepTrainer = {
    backend: 'webgpu',
    async step(batch: Batch, stepOptionsGiven?: StepOptions): Promise<StepResult> {
      assertUsable(trainer, 'trainer');
      ctx.assertAlive();
      const stepOptions = validateStepOptions(stepOptionsGiven);
      const { T, B, tokens } = validateBatch(batch, dims, opts.loss, opts.checkFinite === true);
      const truncation = validateTruncation(opts.truncation, T, 'options.truncation');
      const carrying = opts.carryState === true && state !== null && batch.h0 === undefined;
      if (carrying && stateB !== B) {
        throw new BpttInputError('batch.batchSize', `${stateB} (the batch size of the carried state; call resetState() to change it)`, `${B}`);
      }
      const s = await chooseRnnVariants(
        ctx,
        planShape(
          { T, B, d: dims.d, h: dims.h, q: dims.q },
          { tokens, hasBias: dims.hasBias, activation: shapeModel.activation, loss: opts.loss, window: truncation.kind === 'window' ? truncation.steps : 0, xi: truncationXi(truncationForStep(truncation, draws), T) },
          L,
        ),
      );
      // (choosing may await the tuner: a dispose() meanwhile ends this step here, before any buffer is touched)
      assertUsable(trainer, 'trainer');
      ctx.assertAlive();
      const sizes = bufferSizes(s, false);
      checkLimits(sizes, limits);
      checkDispatchLimits(s, dispatchLimits(ctx.device));
      const bufs = acquireBuffers(ctx, { ...sizes, params: 0, stats: 0 }, { params, stats });
      // A new carried state (first step, or a new batch size with h0 given) goes into a buffer of its
      // own, adopted only once this step is known to have been applied: a step that fails or is
      // skipped leaves the carried state as it was, batch size included.
      let fresh = opts.carryState && (!state || stateB !== B) ? pool.acquire(B * dims.h * 4, STORAGE(), 'carried state') : null;
      const target = fresh ?? (opts.carryState ? state : null);
      try {
        const out = await submitAndRead(ctx, 'a training step', maxDispatches(s), S.fixed, (rec, staging) => {
          uploadBatch(ctx, s, bufs, batch);
          if (batch.h0) upload(ctx.device, bufs.H, 0, batch.h0);
          if (batch.dhT) upload(ctx.device, bufs.dhT, 0, batch.dhT);
          const hBytes = B * dims.h * 4;
          if (carrying) rec.copy(state!, 0, bufs.H, 0, hBytes);
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
          const n = L.total;
          recordOptimizerUpdate(rec, opts.optimizer, { grad: bufs.grad, stats, theta: params, m, v }, n);
          if (target) {
            // Only a step that was applied advances the carried state (decided on the device: no read-back).
            const n = B * dims.h;
            rec.dispatch(kernel('carry_state'), {}, { H: bufs.H, stats, state: target }, { n, offHT: T * n }, elementwise(n));
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
        releaseBuffers(ctx, bufs, { params, stats });
        pool.settle();
      }
    },
    async read(): Promise<RnnModel> {
      assertUsable(trainer, 'trainer');
      ctx.assertAlive();
      const bytes = L.total * 4;
      const staging = pool.acquire(bytes, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, 'trainer read');
      try {
        const enc = ctx.device.createCommandEncoder();
        enc.copyBufferToBuffer(params, 0, staging, 0, bytes);
        q.submit([enc.finish()]);
        await ctx.guard(staging.mapAsync(GPUMapMode.READ, 0, bytes));
        const flat = new Float32Array(staging.getMappedRange(0, bytes).slice(0));
        staging.unmap();
        return unpackParams(shapeModel, flat);
      } finally {
        if (staging.mapState === 'mapped') staging.unmap();
        pool.release(staging);
      }
    },
    resetState(): void {
      if (state) pool.release(state);
      state = null;
    },
    dispose(): void {
      if (!markOnce(trainer)) return;
      for (const b of [params, stats, m, v, state]) if (b) pool.release(b);
      state = null;
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

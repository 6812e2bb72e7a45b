// The WebGPU trainer of a SequenceModel: parameters, optimizer state and the
// carried states (h, and c for an lstm, of every layer-direction) stay on the
// device between steps; a step reads back 32 bytes (the loss and the flags of
// kernels/finalize.wgsl), nothing else.
import type { Batch, SequenceModel, StepOptions, StepResult, Trainer, TrainerOptions } from '../types.js';
import { BpttInputError } from '../errors.js';
import { packSequence, sequenceDims, sequenceLayout, unpackSequence } from '../sequence-layout.js';
import { truncationForStep, truncationXi } from '../truncation.js';
import { validateTruncation } from '../validate.js';
import { validateSequenceBatch } from '../validate-sequence.js';
import { assertUsable, markDisposed } from '../lifecycle.js';
import { type GpuContext, upload } from './context.js';
import { elementwise } from './encode.js';
import { STORAGE, checkLimits } from './gradients.js';
import { kernel } from './kernels.js';
import { submitAndRead } from './call.js';
import { chooseVariants } from './tuning.js';
import { planSequence, recordSequenceBackward, recordSequenceForward, recordSequenceHead, seqBufferSizes, sequenceDispatches } from './sequence-encode.js';
import { acquireSequenceBuffers, releaseSequenceBuffers, uploadSequenceBatch } from './sequence-gradients.js';

const STATS = 8; // stats[0..8) of finalize.wgsl

export function createGpuSequenceTrainer(
  ctx: GpuContext,
  limits: { maxBinding: number; maxBuffer: number },
  model: SequenceModel,
  opts: TrainerOptions,
  onDispose: () => void,
): Trainer<SequenceModel> {
  ctx.assertAlive();
  const dims = sequenceDims(model);
  const layout = sequenceLayout(dims);
  const n = layout.total;
  checkLimits({ params: n }, limits, 'model', { 'trainer read': n });
  const like = unpackSequence(model, packSequence(model)); // the shape, never the caller's arrays
  const pool = ctx.pool;
  const params = pool.acquire(n * 4, STORAGE(), 'trainer params');
  upload(ctx.device, params, 0, packSequence(model));
  const stats = pool.acquire(STATS * 4, STORAGE(), 'trainer stats');
  upload(ctx.device, stats, 0, new Float32Array(STATS));
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

  const trainer: Trainer<SequenceModel> = {
    backend: 'webgpu',
    async step(batch: Batch, stepOptions: StepOptions = {}): Promise<StepResult> {
      assertUsable(trainer, 'trainer');
      ctx.assertAlive();
      const { T, B, tokens } = validateSequenceBatch(batch, dims, opts.loss, opts.checkFinite === true);
      const truncation = validateTruncation(opts.truncation, T, 'options.truncation');
      const carrying = opts.carryState === true && state !== null && batch.h0 === undefined && batch.c0 === undefined;
      if (carrying && stateB !== B) {
        throw new BpttInputError('batch.batchSize', `${stateB} (the batch size of the carried state; call resetState() to change it)`, `${B}`);
      }
      const s = await chooseVariants(ctx, planSequence(dims, { T, B, activation: model.activation ?? 'tanh', tokens, loss: opts.loss, xi: truncationXi(truncationForStep(truncation, draws), T), window: truncation.kind === 'window' ? truncation.steps : 0 }, layout));
      const sizes = seqBufferSizes(s, false);
      checkLimits(sizes, limits);
      draws++;
      const bufs = acquireSequenceBuffers(ctx, { ...sizes, params: 0, stats: 0 }, { params, stats });
      const stateBytes = 2 * K * B * dims.h * 4;
      let freshState = false;
      if (opts.carryState && (!state || stateB !== B)) {
        if (state) pool.release(state);
        state = pool.acquire(stateBytes, STORAGE(), 'carried state');
        stateB = B;
        freshState = true;
      }
      const carry = opts.carryState === true && state !== null;
      try {
        const dispatches = sequenceDispatches(s, { dx: false, clip: false }) + 1 + (carry ? 1 : 0);
        const out = await submitAndRead(ctx, 'a training step', dispatches, STATS, (rec, staging) => {
          uploadSequenceBatch(ctx, rec, s, bufs, batch);
          if (carrying) rec.copy(state!, 0, bufs.state0, 0, stateBytes);
          if (freshState) rec.copy(bufs.state0, 0, state!, 0, stateBytes); // a skipped first step keeps this step's initial state
          recordSequenceForward(rec, s, bufs);
          recordSequenceHead(rec, s, bufs);
          recordSequenceBackward(rec, s, bufs, { perStepNorms: false, dx: false, clipNorm: opts.clipNorm ?? 0, applyClip: false, countStep: true });
          const wg = elementwise(n);
          if (opts.optimizer.kind === 'sgd') {
            rec.dispatch(kernel('sgd_update'), {}, { grad: bufs.grad, stats, theta: params }, { n, learningRate: opts.optimizer.learningRate }, wg);
          } else {
            const { learningRate, beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8 } = opts.optimizer;
            rec.dispatch(kernel('adam_update'), {}, { grad: bufs.grad, stats, theta: params, m: m!, v: v! }, { n, learningRate, beta1, beta2, epsilon }, wg);
          }
          if (carry) {
            // Only a step that was applied advances the carried state (decided on the device: no read-back).
            rec.dispatch(
              kernel('carry_sequence_state'),
              {},
              { Y: bufs.Y, saved: bufs.saved, stats, state: state! },
              { T, B, h: dims.h, dirs: dims.dirs, K, hasC: lstm ? 1 : 0 },
              elementwise((lstm ? 2 : 1) * K * B * dims.h),
            );
          }
          rec.copy(stats, 0, staging, 0, STATS * 4);
        });
        const skipped = out[3] !== 0;
        if (!skipped) applied++;
        const result: StepResult = { loss: opts.loss === 'none' ? NaN : out[0], skipped, step: applied };
        if (stepOptions.readGradNorm) result.gradNorm = out[1];
        return result;
      } finally {
        releaseSequenceBuffers(ctx, bufs, { params, stats });
        pool.settle();
      }
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


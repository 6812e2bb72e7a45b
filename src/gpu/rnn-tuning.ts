// One timed gradient call of a vanilla RnnModel shape for the tuner
// (src/gpu/tuning.ts, Tuner.chooseVanilla): the recording of engine.gradients
// (encode.ts) on zeros, with the candidate's variants, submitted and awaited.
import type { Batch } from '../types.js';
import type { GpuContext } from './context.js';
import { type GpuShape, bufferSizes, maxDispatches, recordBackward, recordForward, recordOutputAndLoss } from './encode.js';
import { acquireBuffers, releaseBuffers, uploadBatch } from './gradients.js';

/** A batch of zeros of shape s (values or token ids, and what its loss reads). */
function zerosBatch(s: GpuShape): Batch {
  const R = s.T * s.B;
  const batch: Batch = { steps: s.T, batchSize: s.B, x: s.tokens ? new Int32Array(R) : new Float32Array(R * s.d) };
  if (s.loss === 'cross-entropy') batch.y = new Int32Array(R);
  else if (s.loss === 'mse') batch.y = new Float32Array(R * s.q);
  else batch.dO = new Float32Array(R * s.q);
  return batch;
}

/**
 * Returns `run`: one whole gradient call of s (forward, loss, reverse sweep,
 * weight gradients, finalize) to completion, in ms by wall clock; and
 * `release` for its buffers.
 */
export function vanillaCallTimer(ctx: GpuContext, s: GpuShape): { run: () => Promise<number>; release: () => void } {
  const sizes = bufferSizes(s, false);
  const bufs = acquireBuffers(ctx, sizes);
  const batch = zerosBatch(s);
  return {
    async run() {
      const t0 = performance.now();
      const rec = ctx.record(maxDispatches(s));
      rec.clear(bufs.params, 0, s.layout.total * 4);
      rec.clear(bufs.H, 0, s.B * s.h * 4);
      rec.clear(bufs.dhT, 0, s.B * s.h * 4);
      rec.clear(bufs.stats, 0, sizes.stats * 4);
      uploadBatch(ctx, s, bufs, batch);
      recordForward(rec, s, bufs);
      recordOutputAndLoss(rec, s, bufs);
      recordBackward(rec, s, bufs, { dh0: true, perStepNorms: true, dx: false, clipNorm: 0, applyClip: false, countStep: false });
      rec.finish();
      await ctx.guard(ctx.device.queue.onSubmittedWorkDone());
      return performance.now() - t0;
    },
    release() {
      releaseBuffers(ctx, bufs);
      ctx.pool.settle();
    },
  };
}

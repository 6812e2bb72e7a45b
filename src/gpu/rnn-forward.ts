// engine.forward of an RnnModel (without lengths) on the GPU: the forward part
// of its gradient call, with the same kernels in the same order as
// gpuGradients (encode.ts: the input projection, the fused step kernel, the
// output product, output_loss and finalize), so the loss is the number
// gradients() reports, bit for bit; nothing for a backward pass (no G, dA,
// split-K or gradient buffers). The SequenceModel path would also compute it,
// but with the gated cells' step kernels, which are slower for this one case.
//
// Dispatches: 1 + T (+ 1 for O) (+ 2 with a loss), plus what the chosen
// variants add (rnn-variants.ts: rnnExtraDispatches). One submit; reads back the
// stats (loss), hT and the outputs asked for.
import type { Batch, ForwardResult, RnnModel } from '../types.js';
import type { ForwardCall } from '../validate-forward.js';
import { layoutOf, packParams } from '../params.js';
import { type GpuContext, upload } from './context.js';
import { STORAGE, checkLimits } from './gradients.js';
import { submitAndRead } from './call.js';
import { statsLayout } from './stats.js';
import { checkDispatchLimits, dispatchLimits } from './dispatch-limits.js';
import { type GpuBuffers, planShape, recordForward, recordLoss, recordOutput } from './encode.js';
import { chooseRnnVariants } from './tuning.js';
import { recordFinalize, rnnExtraDispatches, rnnExtraSizes } from './rnn-variants.js';

export async function gpuRnnForward(
  ctx: GpuContext,
  limits: { maxBinding: number; maxBuffer: number },
  model: RnnModel,
  call: ForwardCall,
  batch: Batch,
  params?: GPUBuffer, // a trainer's parameter buffer (this layout), used in place of an upload of model's
): Promise<ForwardResult> {
  ctx.assertAlive();
  const { outputs, withLoss } = call;
  const T = batch.steps;
  const B = batch.batchSize;
  const { inputSize: d, hiddenSize: h, outputSize: q } = model;
  const tokens = batch.x instanceof Int32Array;
  const loss = withLoss ? call.problem.loss : 'none';
  const s = await chooseRnnVariants(
    ctx,
    planShape({ T, B, d, h, q }, { tokens, hasBias: model.bh !== undefined, activation: model.activation, loss, window: 0, xi: null }, layoutOf(model)),
  );
  ctx.assertAlive(); // (an engine disposed while the tuner was measuring)
  const extra = rnnExtraSizes(s); // the variants' buffers: the transposed Whh, split-K partial sums, finalize partials
  const R = T * B;
  const S = statsLayout();
  const needO = withLoss || outputs.O;
  const sizes = {
    params: params ? 0 : s.layout.total,
    x: tokens ? R : R * d,
    H: (T + 1) * B * h,
    P: R * h,
    O: needO ? R * q : 0,
    // output_loss binds both (and writes rowLoss): each its own buffer, as bufferSizes sizes them
    labels: withLoss ? R : 0,
    targets: withLoss ? (loss === 'mse' ? R * q : 1) : 0,
    rowLoss: withLoss ? R : 0,
    stats: withLoss ? S.fixed : 0,
    WhhT: extra.WhhT,
    stepScratch: extra.stepScratch,
    finalParts: withLoss ? extra.finalParts : 0,
  };
  // Readback, in f32 elements: stats | hT | O | Y (= H_1..H_T)
  const at = { hT: S.fixed, O: S.fixed + B * h, Y: 0 };
  at.Y = at.O + (outputs.O ? R * q : 0);
  const readElems = at.Y + (outputs.Y ? R * h : 0);
  checkLimits(sizes, limits, 'batch', { readback: readElems });
  checkDispatchLimits(s, dispatchLimits(ctx.device));
  const own = Object.fromEntries(
    Object.entries(sizes)
      .filter(([, n]) => n > 0)
      .map(([k, n]) => [k, ctx.pool.acquire(n * 4, STORAGE(), k)]),
  ) as Record<string, GPUBuffer>;
  const bufs = { WhhT: null, stepScratch: null, finalParts: null, ...own, ...(params ? { params } : {}) } as unknown as GpuBuffers;
  try {
    const data = await submitAndRead(ctx, 'a forward call', 1 + T + 3 + rnnExtraDispatches(s), readElems, (rec, staging) => {
      const dev = ctx.device;
      if (!params) upload(dev, bufs.params, 0, packParams(model));
      upload(dev, bufs.x, 0, batch.x);
      if (batch.h0) upload(dev, bufs.H, 0, batch.h0);
      else rec.clear(bufs.H, 0, B * h * 4);
      recordForward(rec, s, bufs);
      if (needO) recordOutput(rec, s, bufs);
      if (outputs.O) rec.copy(bufs.O, 0, staging, at.O * 4, R * q * 4); // before dO is formed over it
      if (withLoss) {
        if (loss === 'cross-entropy') upload(dev, bufs.labels, 0, batch.y as Int32Array);
        else upload(dev, bufs.targets, 0, batch.y as Float32Array);
        rec.clear(bufs.stats, 0, S.fixed * 4);
        recordLoss(rec, s, bufs);
        // the finalize variant of the gradient call too: the same loss, bit for bit
        recordFinalize(
          rec,
          s,
          { rowLoss: bufs.rowLoss, grad: bufs.rowLoss, stepPartials: bufs.rowLoss, stats: bufs.stats, finalParts: bufs.finalParts },
          { R, hasLoss: 1, lossScale: 1 / R, n: 0, clipNorm: 0, T: 0, stepParts: 0, countStep: 0 },
        );
        rec.copy(bufs.stats, 0, staging, 0, S.fixed * 4);
      }
      rec.copy(bufs.H, T * B * h * 4, staging, at.hT * 4, B * h * 4);
      if (outputs.Y) rec.copy(bufs.H, B * h * 4, staging, at.Y * 4, R * h * 4);
    });
    const result: ForwardResult = { hT: data.slice(at.hT, at.hT + B * h) };
    if (withLoss) result.loss = data[S.loss];
    if (outputs.O) result.O = data.slice(at.O, at.O + R * q);
    if (outputs.Y) result.Y = data.slice(at.Y, at.Y + R * h);
    return result;
  } finally {
    for (const b of Object.values(own)) ctx.pool.release(b);
    ctx.pool.settle();
  }
}

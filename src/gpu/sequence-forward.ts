// engine.forward on the GPU: the forward part of a gradient call, the same
// kernels in the same order (so its loss is the number gradients() reports,
// bit for bit), and nothing for a backward pass: no gradient, adjoint or
// split-K buffers. One submit; reads back the loss, hT, cT and the outputs asked for.
//
// Dispatches: K input projections + L*T steps (forwardDispatches: what the chosen
// forward variant records); with a head O (+ its mask with
// lengths); with y the loss (+ the row losses' mask) and finalize.
import type { Batch, ForwardResult } from '../types.js';
import type { ForwardCall } from '../validate-forward.js';
import { type DeviceParams, packSequence } from '../sequence-params.js';
import { type GpuContext, upload } from './context.js';
import { STORAGE, checkLimits } from './limits.js';
import { submitAndRead } from './call.js';
import { kernel } from './kernels.js';
import { statsLayout } from './stats.js';
import { checkSequenceDispatchLimits, dispatchLimits } from './dispatch-limits.js';
import { type SeqBuffers, forwardDispatches, recordMaskRows, recordSequenceForward, recordSequenceOutput, seqBufferSizes, seqOffsets } from './sequence-encode.js';
import { copyFinalStates, lengthsOf, sequenceShape, withAliases } from './sequence-gradients.js';
import { chooseVariants } from './tuning.js';
import { recordFinalize } from './chapter-kernels.js';

/** `onDevice`: a buffer already holding the parameters (a trainer's) in its layout, used in place of an upload of call.sequence's. */
export async function gpuSequenceForward(ctx: GpuContext, limits: { maxBinding: number; maxBuffer: number }, call: ForwardCall, batch: Batch, onDevice?: DeviceParams): Promise<ForwardResult> {
  ctx.assertAlive();
  const { sequence, problem: p, outputs, withLoss } = call;
  const params = onDevice?.buffer;
  const s = await chooseVariants(ctx, sequenceShape(sequence, p, onDevice?.layout)); // the variants a gradient call of this shape runs
  ctx.assertAlive(); // (an engine disposed while the tuner was measuring)
  const { B, R, h, q, K, dirs } = s;
  const lstm = s.cell === 'lstm';
  const S = statsLayout();
  const all = seqBufferSizes(s, false);
  const sizes = {
    params: params ? 0 : all.params, x: all.x, labels: withLoss ? all.labels : 0, targets: withLoss ? all.targets : 0,
    Gx: all.Gx, Y: all.Y, saved: all.saved, state0: all.state0, lengths: all.lengths, stepScratch: all.stepScratch, WhhT: all.WhhT,
    O: q > 0 ? all.O : 0, rowLoss: withLoss ? all.rowLoss : 0, stats: withLoss ? S.fixed : 0, finalParts: withLoss ? all.finalParts : 0,
  };
  const kbh = K * B * h;
  // Readback, in f32 elements: stats | hT | cT | O | Y
  const at = { hT: S.fixed, cT: S.fixed + kbh, O: S.fixed + (lstm ? 2 : 1) * kbh, Y: 0 };
  at.Y = at.O + (outputs.O ? R * q : 0);
  const readElems = at.Y + (outputs.Y ? R * dirs * h : 0);
  checkLimits(sizes, limits, 'batch', { readback: readElems });
  const dispatches = forwardDispatches(s) + (q > 0 ? 2 : 0) + (withLoss ? 3 : 0) + (withLoss && s.choice?.finalize === 'multi' ? 1 : 0);
  checkSequenceDispatchLimits(s, dispatches, dispatchLimits(ctx.device));
  const own = Object.fromEntries(Object.entries(sizes).filter(([, n]) => n > 0).map(([k, n]) => [k, ctx.pool.acquire(n * 4, STORAGE(), k)])) as Partial<SeqBuffers>;
  const bufs = withAliases({ ...own, params: params ?? own.params }, all) as Partial<SeqBuffers> & Pick<SeqBuffers, 'params' | 'x' | 'Gx' | 'Y' | 'saved' | 'state0' | 'lengths'>;
  try {
    const data = await submitAndRead(ctx, 'a forward call', dispatches, readElems, (rec, staging) => {
      const dev = ctx.device;
      if (!params) upload(dev, bufs.params, 0, packSequence(sequence));
      upload(dev, bufs.x, 0, batch.x);
      upload(dev, bufs.lengths, 0, lengthsOf(s));
      if (batch.h0) upload(dev, bufs.state0, 0, batch.h0);
      else rec.clear(bufs.state0, 0, kbh * 4);
      if (batch.c0) upload(dev, bufs.state0, kbh * 4, batch.c0);
      else rec.clear(bufs.state0, kbh * 4, kbh * 4);
      recordSequenceForward(rec, s, bufs);
      if (q > 0) {
        recordSequenceOutput(rec, s, bufs as SeqBuffers);
        recordMaskRows(rec, s, bufs.lengths, bufs.O!, q); // O is zero at padded rows
        if (outputs.O) rec.copy(bufs.O!, 0, staging, at.O * 4, R * q * 4);
      }
      if (withLoss) {
        if (p.loss === 'cross-entropy') upload(dev, bufs.labels!, 0, batch.y as Int32Array);
        else upload(dev, bufs.targets!, 0, batch.y as Float32Array);
        rec.clear(bufs.stats!, 0, S.fixed * 4);
        // the loss kernels of a gradient call (dO is formed in place over O, already copied out)
        rec.dispatch(
          kernel('output_loss'),
          { LOSS: p.loss === 'cross-entropy' ? 0 : 1 },
          { labels: bufs.labels ?? bufs.rowLoss!, targets: bufs.targets ?? bufs.rowLoss!, O: bufs.O!, rowLoss: bufs.rowLoss! },
          { R, q, scale: 1 / s.N },
          [Math.min(Math.ceil(R / 64), 65535), Math.ceil(Math.ceil(R / 64) / 65535)],
        );
        recordMaskRows(rec, s, bufs.lengths, bufs.rowLoss!, 1);
        // finalize as the gradient call's variant sums the row losses (no gradient: n = 0)
        recordFinalize(
          rec,
          s,
          { rowLoss: bufs.rowLoss!, grad: bufs.rowLoss!, stepPartials: bufs.rowLoss!, stats: bufs.stats!, finalParts: bufs.finalParts ?? null },
          { R, hasLoss: 1, lossScale: 1 / s.N, n: 0, clipNorm: 0, T: 0, stepParts: 0, countStep: 0 },
        );
        rec.copy(bufs.stats!, 0, staging, 0, S.fixed * 4);
      }
      copyFinalStates(rec, s, bufs, staging, at.hT, lstm ? at.cT : null);
      if (outputs.Y) rec.copy(bufs.Y, (seqOffsets(s).Y(s.L - 1) + B * dirs * h) * 4, staging, at.Y * 4, R * dirs * h * 4);
    });
    const result: ForwardResult = { hT: data.slice(at.hT, at.hT + kbh) };
    if (lstm) result.cT = data.slice(at.cT, at.cT + kbh);
    if (withLoss) result.loss = data[S.loss];
    if (outputs.O) result.O = data.slice(at.O, at.O + R * q);
    if (outputs.Y) result.Y = data.slice(at.Y, at.Y + R * dirs * h);
    return result;
  } finally {
    for (const b of Object.values(own)) if (b) ctx.pool.release(b);
    ctx.pool.settle();
  }
}

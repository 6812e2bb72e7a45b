// engine.gradients for a SequenceModel on the GPU: upload, record the whole
// computation (every layer, both directions), submit once, read every result
// back with one map.
import { zeroPaddedRows } from '../padding.js';
import type { Batch, SequenceGradients, SequenceModel } from '../types.js';
import type { SequenceProblem } from '../validate-sequence.js';
import { type SequenceLayout, packSequence, sequenceLayout } from '../sequence-params.js';
import { truncationXi } from '../truncation.js';
import { type GpuContext, type Recorder, upload } from './context.js';
import { STORAGE, checkLimits } from './limits.js';
import { checkSequenceDispatchLimits, dispatchLimits } from './dispatch-limits.js';
import { submitAndRead } from './call.js';
import { chooseVariants } from './tuning.js';
import { statsLayout } from './stats.js';
import { type SeqBuffers, type SeqShape, planSequence, recordSequenceBackward, recordSequenceForward, recordSequenceHead, seqBufferSizes, seqOffsets, sequenceDispatches } from './sequence-encode.js';

/** Rows grouped by token id: csr[v]..csr[v+1] index the rows (after d + 1 offsets) with id v. */
export function tokenCsr(ids: Int32Array, d: number): Uint32Array {
  const R = ids.length;
  const csr = new Uint32Array(d + 1 + R);
  for (let r = 0; r < R; r++) csr[ids[r] + 1]++;
  for (let v = 0; v < d; v++) csr[v + 1] += csr[v];
  const fill = csr.slice(0, d);
  for (let r = 0; r < R; r++) csr[d + 1 + fill[ids[r]]++] = r;
  return csr;
}

/** `layout`: where the parameters lie (default: the model's own flat layout, sequenceLayout). */
export function sequenceShape(model: SequenceModel, p: SequenceProblem, layout: SequenceLayout = sequenceLayout(model)): SeqShape {
  const t = p.truncation;
  return planSequence(
    p,
    { T: p.T, B: p.B, activation: p.activation, tokens: p.tokens, loss: p.loss, xi: truncationXi(t, p.T), window: t.kind === 'window' ? t.steps : 0, lengths: p.lengths },
    layout,
  );
}

/** A buffer from the pool for each non-empty size; `reuse` supplies some of them (the trainer's parameters). */
export function acquireSequenceBuffers(
  ctx: GpuContext,
  sizes: Record<keyof SeqBuffers, number>,
  reuse: Partial<SeqBuffers> = {},
  allocate: (bytes: number, usage: number, label: string) => GPUBuffer = (bytes, usage, label) => ctx.pool.acquire(bytes, usage, label),
): SeqBuffers {
  const out: Partial<Record<keyof SeqBuffers, GPUBuffer | null>> = {};
  for (const key of Object.keys(sizes) as (keyof SeqBuffers)[]) {
    out[key] = reuse[key] ?? (sizes[key] > 0 ? allocate(sizes[key] * 4, STORAGE(), key) : null);
  }
  return withAliases(out, sizes) as SeqBuffers;
}

/** The buffers seqBufferSizes marks as another's (-1): the chapter's kernels keep the states in Y and dState in dG. */
export function withAliases<B extends Partial<Record<keyof SeqBuffers, GPUBuffer | null>>>(b: B, sizes: Record<keyof SeqBuffers, number>): B {
  if (sizes.saved < 0) b.saved = b.Y;
  if (sizes.dState < 0) b.dState = b.dG;
  return b;
}

export function releaseSequenceBuffers(ctx: GpuContext, bufs: SeqBuffers, keep: Partial<SeqBuffers> = {}): void {
  const kept = new Set(Object.values(keep));
  for (const b of new Set(Object.values(bufs))) if (b && !kept.has(b)) ctx.pool.release(b as GPUBuffer);
}

/** Uploads x (and the token CSR), y or dO or dY, and the initial states and final adjoints (zeros when absent). */
export function uploadSequenceBatch(ctx: GpuContext, rec: Recorder, s: SeqShape, b: SeqBuffers, batch: Batch): void {
  const dev = ctx.device;
  const o = seqOffsets(s);
  const { B, h, K } = s;
  const bh = B * h;
  upload(dev, b.x, 0, s.lengths && !s.tokens ? zeroPaddedRows((batch.x as Float32Array).slice(), s.lengths, s.T, s.B, s.d) : batch.x);
  // With lengths the step kernels skip padded rows, so their rows of dGx/dGh, of the layer outputs and of
  // the saved states are never written: clear them (nothing is uploaded into these three), or a pooled
  // buffer's old contents (NaN from an earlier call) reach the weight-gradient products through 0 * NaN.
  if (s.lengths) for (const buffer of [b.dG, b.Y, b.saved]) if (buffer) rec.clear(buffer, 0, buffer.size);
  if (s.tokens && b.csr) upload(dev, b.csr, 0, tokenCsr(batch.x as Int32Array, s.d));
  if (s.q === 0) upload(dev, b.dY, o.dY(s.L - 1) * 4, batch.dY!);
  else if (s.loss === 'cross-entropy') upload(dev, b.labels, 0, batch.y as Int32Array);
  else if (s.loss === 'mse') upload(dev, b.targets, 0, batch.y as Float32Array);
  else upload(dev, b.O, 0, batch.dO!);
  upload(dev, b.lengths, 0, lengthsOf(s));
  if (batch.h0) upload(dev, b.state0, 0, batch.h0);
  else rec.clear(b.state0, 0, K * bh * 4);
  if (batch.c0) upload(dev, b.state0, K * bh * 4, batch.c0);
  else rec.clear(b.state0, K * bh * 4, K * bh * 4);
  // dhT (dcT) of k goes into slot T+1 of its dH (dC) block; the chapter's kernels read a buffer of its own
  if (s.chapter) {
    if (batch.dhT) upload(dev, b.dhT!, 0, batch.dhT);
    else rec.clear(b.dhT!, 0, bh * 4);
  }
  for (let k = 0; k < K && !s.chapter; k++) {
    const slot = (T1: number, base: number) => (base + T1 * bh) * 4;
    const hAt = slot(s.T + 1, o.dH(k));
    if (batch.dhT) upload(dev, b.dState, hAt, batch.dhT.subarray(k * bh, (k + 1) * bh));
    else rec.clear(b.dState, hAt, bh * 4);
    if (s.cell === 'lstm') {
      const cAt = slot(s.T + 1, o.dC(k));
      if (batch.dcT) upload(dev, b.dState, cAt, batch.dcT.subarray(k * bh, (k + 1) * bh));
      else rec.clear(b.dState, cAt, bh * 4);
    }
  }
}

/** n_b of every sequence as the kernels read them (u32 [B]; T each without lengths). */
export function lengthsOf(s: SeqShape): Uint32Array {
  return s.lengths ? Uint32Array.from(s.lengths) : new Uint32Array(s.B).fill(s.T);
}

/**
 * Copies hT (and cT) of every layer-direction, [K, B, h], into `dst` at element offset hAt (`cDst` at cAt):
 * slot T of Hs (C) for the forward direction (with lengths, the state at n_b was carried there), slot 1 for the reverse one.
 */
export function copyFinalStates(rec: Recorder, s: SeqShape, b: Pick<SeqBuffers, 'saved'>, dst: GPUBuffer, hAt: number, cAt: number | null, cDst: GPUBuffer = dst): void {
  const o = seqOffsets(s);
  const { T, B, h, dirs } = s;
  for (let k = 0; k < s.K; k++) {
    const slot = k % dirs === 0 ? T : 1;
    rec.copy(b.saved, (o.Hs(k) + slot * B * h) * 4, dst, (hAt + k * B * h) * 4, B * h * 4);
    if (cAt !== null) rec.copy(b.saved, (o.C(k) + slot * B * h) * 4, cDst, (cAt + k * B * h) * 4, B * h * 4);
  }
}

export async function gpuSequenceGradients(
  ctx: GpuContext,
  limits: { maxBinding: number; maxBuffer: number },
  model: SequenceModel,
  batch: Batch,
  p: SequenceProblem,
  layout: SequenceLayout = sequenceLayout(model), // an RnnModel's: its trainer's [Whx|Whh|Wqh|bh|bq] (the same sums, bit for bit)
): Promise<SequenceGradients> {
  ctx.assertAlive();
  const s = await chooseVariants(ctx, sequenceShape(model, p, layout)); // the kernel variants (tuned, fixed or default)
  const { T, B, R, h, K } = s;
  const o = seqOffsets(s);
  const lstm = s.cell === 'lstm';
  const kbh = K * B * h;
  const sizes = seqBufferSizes(s, p.inputGradient);
  const rb = { dh0: layout.total, hT: layout.total + kbh, dc0: layout.total + 2 * kbh, cT: layout.total + 3 * kbh, stats: layout.total + (lstm ? 4 : 2) * kbh };
  const dxAt = rb.stats + sizes.stats;
  const readElems = dxAt + (p.inputGradient ? R * s.d : 0);
  checkLimits(sizes, limits, 'batch', { readback: readElems });
  const clip = (p.clipNorm ?? 0) > 0;
  const dispatches = sequenceDispatches(s, { dx: p.inputGradient, clip });
  checkSequenceDispatchLimits(s, dispatches, dispatchLimits(ctx.device));
  const bufs = acquireSequenceBuffers(ctx, sizes);
  try {
    const data = await submitAndRead(ctx, 'a gradient call', dispatches, readElems, (rec, staging) => {
      upload(ctx.device, bufs.params, 0, packSequence(model, layout));
      uploadSequenceBatch(ctx, rec, s, bufs, batch);
      rec.clear(bufs.stats, 0, sizes.stats * 4);
      recordSequenceForward(rec, s, bufs);
      recordSequenceHead(rec, s, bufs);
      recordSequenceBackward(rec, s, bufs, { perStepNorms: p.gradNormPerStep, dx: p.inputGradient, clipNorm: p.clipNorm ?? 0, applyClip: true, countStep: false });
      rec.copy(bufs.grad, 0, staging, 0, layout.total * 4);
      for (let k = 0; k < K; k++) {
        rec.copy(bufs.dState, o.dH(k) * 4, staging, (rb.dh0 + k * B * h) * 4, B * h * 4);
        if (lstm) rec.copy(bufs.dState, o.dC(k) * 4, staging, (rb.dc0 + k * B * h) * 4, B * h * 4);
      }
      copyFinalStates(rec, s, bufs, staging, rb.hT, lstm ? rb.cT : null);
      rec.copy(bufs.stats, 0, staging, rb.stats * 4, sizes.stats * 4);
      if (p.inputGradient) rec.copy(bufs.dx!, 0, staging, dxAt * 4, R * s.d * 4);
    });
    const S = statsLayout();
    const stats = data.subarray(rb.stats, rb.stats + sizes.stats);
    const result: SequenceGradients = {
      loss: p.loss === 'none' ? NaN : stats[S.loss],
      gradNorm: stats[S.gradNorm],
      clipped: stats[S.clipped] !== 0,
      nonFinite: stats[S.nonFinite] !== 0,
      layers: layout.layers.map((l) => {
        const Gh = s.G * h;
        const g = { dWx: data.slice(l.Wx, l.Wh), dWh: data.slice(l.Wh, l.Wh + Gh * h) };
        // (an RnnModel's one layer has bx alone)
        return { ...g, ...(l.bx >= 0 ? { dbx: data.slice(l.bx, l.bx + Gh) } : {}), ...(l.bh >= 0 ? { dbh: data.slice(l.bh, l.bh + Gh) } : {}) };
      }),
      dh0: data.slice(rb.dh0, rb.dh0 + kbh),
      hT: data.slice(rb.hT, rb.hT + kbh),
    };
    if (layout.head) {
      result.head = { dW: data.slice(layout.head.W, layout.head.W + s.q * s.dirs * h) };
      if (s.hasHeadBias) result.head.db = data.slice(layout.head.b, layout.head.b + s.q);
    }
    if (lstm) {
      result.dc0 = data.slice(rb.dc0, rb.dc0 + kbh);
      result.cT = data.slice(rb.cT, rb.cT + kbh);
    }
    if (p.inputGradient) result.dx = data.slice(dxAt, dxAt + R * s.d);
    if (p.gradNormPerStep) result.gradNormPerStep = stats.slice(S.perStep, S.perStep + K * T);
    if (p.truncation.kind === 'randomized') result.xi = Float32Array.from(s.xi);
    return result;
  } finally {
    releaseSequenceBuffers(ctx, bufs);
    ctx.pool.settle();
  }
}

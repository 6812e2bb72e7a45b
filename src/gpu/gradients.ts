// engine.gradients on the GPU: upload, record the whole computation in one
// encoder, submit once, read every result back with one map.
import type { Batch, GradientResult, RnnModel } from '../types.js';
import type { Problem } from '../validate.js';
import { BpttInputError } from '../errors.js';
import { layoutOf, packParams } from '../params.js';
import { truncationXi } from '../truncation.js';
import { type GpuContext, upload } from './context.js';
import { checkDispatchLimits, dispatchLimits } from './dispatch-limits.js';
import { submitAndRead } from './call.js';
import { statsLayout } from './stats.js';
import { chooseRnnVariants } from './tuning.js';
import { type GpuBuffers, type GpuShape, bufferSizes, maxDispatches, planShape, recordBackward, recordForward, recordOutputAndLoss } from './encode.js';

export const STORAGE = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;

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

export function shapeOf(model: RnnModel, problem: Problem): GpuShape {
  const t = problem.truncation;
  return planShape(
    problem.dims,
    {
      tokens: problem.tokens,
      hasBias: problem.hasBias,
      activation: model.activation,
      loss: problem.loss,
      window: t.kind === 'window' ? t.steps : 0,
      xi: truncationXi(t, problem.dims.T),
    },
    layoutOf(model),
  );
}

/**
 * Refuses, before any work, a computation whose buffers exceed the device's limits.
 * `sizes` are storage buffers (bound whole); `readback` are mapped buffers (maxBufferSize only).
 * Sizes in f32 elements; `argument` is what the error names.
 */
export function checkLimits(
  sizes: Record<string, number>,
  limits: { maxBinding: number; maxBuffer: number },
  argument = 'batch',
  readback: Record<string, number> = {},
): void {
  for (const [name, n] of Object.entries(sizes)) {
    const bytes = n * 4;
    if (bytes > limits.maxBinding) {
      throw new BpttInputError(argument, `buffer ${name} within maxStorageBufferBindingSize = ${limits.maxBinding} bytes`, `${bytes} bytes; use smaller T*B or hidden size, or the CPU backend`);
    }
    if (bytes > limits.maxBuffer) {
      throw new BpttInputError(argument, `buffer ${name} within maxBufferSize = ${limits.maxBuffer} bytes`, `${bytes} bytes`);
    }
  }
  for (const [name, n] of Object.entries(readback)) {
    if (n * 4 > limits.maxBuffer) {
      throw new BpttInputError(argument, `buffer ${name} within maxBufferSize = ${limits.maxBuffer} bytes`, `${n * 4} bytes`);
    }
  }
}

/** Acquires a buffer for each non-empty size from the pool. */
export function acquireBuffers(
  ctx: GpuContext,
  sizes: Record<keyof GpuBuffers, number>,
  reuse: Partial<GpuBuffers> = {},
  allocate: (bytes: number, usage: number, label: string) => GPUBuffer = (bytes, usage, label) => ctx.pool.acquire(bytes, usage, label),
): GpuBuffers {
  const out: Partial<Record<keyof GpuBuffers, GPUBuffer | null>> = {};
  for (const key of Object.keys(sizes) as (keyof GpuBuffers)[]) {
    const given = reuse[key];
    if (given) out[key] = given;
    else out[key] = sizes[key] > 0 ? allocate(sizes[key] * 4, STORAGE(), key) : null;
  }
  // Kernels bind every declared buffer: unused inputs get a stand-in.
  out.labels ??= out.rowLoss!;
  out.targets ??= out.rowLoss!;
  return out as GpuBuffers;
}

export function releaseBuffers(ctx: GpuContext, bufs: GpuBuffers, keep: Partial<GpuBuffers> = {}): void {
  const kept = new Set(Object.values(keep));
  for (const b of new Set(Object.values(bufs))) if (b && !kept.has(b)) ctx.pool.release(b as GPUBuffer);
}

/** Uploads a batch: x (or ids and their CSR), y or dO. h0/dhT are handled by the caller. */
export function uploadBatch(ctx: GpuContext, s: GpuShape, b: GpuBuffers, batch: Batch): void {
  upload(ctx.device, b.x, 0, batch.x);
  if (s.tokens) upload(ctx.device, b.csr!, 0, tokenCsr(batch.x as Int32Array, s.d));
  if (s.loss === 'cross-entropy') upload(ctx.device, b.labels, 0, batch.y as Int32Array);
  else if (s.loss === 'mse') upload(ctx.device, b.targets, 0, batch.y as Float32Array);
  else upload(ctx.device, b.O, 0, batch.dO!);
}

export async function gpuGradients(
  ctx: GpuContext,
  limits: { maxBinding: number; maxBuffer: number },
  model: RnnModel,
  batch: Batch,
  problem: Problem,
): Promise<GradientResult> {
  ctx.assertAlive();
  const s = await chooseRnnVariants(ctx, shapeOf(model, problem)); // the kernel variants (tuned, fixed or default)
  ctx.assertAlive(); // (an engine disposed while the tuner was measuring)
  const { T, B, d, h, layout: L } = s;
  const R = T * B;
  const sizes = bufferSizes(s, problem.inputGradient);
  // Readback layout, in f32 elements: grad | dh0 | hT | stats | dx
  const rb = { grad: 0, dh0: L.total, hT: L.total + B * h, stats: L.total + 2 * B * h, dx: L.total + 2 * B * h + sizes.stats };
  const readElems = rb.dx + (problem.inputGradient ? R * d : 0);
  checkLimits(sizes, limits, 'batch', { readback: readElems });
  checkDispatchLimits(s, dispatchLimits(ctx.device));
  const bufs = acquireBuffers(ctx, sizes);
  try {
    const data = await submitAndRead(ctx, 'a gradient call', maxDispatches(s), readElems, (rec, staging) => {
      upload(ctx.device, bufs.params, 0, packParams(model));
      uploadBatch(ctx, s, bufs, batch);
      if (batch.h0) upload(ctx.device, bufs.H, 0, batch.h0);
      if (batch.dhT) upload(ctx.device, bufs.dhT, 0, batch.dhT);
      if (!batch.h0) rec.clear(bufs.H, 0, B * h * 4);
      if (!batch.dhT) rec.clear(bufs.dhT, 0, B * h * 4);
      rec.clear(bufs.stats, 0, sizes.stats * 4);
      recordForward(rec, s, bufs);
      recordOutputAndLoss(rec, s, bufs);
      recordBackward(rec, s, bufs, {
        dh0: true,
        perStepNorms: problem.gradNormPerStep,
        dx: problem.inputGradient,
        clipNorm: problem.clipNorm ?? 0,
        applyClip: true,
        countStep: false,
      });
      rec.copy(bufs.grad, 0, staging, rb.grad * 4, L.total * 4);
      rec.copy(bufs.dA, 0, staging, rb.dh0 * 4, B * h * 4);
      rec.copy(bufs.H, T * B * h * 4, staging, rb.hT * 4, B * h * 4);
      rec.copy(bufs.stats, 0, staging, rb.stats * 4, sizes.stats * 4);
      if (problem.inputGradient) rec.copy(bufs.dx!, 0, staging, rb.dx * 4, R * d * 4);
    });
    return unpackResult(data, rb, s, problem);
  } finally {
    releaseBuffers(ctx, bufs);
    ctx.pool.settle(); // the work is done (or failed): free memory beyond what the next calls need
  }
}

function unpackResult(data: Float32Array, rb: Record<string, number>, s: GpuShape, problem: Problem): GradientResult {
  const { T, B, d, h, layout: L } = s;
  const S = statsLayout();
  const stats = data.subarray(rb.stats, rb.stats + S.perStep + T);
  const result: GradientResult = {
    loss: problem.loss === 'none' ? NaN : stats[S.loss],
    dWhx: data.slice(L.Whx, L.Whh),
    dWhh: data.slice(L.Whh, L.Wqh),
    dWqh: data.slice(L.Wqh, L.bh),
    dh0: data.slice(rb.dh0, rb.dh0 + B * h),
    hT: data.slice(rb.hT, rb.hT + B * h),
    gradNorm: stats[S.gradNorm],
    clipped: stats[S.clipped] !== 0,
    nonFinite: stats[S.nonFinite] !== 0,
  };
  if (s.hasBias) {
    result.dbh = data.slice(L.bh, L.bq);
    result.dbq = data.slice(L.bq, L.total);
  }
  if (problem.inputGradient) result.dx = data.slice(rb.dx, rb.dx + T * B * d);
  if (problem.gradNormPerStep) result.gradNormPerStep = stats.slice(S.perStep, S.perStep + T);
  if (problem.truncation.kind === 'randomized' && s.xi) result.xi = Float32Array.from(s.xi);
  return result;
}

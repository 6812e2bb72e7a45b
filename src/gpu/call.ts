// The one path every GPU call takes from recorded work to host data: record
// inside validation and out-of-memory error scopes, submit once, map one
// staging buffer, copy its bytes out, give the staging buffer back.
import { BpttDeviceError } from '../errors.js';
import type { GpuContext, Recorder } from './context.js';

/**
 * Records with `record` (which copies what is to be read into `staging` at
 * element offsets of its choosing), submits once, and resolves to the first
 * `readElems` f32 values of the staging buffer. `what` names the call in errors.
 */
export async function submitAndRead(
  ctx: GpuContext,
  what: string,
  maxDispatches: number,
  readElems: number,
  record: (rec: Recorder, staging: GPUBuffer) => void,
): Promise<Float32Array> {
  const bytes = Math.max(1, readElems) * 4;
  const staging = ctx.pool.acquire(bytes, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, 'readback');
  try {
    const errors = withErrorScopes(ctx.device, () => {
      const rec = ctx.record(maxDispatches);
      record(rec, staging);
      rec.finish();
    });
    const error = await ctx.guard(errors);
    if (error) throw new BpttDeviceError(`WebGPU ${error.constructor?.name ?? 'error'} in ${what}: ${error.message}`);
    await ctx.guard(staging.mapAsync(GPUMapMode.READ, 0, bytes));
    ctx.readBytes += bytes;
    const data = new Float32Array(staging.getMappedRange(0, bytes).slice(0));
    staging.unmap();
    return data;
  } finally {
    if (staging.mapState === 'mapped') staging.unmap();
    ctx.pool.release(staging);
  }
}

/** Runs `record` inside validation and out-of-memory error scopes; resolves to the first error, if any. */
export function withErrorScopes(device: GPUDevice, record: () => void): Promise<GPUError | null> {
  device.pushErrorScope('out-of-memory');
  device.pushErrorScope('validation');
  let thrown: unknown = null;
  try {
    record();
  } catch (e) {
    thrown = e;
  }
  const validation = device.popErrorScope();
  const oom = device.popErrorScope();
  if (thrown) {
    validation.catch(() => {});
    oom.catch(() => {});
    throw thrown;
  }
  return Promise.all([validation, oom]).then(([v, o]) => v ?? o ?? null);
}

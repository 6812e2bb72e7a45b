// The plumbing every engine.gpu call shares: checking a caller's buffers
// (size, usage, mapped), naming the one WebGPU rejects (another device's, or
// destroyed) before anything is recorded into the caller's encoder, output
// buffers (the caller's or new ones, destroyed if the call fails), and the
// record-and-submit step inside error scopes.
import { BpttDeviceError, BpttInputError, describe } from '../errors.js';
import type { GpuContext, Recorder } from './context.js';
import { withErrorScopes } from './call.js';

export const SRC = 4; // GPUBufferUsage.COPY_SRC
export const DST = 8; // GPUBufferUsage.COPY_DST

const USAGE_NAMES: [number, string][] = [
  [1, 'MAP_READ'], [2, 'MAP_WRITE'], [4, 'COPY_SRC'], [8, 'COPY_DST'], [16, 'INDEX'], [32, 'VERTEX'], [64, 'UNIFORM'], [128, 'STORAGE'], [256, 'INDIRECT'], [512, 'QUERY_RESOLVE'],
];

function usageText(usage: number): string {
  return USAGE_NAMES.filter(([bit]) => usage & bit).map(([, n]) => n).join(' | ') || 'none';
}

function isBuffer(value: unknown): value is GPUBuffer {
  return typeof value === 'object' && value !== null && typeof (value as GPUBuffer).size === 'number' && typeof (value as GPUBuffer).usage === 'number' && typeof (value as GPUBuffer).destroy === 'function';
}

/** A buffer of at least `elems` 4-byte elements with the `needed` usage bits. */
export function checkBuffer(argument: string, value: unknown, elems: number, shape: string, needed: number): GPUBuffer {
  if (!isBuffer(value)) throw new BpttInputError(argument, `a GPUBuffer ${shape}`, describe(value));
  if (value.size < elems * 4) throw new BpttInputError(argument, `a GPUBuffer of at least ${elems * 4} bytes (${shape}, 4-byte elements)`, `a GPUBuffer of ${value.size} bytes`);
  if ((value.usage & needed) !== needed) {
    throw new BpttInputError(argument, `a GPUBuffer with usage ${usageText(needed)}`, `usage ${usageText(value.usage)}`);
  }
  if ((value as GPUBuffer & { mapState?: string }).mapState === 'mapped') throw new BpttInputError(argument, 'an unmapped GPUBuffer', 'a mapped GPUBuffer');
  return value;
}

/** A caller's buffer, the argument it came in as, and whether we read it or write it. */
export type Named = [argument: string, buffer: GPUBuffer, direction: 'in' | 'out'];

export function deviceCalls(ctx: GpuContext) {
  const device = ctx.device;

  /**
   * Zero-byte copies that touch each named buffer, submitted on their own:
   * WebGPU rejects a buffer of another device (at finish) or a destroyed one
   * (at submit). Returns the error message, or null when all are usable.
   */
  async function probe(named: Named[]): Promise<string | null> {
    const scratch = ctx.pool.acquire(4, GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST, 'probe');
    try {
      return await ctx.guard(
        withErrorScopes(device, () => {
          const enc = device.createCommandEncoder({ label: 'webgpu-bptt buffer check' });
          for (const [, b, dir] of named) {
            if (dir === 'in') enc.copyBufferToBuffer(b, 0, scratch, 0, 0);
            else enc.copyBufferToBuffer(scratch, 0, b, 0, 0);
          }
          device.queue.submit([enc.finish()]);
        }).then((e) => (e ? e.message.trim() : null)),
      );
    } finally {
      ctx.pool.release(scratch);
    }
  }

  /** Throws a BpttInputError naming the first buffer WebGPU rejects (another device's, or destroyed); `message` is the error already seen, if any. */
  async function checkDevice(who: string, named: Named[], message?: string): Promise<void> {
    const seen = message ?? (await probe(named));
    if (seen === null) return;
    for (const n of named) {
      const m = await probe([n]);
      if (m !== null) throw new BpttInputError(n[0], `a live GPUBuffer of this engine's device (${who})`, `a buffer WebGPU rejects: ${m.split('\n')[0]}`);
    }
    throw new BpttDeviceError(`${who}: WebGPU rejected the work (${seen}); are all buffers alive and from this engine's device?`);
  }

  /**
   * Output buffers: the caller's (checked: size and COPY_DST) or new ones,
   * recorded in `created` so that they are destroyed if the call fails.
   */
  function outputs<K extends string>(given: Partial<Record<K, GPUBuffer>>, created: GPUBuffer[]) {
    return (key: K, elems: number, shape: string): GPUBuffer => {
      const mine = given[key];
      if (mine !== undefined) return checkBuffer(`outputs.${key}`, mine, elems, shape, DST);
      const b = device.createBuffer({ size: Math.max(4, elems * 4), usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST, label: key });
      created.push(b);
      return b;
    };
  }

  async function run(who: string, encoder: GPUCommandEncoder | undefined, named: Named[], created: GPUBuffer[], record: (rec: Recorder) => void, dispatches: number) {
    let error: GPUError | null;
    try {
      // The caller submits its encoder later, where WebGPU's error would name no
      // argument (and poison the whole encoder): check the buffers first.
      if (encoder) await checkDevice(who, named);
      error = await ctx.guard(
        withErrorScopes(device, () => {
          const rec = ctx.record(dispatches);
          record(rec);
          if (encoder) rec.finishInto(encoder);
          else rec.finish();
        }),
      );
      if (error) await checkDevice(who, named, error.message.trim());
    } catch (e) {
      for (const b of created) b.destroy();
      throw e;
    }
  }

  return { outputs, run, checkDevice };
}

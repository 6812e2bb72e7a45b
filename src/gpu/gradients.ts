// What every GPU call shares before it records: the storage usage of its
// buffers, the token rows grouped by id, and the refusal of buffers beyond the
// device's limits. (engine.gradients of any model: sequence-gradients.ts.)
import { BpttInputError } from '../errors.js';

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

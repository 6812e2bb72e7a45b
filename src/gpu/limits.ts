// What every GPU call checks before it allocates: the storage usage of its
// buffers, and the refusal of buffers beyond the device's limits, naming the
// argument to change.
import { BpttInputError } from '../errors.js';

export const STORAGE = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;

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

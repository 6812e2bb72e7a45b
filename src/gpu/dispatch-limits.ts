// Every dispatch of a computation against the device's limits, checked before
// any work so that a batch too large for one dispatch is refused naming the
// argument to change, not failed later with an internal kernel name.
//
// The grids (encode.ts): matmul.wgsl runs [ceil(N/32), ceil(M/32), splits]
// over the products P = X Whx^T (M = T*B, N = h), O (N = q), G (N = h), dx
// (N = d), dWhx (M = h, N = d), dWhh (h, h), dWqh (q, h); the step kernels
// [ceil(h/32), ceil(B/32)]; column_sums [ceil(n/64), splits]; finalize [1].
// Element-wise kernels, output_loss and the token kernels fold their count
// over x and y (elementwise(), folded()), so they fit any count whose fold
// does, and the fold is checked here too. The uniform arena holds one block
// per dispatch (2T + 24 of them) and must fit in one buffer.
import { BpttInputError } from '../errors.js';
import type { GpuShape } from './encode.js';
import { maxDispatches } from './encode.js';

const TILE = 32; // C tile of matmul.wgsl and of the step kernels
const FOLD = 65535; // elementwise()/folded() fold at this many workgroups in x

/** The argument each size comes from, for the error message. */
export interface SizeNames {
  rows: string; // T*B
  steps: string; // T
  batchSize: string; // B
  inputSize: string; // d
  hiddenSize: string; // h
  outputSize: string; // q
}

export const BATCH_NAMES: SizeNames = {
  rows: 'batch',
  steps: 'batch.steps',
  batchSize: 'batch.batchSize',
  inputSize: 'model.inputSize',
  hiddenSize: 'model.hiddenSize',
  outputSize: 'model.outputSize',
};

export interface DispatchLimits {
  maxComputeWorkgroupsPerDimension: number;
  maxBuffer: number; // bytes
  uniformAlign: number; // minUniformBufferOffsetAlignment
}

/** Throws a BpttInputError naming the argument when some dispatch of `s` would exceed a device limit. */
export function checkDispatchLimits(s: GpuShape, limits: DispatchLimits, names: SizeNames = BATCH_NAMES): void {
  const max = limits.maxComputeWorkgroupsPerDimension;
  const rows = s.T * s.B;
  const tiles = (n: number) => Math.ceil(n / TILE);
  const refuse = (argument: string, what: string, value: number, limit: number) => {
    throw new BpttInputError(
      argument,
      `${what} at most ${limit} (one dispatch covers at most maxComputeWorkgroupsPerDimension = ${max} workgroups of ${TILE} per dimension)`,
      `${value}; use a smaller batch, or the CPU backend`,
    );
  };
  if (tiles(rows) > max) refuse(names.rows, `T*B (${names.steps} * ${names.batchSize}) rows`, rows, max * TILE);
  // the step kernels' ceil(B/32) is covered by the rows: B <= T*B
  if (tiles(s.d) > max) refuse(names.inputSize, 'an input size', s.d, max * TILE);
  if (tiles(s.h) > max) refuse(names.hiddenSize, 'a hidden size', s.h, max * TILE);
  if (tiles(s.q) > max) refuse(names.outputSize, 'an output size', s.q, max * TILE);
  // folded element-wise work: the largest count is one of these
  const largest = Math.max(rows * s.h, rows * s.q, s.h * s.d, s.layout.total, s.T * s.stepParts);
  if (Math.ceil(Math.ceil(largest / 256) / FOLD) > max) refuse(names.rows, 'element-wise work of', largest, max * FOLD * 256);
  const arena = maxDispatches(s) * limits.uniformAlign;
  if (arena > limits.maxBuffer) {
    throw new BpttInputError(
      names.steps,
      `at most ${Math.floor((limits.maxBuffer / limits.uniformAlign - 24) / 2)} steps (one uniform block of ${limits.uniformAlign} bytes per dispatch, 2T + 24 dispatches, within maxBufferSize = ${limits.maxBuffer} bytes)`,
      `${s.T}; cut the sequence into chunks (carryState), or use the CPU backend`,
    );
  }
}

/** The limits of a context's device, with the engine's own lower maxBufferSize. */
export function dispatchLimits(device: GPUDevice, maxBuffer: number): DispatchLimits {
  return {
    maxComputeWorkgroupsPerDimension: device.limits.maxComputeWorkgroupsPerDimension,
    maxBuffer,
    uniformAlign: device.limits.minUniformBufferOffsetAlignment,
  };
}

// Every dispatch of a computation against the device's limits, checked before
// any work so that a batch too large for one dispatch is refused naming the
// argument to change, not failed later with an internal kernel name.
// Element-wise kernels, output_loss and the token kernels fold their count
// over x and y (elementwise(), folded() in encode.ts), so they fit any count
// whose fold does, and the fold is checked here too. The uniform arena holds
// one block per dispatch and must fit in one buffer.
import { BpttInputError } from '../errors.js';
import type { SeqShape } from './sequence-encode.js';

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

/** The arguments of a SequenceModel call (engine.gradients, trainer.step). */
export const SEQUENCE_NAMES: SizeNames = {
  rows: 'batch',
  steps: 'batch.steps',
  batchSize: 'batch.batchSize',
  inputSize: 'model.inputSize',
  hiddenSize: 'model.hiddenSize',
  outputSize: 'model.head.outputSize',
};

/**
 * The same checks for a SequenceModel computation (sequence-encode.ts), whose
 * grids are: matmul.wgsl over M = T*B rows (tau*T*B under window(tau), the
 * adjoints passed down by age), N = G*h (the gates), dirs*h, d, q, and the
 * weight gradients' M = G*h; the cell step kernels [ceil(B*h/64), dirs];
 * column_sums [ceil(G*h/64), splits]; element-wise work folded over x and y;
 * `dispatches` uniform blocks (sequenceDispatches() and what the caller adds).
 */
export function checkSequenceDispatchLimits(s: SeqShape, dispatches: number, limits: DispatchLimits, names: SizeNames = s.rnnModel ? BATCH_NAMES : SEQUENCE_NAMES): void {
  const max = limits.maxComputeWorkgroupsPerDimension;
  const refuse = (argument: string, what: string, value: number, limit: number, per = TILE) => {
    throw new BpttInputError(
      argument,
      `${what} at most ${limit} (one dispatch covers at most maxComputeWorkgroupsPerDimension = ${max} workgroups of ${per} per dimension)`,
      `${value}; use a smaller batch, or the CPU backend`,
    );
  };
  const tiles = (n: number) => Math.ceil(n / TILE);
  const ages = Math.max(1, s.window);
  const rows = ages * s.R;
  if (tiles(rows) > max) refuse(names.rows, s.window ? `T*B*tau (${names.steps} * ${names.batchSize} * window steps) rows` : `T*B (${names.steps} * ${names.batchSize}) rows`, rows, max * TILE);
  // the cell step kernels: 64 invocations per workgroup over B*h (the chapter's: [ceil(h/32), ceil(B/32)],
  // covered by the rows; their variants' grids by unfitRnnReason)
  if (!s.chapter && Math.ceil((s.B * s.h) / 64) > max) refuse(names.batchSize, `${names.batchSize} * ${names.hiddenSize}`, s.B * s.h, max * 64, 64);
  if (tiles(s.d) > max) refuse(names.inputSize, 'an input size', s.d, max * TILE);
  const widest = Math.max(s.G, s.dirs) * s.h; // the gates of a layer, or a layer's output (both directions)
  if (tiles(widest) > max) refuse(names.hiddenSize, `a hidden size (times ${Math.max(s.G, s.dirs)}: gates and directions)`, s.h, Math.floor((max * TILE) / Math.max(s.G, s.dirs)));
  if (tiles(s.q) > max) refuse(names.outputSize, 'an output size', s.q, max * TILE);
  const largest = Math.max(s.R * s.G * s.h, s.R * s.dirs * s.h, s.R * s.q, s.G * s.h * s.d, s.layout.total, 2 * s.K * s.B * s.h);
  if (Math.ceil(Math.ceil(largest / 256) / FOLD) > max) refuse(names.rows, 'element-wise work of', largest, max * FOLD * 256);
  if (dispatches * limits.uniformAlign > limits.maxBuffer) {
    throw new BpttInputError(
      names.steps,
      `fewer steps (one uniform block of ${limits.uniformAlign} bytes per dispatch, ${dispatches} dispatches here, about 2*layers per step, within maxBufferSize = ${limits.maxBuffer} bytes)`,
      `${s.T}; cut the sequence into chunks (carryState), or use the CPU backend`,
    );
  }
}

/**
 * The limits of a context's device for the uniform arena. The arena is the
 * engine's own buffer, sized by the number of dispatches: it answers to the
 * device's real maxBufferSize, not to a lower `options.limits.maxBufferSize`,
 * which bounds the data buffers (and cannot fall below WebGPU's guaranteed
 * 256 MiB on a real device anyway).
 */
export function dispatchLimits(device: GPUDevice): DispatchLimits {
  return {
    maxComputeWorkgroupsPerDimension: device.limits.maxComputeWorkgroupsPerDimension,
    maxBuffer: device.limits.maxBufferSize,
    uniformAlign: device.limits.minUniformBufferOffsetAlignment,
  };
}

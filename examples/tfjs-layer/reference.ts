// The reference for H and O, which engine.gradients does not return: the
// library's own float64 CPU forward pass and output projection (src/cpu), the
// same code engine.gradients runs on the 'cpu' backend.
import type { Batch, RnnModel } from 'webgpu-bptt';
import { cpuRnnStates } from '../../src/cpu/sequence/infer.js';

/** H [(T+1), B, h] (H_0 = h0) and O [T, B, q], in float64. */
export function referenceForward(model: RnnModel, batch: Batch): { H: Float64Array; O: Float64Array } {
  return cpuRnnStates(model, batch);
}

// The reference for H and O, which engine.gradients does not return: the
// library's own float64 CPU forward pass and output projection (src/cpu), the
// same code engine.gradients runs on the 'cpu' backend.
import type { Batch, RnnModel } from 'webgpu-bptt';
import { cpuForward } from '../../src/cpu/gradients.js';
import { outputProjection } from '../../src/cpu/kernels.js';
import { validateGradientCall } from '../../src/validate.js';

/** H [(T+1), B, h] (H_0 = h0) and O [T, B, q], in float64. */
export function referenceForward(model: RnnModel, batch: Batch): { H: Float64Array; O: Float64Array } {
  const problem = validateGradientCall(model, batch, { loss: 'cross-entropy' });
  const { T, B, h, q } = problem.dims;
  const { H } = cpuForward(model, batch, problem);
  const O = new Float64Array(T * B * q);
  outputProjection(O, H, B * h, Float64Array.from(model.Wqh), model.bq ? Float64Array.from(model.bq) : null, T * B, h, q);
  return { H, O };
}

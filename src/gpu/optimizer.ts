// The optimizer update of both WebGPU trainers (RnnModel and SequenceModel):
// one dispatch over the flat parameter vector, skipped on the device when the
// step's gradients were not finite (kernels/sgd_update.wgsl, adam_update.wgsl).
import type { OptimizerOptions } from '../types.js';
import type { Recorder } from './context.js';
import { elementwise } from './encode.js';
import { kernel } from './kernels.js';

export function recordOptimizerUpdate(
  rec: Recorder,
  optimizer: OptimizerOptions,
  b: { grad: GPUBuffer; stats: GPUBuffer; theta: GPUBuffer; m: GPUBuffer | null; v: GPUBuffer | null },
  n: number,
): void {
  const wg = elementwise(n);
  if (optimizer.kind === 'sgd') {
    rec.dispatch(kernel('sgd_update'), {}, { grad: b.grad, stats: b.stats, theta: b.theta }, { n, learningRate: optimizer.learningRate }, wg);
    return;
  }
  const { learningRate, beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8 } = optimizer;
  // 1 - beta and the square roots in float64 on the host (see the kernel's header)
  const params = { n, learningRate, beta1, beta2, epsilon, oneMinusBeta1: 1 - beta1, oneMinusBeta2: 1 - beta2, sqrtBeta2: Math.sqrt(beta2), sqrtOneMinusBeta2: Math.sqrt(1 - beta2) };
  rec.dispatch(kernel('adam_update'), {}, { grad: b.grad, stats: b.stats, theta: b.theta, m: b.m!, v: b.v! }, params, wg);
}

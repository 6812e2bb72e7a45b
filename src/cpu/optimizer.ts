// SGD and Adam on the flat parameter vector (src/params.ts), the CPU twins of
// kernels/sgd_update.wgsl and kernels/adam_update.wgsl.
import type { OptimizerOptions } from '../types.js';

export interface OptimizerState {
  step: number; // updates applied so far
  m: Float64Array | null; // Adam first moment
  v: Float64Array | null; // Adam second moment
}

export function makeOptimizerState(optimizer: OptimizerOptions, n: number): OptimizerState {
  const adam = optimizer.kind === 'adam';
  return { step: 0, m: adam ? new Float64Array(n) : null, v: adam ? new Float64Array(n) : null };
}

/** params <- update(params, grad); grad is already clipped. */
export function applyUpdate(params: Float64Array, grad: Float64Array, optimizer: OptimizerOptions, state: OptimizerState): void {
  state.step += 1;
  const lr = optimizer.learningRate;
  if (optimizer.kind === 'sgd') {
    for (let i = 0; i < params.length; i++) params[i] -= lr * grad[i];
    return;
  }
  const { beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8 } = optimizer;
  const m = state.m!;
  const v = state.v!;
  const c1 = 1 - Math.pow(beta1, state.step);
  const c2 = 1 - Math.pow(beta2, state.step);
  for (let i = 0; i < params.length; i++) {
    const g = grad[i];
    m[i] = beta1 * m[i] + (1 - beta1) * g;
    v[i] = beta2 * v[i] + (1 - beta2) * g * g;
    params[i] -= (lr * (m[i] / c1)) / (Math.sqrt(v[i] / c2) + epsilon);
  }
}

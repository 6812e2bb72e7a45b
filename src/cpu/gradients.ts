// The CPU reference of one gradient call: forward, loss, reverse sweep, weight
// gradients, clipping and diagnostics, exactly as MATH.md states them.
//
// In float64, with float32's range: every quantity the GPU stores (P, each
// h_t, O, dO, G, each dA_t and carry (in kernels.ts), the gradients) is brought into
// float32's range as it is made (beyond it: +-Infinity), so that the float64
// reference cannot hide an overflow that every float32 engine has (an h_t of
// 1e39 is Infinity there, whatever later steps do with it). Within the range
// nothing is rounded: the reference stays exact.
import type { Batch, GradientResult, RnnModel } from '../types.js';
import type { Problem } from '../validate.js';
import { truncationXi } from '../truncation.js';
import { clampToFloat32Range, toFloat32Range } from '../float32.js';
import {
  hiddenCarry,
  inputGather,
  inputGradient,
  inputProjection,
  lossAndOutputGrad,
  outputProjection,
  outputToHiddenGrad,
  rnnBackwardStep,
  rnnForwardStep,
  weightGradients,
  windowBackwardStep,
} from './kernels.js';

const f64 = (a: Float32Array) => Float64Array.from(a);
const f32 = (a: Float64Array) => Float32Array.from(a);

/** Forward pass: H is [(T+1), B, h] with H_0 = h0 in slot 0. */
export function cpuForward(model: RnnModel, batch: Batch, problem: Problem): { H: Float64Array; Whh: Float64Array } {
  const { T, B, d, h } = problem.dims;
  const rows = T * B;
  const Whx = f64(model.Whx);
  const Whh = f64(model.Whh);
  const bh = model.bh ? f64(model.bh) : null;
  const P = new Float64Array(rows * h);
  if (problem.tokens) inputGather(P, batch.x as Int32Array, Whx, bh, rows, d, h);
  else inputProjection(P, batch.x as Float32Array, Whx, bh, rows, d, h);
  clampToFloat32Range(P);
  const H = new Float64Array((T + 1) * B * h);
  if (batch.h0) H.set(batch.h0);
  for (let t = 1; t <= T; t++) {
    rnnForwardStep(H, P, Whh, t, B, h, model.activation);
    clampToFloat32Range(H, t * B * h, (t + 1) * B * h);
  }
  return { H, Whh };
}

/** Global L2 norm over the parameter gradients (weights and biases). */
export function globalNorm(arrays: (Float64Array | null)[]): number {
  let s = 0;
  for (const a of arrays) if (a) for (let i = 0; i < a.length; i++) s += a[i] * a[i];
  return Math.sqrt(s);
}

export function cpuGradients(model: RnnModel, batch: Batch, problem: Problem): GradientResult {
  const { T, B, d, h, q } = problem.dims;
  const rows = T * B;
  const act = model.activation;
  const { H, Whh } = cpuForward(model, batch, problem);

  // Output projection, loss and dO
  const Wqh = f64(model.Wqh);
  const O = new Float64Array(rows * q);
  outputProjection(O, H, B * h, Wqh, model.bq ? f64(model.bq) : null, rows, h, q);
  clampToFloat32Range(O);
  let dO: Float64Array;
  let loss = NaN;
  if (problem.loss === 'none') {
    dO = f64(batch.dO!);
  } else {
    dO = new Float64Array(rows * q);
    loss = toFloat32Range(lossAndOutputGrad(dO, O, batch.y!, problem.loss, rows, q, 1 / rows));
    clampToFloat32Range(dO);
  }

  // Reverse sweep
  const G = new Float64Array(rows * h);
  outputToHiddenGrad(G, dO, Wqh, rows, q, h);
  clampToFloat32Range(G);
  const dA = new Float64Array(rows * h);
  const norms = new Float64Array(T);
  const dh0 = new Float64Array(B * h);
  const xi = truncationXi(problem.truncation, T);
  if (xi) {
    const carry = new Float64Array(B * h);
    if (batch.dhT) carry.set(batch.dhT);
    for (let t = T; t >= 1; t--) norms[t - 1] = rnnBackwardStep(dA, carry, G, H, Whh, xi[t - 1], t, B, h, act);
    dh0.set(carry);
  } else {
    // window(tau >= T) is full BPTT: no loss term reaches back further than T steps
    const tau = Math.min((problem.truncation as { steps: number }).steps, T);
    const slots = new Float64Array(tau * B * h);
    const next = new Float64Array(tau * B * h);
    for (let t = T; t >= 1; t--) {
      norms[t - 1] = windowBackwardStep(dA, slots, next, G, H, Whh, batch.dhT ?? null, t, T, tau, B, h, act);
    }
    hiddenCarry(dh0, dA, 0, Whh, 1, B, h);
  }

  // Weight gradients: one reduction over all T*B rows each
  const grads = {
    dWhx: new Float64Array(h * d),
    dWhh: new Float64Array(h * h),
    dWqh: new Float64Array(q * h),
    dbh: problem.hasBias ? new Float64Array(h) : null,
    dbq: problem.hasBias ? new Float64Array(q) : null,
  };
  weightGradients(grads, dA, dO, H, batch.x, problem.tokens, rows, B, d, h, q);

  // Global-norm clipping. The norm is NaN when any gradient element is NaN or
  // infinite, +Infinity when they are finite but their norm is beyond float32:
  // either way the gradients are reported non-finite and not applied (MATH.md).
  const all = [grads.dWhx, grads.dWhh, grads.dWqh, grads.dbh, grads.dbq];
  for (const a of all) if (a) clampToFloat32Range(a);
  const anyBad = all.some((a) => a !== null && a.some((v) => !Number.isFinite(v)));
  const gradNorm = anyBad ? NaN : toFloat32Range(globalNorm(all));
  const nonFinite = !Number.isFinite(gradNorm);
  let clipped = false;
  if (problem.clipNorm !== undefined && !nonFinite && gradNorm > problem.clipNorm) {
    const scale = problem.clipNorm / gradNorm;
    for (const a of all) if (a) for (let i = 0; i < a.length; i++) a[i] *= scale;
    clipped = true;
  }

  const result: GradientResult = {
    loss,
    dWhx: f32(grads.dWhx),
    dWhh: f32(grads.dWhh),
    dWqh: f32(grads.dWqh),
    dh0: f32(dh0),
    hT: f32(H.subarray(T * B * h)),
    gradNorm,
    clipped,
    nonFinite,
  };
  if (grads.dbh && grads.dbq) {
    result.dbh = f32(grads.dbh);
    result.dbq = f32(grads.dbq);
  }
  if (problem.inputGradient) {
    const dx = new Float64Array(rows * d);
    inputGradient(dx, dA, f64(model.Whx), rows, h, d);
    result.dx = f32(dx);
  }
  if (problem.gradNormPerStep) result.gradNormPerStep = Float32Array.from(norms, Math.sqrt);
  if (problem.truncation.kind === 'randomized' && xi) result.xi = xi;
  return result;
}

// The CPU reference, one function per GPU kernel, in the kernels' argument
// order and with MATH.md's names. Plain loops, float64 throughout: this is the
// readable statement of what the WGSL kernels must produce, and the oracle of
// every correctness test. Rows are (t, b) pairs, r = t*B + b, time-major.
// The products serve every layer of the walk (src/cpu/sequence/); the step
// functions rnnForwardStep, rnnBackwardStep and windowBackwardStep are the rnn
// recipe's own steps where the GPU runs the chapter's kernels (sequence/chapter.ts).
import type { Activation } from '../types.js';
import { clampToFloat32Range, toFloat32Range } from '../float32.js';

type Vec = Float64Array;

/**

 * True when every element is finite. A zero term is skipped below only when
 * the operand it multiplies is finite: 0 * NaN and 0 * Infinity are NaN, as on
 * the GPU, which multiplies every term (a NaN weight or an infinite input
 * must make the same gradients non-finite on every engine).
 */
export function allFinite(a: ArrayLike<number>): boolean {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return false;
  return true;
}

/**
 * P[r, :] = Whx x_r + bh.  P is [T*B, h], x is [T*B, d], Whx is [h, d], bh is [h] or null.
 * A SequenceModel uses it with h -> G*h (all gates at once) and x -> the layer below's output.
 */
export function inputProjection(P: Vec, x: ArrayLike<number>, Whx: Vec, bh: Vec | null, rows: number, d: number, h: number): void {
  for (let r = 0; r < rows; r++) {
    const xo = r * d;
    const po = r * h;
    for (let i = 0; i < h; i++) {
      let acc = bh ? bh[i] : 0;
      const wo = i * d;
      for (let k = 0; k < d; k++) acc += Whx[wo + k] * x[xo + k];
      P[po + i] = acc;
    }
  }
}

/** Token ids: P[r, :] = Whx[:, ids[r]] + bh, a gather of one column (the one-hot product, exactly). */
export function inputGather(P: Vec, ids: Int32Array, Whx: Vec, bh: Vec | null, rows: number, d: number, h: number): void {
  for (let r = 0; r < rows; r++) {
    const v = ids[r];
    const po = r * h;
    for (let i = 0; i < h; i++) P[po + i] = Whx[i * d + v] + (bh ? bh[i] : 0);
  }
}

export function activate(a: number, activation: Activation): number {
  if (activation === 'tanh') return Math.tanh(a);
  if (activation === 'relu') return a > 0 ? a : 0;
  return a;
}

/** phi'(a_t) written through h_t = phi(a_t): tanh 1 - h^2, relu h > 0 (same as a > 0), identity 1. */
export function activationGrad(hValue: number, activation: Activation): number {
  if (activation === 'tanh') return 1 - hValue * hValue;
  if (activation === 'relu') return hValue > 0 ? 1 : 0;
  return 1;
}

/**
 * One forward step (rnn_forward_step.wgsl): H_t = phi(P_t + H_{t-1} Whh^T), stored in float32's range.
 * H is [(T+1), B, h] with H_0 = h0 in slot 0; P is [T, B, h]; Whh is [h, h]; t in 1..T.
 */
export function rnnForwardStep(H: Vec, P: Vec, Whh: Vec, t: number, B: number, h: number, activation: Activation): void {
  const prev = (t - 1) * B * h;
  const cur = t * B * h;
  const p = (t - 1) * B * h;
  for (let b = 0; b < B; b++) {
    for (let j = 0; j < h; j++) {
      let acc = P[p + b * h + j];
      const wo = j * h;
      const ho = prev + b * h;
      for (let k = 0; k < h; k++) acc += H[ho + k] * Whh[wo + k];
      H[cur + b * h + j] = activate(acc, activation);
    }
  }
  clampToFloat32Range(H, cur, cur + B * h); // H_t is stored as float32 on the GPU
}

/** O[r, :] = Wqh h_r + bq for the T*B rows of H_1..H_T.  O is [T*B, q]; Hs starts at H_1. */
export function outputProjection(O: Vec, H: Vec, hOffset: number, Wqh: Vec, bq: Vec | null, rows: number, h: number, q: number): void {
  for (let r = 0; r < rows; r++) {
    const ho = hOffset + r * h;
    for (let c = 0; c < q; c++) {
      let acc = bq ? bq[c] : 0;
      const wo = c * h;
      for (let k = 0; k < h; k++) acc += Wqh[wo + k] * H[ho + k];
      O[r * q + c] = acc;
    }
  }
}

/**
 * Loss and dO for each row, scale = 1/(T*B) (1/N with lengths).
 * cross-entropy: l = logsumexp(o) - o_y, dO = (softmax(o) - onehot(y)) * scale
 * mse:           l = 1/2 ||o - y||^2,    dO = (o - y) * scale
 * Returns the sum of l over rows (times scale: the mean loss L).
 * With lengths ([B]), rows r = t*B + b with t >= lengths[b] (0-based t) are padding: dO = 0 there and no loss.
 */
export function lossAndOutputGrad(
  dO: Vec,
  O: Vec,
  y: Int32Array | Float32Array,
  loss: 'cross-entropy' | 'mse',
  rows: number,
  q: number,
  scale: number,
  lengths: Int32Array | null = null,
  B = 1,
): number {
  let total = 0;
  for (let r = 0; r < rows; r++) {
    const o = r * q;
    if (lengths && Math.floor(r / B) >= lengths[r % B]) {
      dO.fill(0, o, o + q);
      continue;
    }
    if (loss === 'cross-entropy') {
      let m = -Infinity;
      for (let c = 0; c < q; c++) m = Math.max(m, O[o + c]);
      let s = 0;
      for (let c = 0; c < q; c++) s += Math.exp(O[o + c] - m);
      const label = (y as Int32Array)[r];
      total += m + Math.log(s) - O[o + label];
      for (let c = 0; c < q; c++) dO[o + c] = (Math.exp(O[o + c] - m) / s - (c === label ? 1 : 0)) * scale;
    } else {
      let l = 0;
      for (let c = 0; c < q; c++) {
        const diff = O[o + c] - y[o + c];
        l += diff * diff;
        dO[o + c] = diff * scale;
      }
      total += 0.5 * l;
    }
  }
  return total * scale;
}

/** G[r, :] = Wqh^T dO_r, i.e. G = dO Wqh.  G is [T*B, h]; dO is [T*B, q]; Wqh is [q, h]. */
export function outputToHiddenGrad(G: Vec, dO: Vec, Wqh: Vec, rows: number, q: number, h: number): void {
  G.fill(0, 0, rows * h);
  const skipZeros = allFinite(Wqh);
  for (let r = 0; r < rows; r++) {
    const go = r * h;
    for (let c = 0; c < q; c++) {
      const g = dO[r * q + c];
      if (g === 0 && skipZeros) continue;
      const wo = c * h;
      for (let j = 0; j < h; j++) G[go + j] += g * Wqh[wo + j];
    }
  }
}

/** The flags of one rnn_backward_step: the steps t = T..1 of the sweep use G and phi', the extra step t = 0 neither. */
export interface RnnBackwardFlags {
  useCarry: boolean; // false at t = T: the carry is dhT (zero without one) instead of xi * dA_{t+1} Whh
  useG: boolean;
  applyAct: boolean;
}

/**
 * One reverse step (rnn_backward_step.wgsl), in row form:
 *   dH_t = G_t + carry,  carry = xi_{t+1} * dA_{t+1} Whh  (dhT at t = T)
 *   dA_t = dH_t * phi'(a_t)
 * dA is [(T+1), B, h]: dA_t in slot t, read as dA_{t+1} by the step after; G is [T, B, h]; H is [(T+1), B, h].
 * The sweep runs t = T..1, then one more step at t = 0 with useG = applyAct = false and xi = xi_1
 * (1 under window): slot 0 receives dh_0 = xi_1 * dA_1 Whh. Returns ||dH_t||^2.
 */
export function rnnBackwardStep(
  dA: Vec,
  G: Vec,
  H: Vec,
  Whh: Vec,
  dhT: ArrayLike<number> | null,
  xi: number,
  t: number,
  B: number,
  h: number,
  activation: Activation,
  flags: RnnBackwardFlags,
): number {
  const bh = B * h;
  const o = t * bh; // dA_t and H_t
  const carry = new Float64Array(bh);
  if (flags.useCarry) hiddenCarry(carry, dA, o + bh, Whh, xi, B, h);
  else if (dhT) carry.set(dhT);
  let norm2 = 0;
  for (let e = 0; e < bh; e++) {
    const dh = flags.useG ? G[o - bh + e] + carry[e] : carry[e];
    norm2 += dh * dh;
    dA[o + e] = flags.applyAct ? toFloat32Range(dh * activationGrad(H[o + e], activation)) : dh; // stored as f32 on the GPU
  }
  return norm2;
}

/** carry[b, :] = xi * sum_i dA[o + b*h + i] Whh[i, :]  (row form of xi * Whh^T dA). */
export function hiddenCarry(carry: Vec, dA: Vec, o: number, Whh: Vec, xi: number, B: number, h: number): void {
  carry.fill(0, 0, B * h);
  if (xi === 0) return; // a cut path carries nothing, NaN or not (the GPU skips the product too)
  const skipZeros = allFinite(Whh);
  for (let b = 0; b < B; b++) {
    const co = b * h;
    for (let i = 0; i < h; i++) {
      const g = xi * dA[o + b * h + i];
      if (g === 0 && skipZeros) continue;
      const wo = i * h;
      for (let j = 0; j < h; j++) carry[co + j] += g * Whh[wo + j];
    }
  }
  clampToFloat32Range(carry, 0, B * h);
}

/**
 * One reverse step of window(tau) (window_backward_step.wgsl): tau adjoint slots, one per age k = s - t.
 *   dH^(0)_t = G_t (+ dhT at t = T),  dH^(k)_t = dA^(k-1)_{t+1} Whh  for k >= 1 (0 at t = T)
 *   dA^(k)_t = dH^(k)_t * phi'(a_t),  dA_t = sum_k dA^(k)_t
 * slots is [2, tau, B, h], ping-pong as on the GPU: step t reads the slots dA^(k)_{t+1} of step t+1 at
 * parity 1 - p and writes its own dA^(k)_t at parity p = (T - t) % 2; the oldest age, tau-1, is not
 * carried further. dA is [(T+1), B, h] with dA_t in slot t (dh_0 follows from rnnBackwardStep's extra
 * step with xi = 1: every slot reaches h_0). Returns ||dH_t||^2 with dH_t = sum_k dH^(k)_t.
 */
export function windowBackwardStep(
  dA: Vec,
  slots: Vec,
  G: Vec,
  H: Vec,
  Whh: Vec,
  dhT: ArrayLike<number> | null,
  t: number,
  T: number,
  tau: number,
  B: number,
  h: number,
  activation: Activation,
): number {
  const bh = B * h;
  const o = t * bh; // dA_t and H_t
  const parity = (T - t) % 2;
  const offOld = (1 - parity) * tau * bh;
  const offNew = parity * tau * bh;
  const first = t === T;
  const dHk = new Float64Array(tau * bh); // dH^(k)_t, age by age
  for (let k = 1; k < tau && !first; k++) hiddenCarry(dHk.subarray(k * bh, (k + 1) * bh), slots, offOld + (k - 1) * bh, Whh, 1, B, h);
  for (let e = 0; e < bh; e++) dHk[e] = G[o - bh + e] + (first && dhT ? dhT[e] : 0);
  let norm2 = 0;
  for (let e = 0; e < bh; e++) {
    const g = activationGrad(H[o + e], activation);
    let sumA = 0;
    let sumH = 0;
    for (let k = 0; k < tau; k++) {
      const v = dHk[k * bh + e];
      sumH += v;
      const a = toFloat32Range(v * g);
      slots[offNew + k * bh + e] = a;
      sumA += a;
    }
    dA[o + e] = toFloat32Range(sumA);
    norm2 += sumH * sumH;
  }
  return norm2;
}

/**
 * dx[r, :] = Whx^T dA_r, i.e. dx = dA Whx.  dx is [T*B, d].
 * accumulate: dx += dA Whx (a bidirectional layer sends both directions' gradients to the layer below).
 */
export function inputGradient(dx: Vec, dA: Vec, Whx: Vec, rows: number, h: number, d: number, accumulate = false): void {
  if (!accumulate) dx.fill(0);
  const skipZeros = allFinite(Whx);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < h; i++) {
      const g = dA[r * h + i];
      if (g === 0 && skipZeros) continue;
      const wo = i * d;
      for (let k = 0; k < d; k++) dx[r * d + k] += g * Whx[wo + k];
    }
  }
}

/** Global L2 norm over the parameter gradients (finalize.wgsl's gradNorm, before its non-finite test). */
export function globalNorm(arrays: (Float64Array | null)[]): number {
  let s = 0;
  for (const a of arrays) if (a) for (let i = 0; i < a.length; i++) s += a[i] * a[i];
  return Math.sqrt(s);
}

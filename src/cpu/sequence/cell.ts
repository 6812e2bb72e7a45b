// The time bookkeeping and the cell backward shared by the step kernels of
// kernels.ts and window.ts (see kernels.ts for the layouts). A direction runs
// forward (dir 0, t = 1..n_b) or reverse (dir 1, t = n_b..1); n_b = lengths[b].
import type { Activation, CellKind } from '../../types.js';
import { activationGrad } from '../kernels.js';
import { clampToFloat32Range } from '../../float32.js';

export type Vec = Float64Array;

export const sigmoid = (a: number): number => 1 / (1 + Math.exp(-a));

/** n_b: the valid steps of sequence b. */
export function lengthOf(lengths: Int32Array | null, T: number, b: number): number {
  return lengths ? lengths[b] : T;
}

/** The absolute time of a direction at dispatch step s (forward sweep order). */
export function forwardTime(dir: number, s: number, T: number): number {
  return dir === 0 ? s : T + 1 - s;
}

/** The step whose previous state is the initial one: t = 1 forward, t = n_b reverse. */
export function firstTime(dir: number, n: number): number {
  return dir === 0 ? 1 : n;
}

/** The step whose state is hT (cT): t = n_b forward, t = 1 reverse. */
export function lastTime(dir: number, n: number): number {
  return dir === 0 ? n : 1;
}

/**
 * h_prev of direction dir at step t for sequence b, as an offset into Y (or into h0 at the first step).
 * Returns [array, offset] of h values.
 */
export function previousState(Y: Vec, h0: Vec, dir: number, t: number, n: number, b: number, B: number, h: number, dirs: number): [Vec, number] {
  if (t === firstTime(dir, n)) return [h0, (dir * B + b) * h];
  const tp = dir === 0 ? t - 1 : t + 1;
  return [Y, ((tp - 1) * B + b) * dirs * h + dir * h];
}

/** c_prev of direction dir at step t (lstm): C at the previous step, or c0 at the first. */
export function previousCell(C: Vec, c0: Vec, dir: number, t: number, n: number, b: number, T: number, B: number, h: number): [Vec, number] {
  if (t === firstTime(dir, n)) return [c0, (dir * B + b) * h];
  const tp = dir === 0 ? t - 1 : t + 1;
  return [C, ((dir * T + tp - 1) * B + b) * h];
}

/** Everything one backward step of one (dir, t, b) reads from the forward pass. */
export interface StepContext {
  cell: CellKind;
  activation: Activation;
  Y: Vec;
  C: Vec | null;
  S: Vec | null;
  h0: Vec;
  c0: Vec | null;
  dir: number;
  t: number;
  n: number;
  b: number;
  T: number;
  B: number;
  h: number;
  dirs: number;
}

/**
 * The cell's backward at one (dir, t, b): from dh (and dc, lstm) on h_t (c_t) to
 *   dGx [G*h] (gate pre-activation gradients on the gx side), dGh [G*h] (on the gh side: equal to dGx
 *   except the GRU's n block, dGh_n = dGx_n (.) r), and the direct path to the previous state:
 *   gru: dh_prev += z (.) dh; lstm: dc_prev = dc_total (.) f (written into directH / directC).
 */
function cellBackwardValues(x: StepContext, dh: Vec, dho: number, dc: Vec | null, dco: number, dGx: Vec, dGh: Vec, gxo: number, directH: Vec, directC: Vec, out: number): void {
  const { h, dir, t, b, B, T, dirs } = x;
  if (x.cell === 'rnn') {
    const yo = ((t - 1) * B + b) * dirs * h + dir * h;
    for (let j = 0; j < h; j++) {
      const a = dh[dho + j] * activationGrad(x.Y[yo + j], x.activation);
      dGx[gxo + j] = a;
      dGh[gxo + j] = a;
      directH[out + j] = 0;
    }
    return;
  }
  const so = ((dir * T + t - 1) * B + b) * 4 * h;
  const S = x.S!;
  if (x.cell === 'gru') {
    const [P, po] = previousState(x.Y, x.h0, dir, t, x.n, b, B, h, dirs);
    for (let j = 0; j < h; j++) {
      const g = dh[dho + j];
      const r = S[so + j];
      const z = S[so + h + j];
      const nn = S[so + 2 * h + j];
      const ghn = S[so + 3 * h + j];
      const dan = g * (1 - z) * (1 - nn * nn);
      const dr = dan * ghn * r * (1 - r);
      const dz = g * (P[po + j] - nn) * z * (1 - z);
      dGx[gxo + j] = dr;
      dGh[gxo + j] = dr;
      dGx[gxo + h + j] = dz;
      dGh[gxo + h + j] = dz;
      dGx[gxo + 2 * h + j] = dan;
      dGh[gxo + 2 * h + j] = dan * r;
      directH[out + j] = z * g;
    }
    return;
  }
  const C = x.C!;
  const co = ((dir * T + t - 1) * B + b) * h;
  const [Cp, cpo] = previousCell(C, x.c0!, dir, t, x.n, b, T, B, h);
  for (let j = 0; j < h; j++) {
    const g = dh[dho + j];
    const i = S[so + j];
    const f = S[so + h + j];
    const gg = S[so + 2 * h + j];
    const o = S[so + 3 * h + j];
    const tc = Math.tanh(C[co + j]);
    const dcTotal = dc![dco + j] + g * o * (1 - tc * tc);
    const di = dcTotal * gg * i * (1 - i);
    const df = dcTotal * Cp[cpo + j] * f * (1 - f);
    const dg = dcTotal * i * (1 - gg * gg);
    const dout = g * tc * o * (1 - o);
    dGx[gxo + j] = di;
    dGx[gxo + h + j] = df;
    dGx[gxo + 2 * h + j] = dg;
    dGx[gxo + 3 * h + j] = dout;
    for (let e = 0; e < 4 * h; e += h) dGh[gxo + e + j] = dGx[gxo + e + j];
    directH[out + j] = 0;
    directC[out + j] = dcTotal * f;
  }
}

/** cellBackwardValues, with dGx and dGh brought into float32's range (they are stored as float32 on the GPU). */
export function cellBackward(x: StepContext, dh: Vec, dho: number, dc: Vec | null, dco: number, dGx: Vec, dGh: Vec, gxo: number, directH: Vec, directC: Vec, out: number): void {
  cellBackwardValues(x, dh, dho, dc, dco, dGx, dGh, gxo, directH, directC, out);
  const Gh = (x.cell === 'rnn' ? 1 : x.cell === 'gru' ? 3 : 4) * x.h;
  clampToFloat32Range(dGx, gxo, gxo + Gh);
  clampToFloat32Range(dGh, gxo, gxo + Gh);
}

/**
 * dest[0:h] = factor * (dGh Wh + directH), destC[0:h] = factor * directC (lstm): the carry into the
 * previous state. Zero when factor is 0 (a cut path carries nothing, even from non-finite values).
 * For rnn the order is that of the chapter's hiddenCarry (src/cpu/kernels.ts): g = factor * dA_i, then += g * Wh[i, :].
 */
export function carryToPrevious(
  dest: Vec,
  destOff: number,
  destC: Vec | null,
  dGh: Vec,
  gxo: number,
  Wh: Vec,
  whOff: number,
  directH: Vec,
  directC: Vec,
  dOff: number,
  factor: number,
  Gh: number,
  h: number,
  skipZeros: boolean, // Wh is finite: a zero term can be skipped (0 * NaN is NaN, as on the GPU)
): void {
  dest.fill(0, destOff, destOff + h);
  destC?.fill(0, destOff, destOff + h);
  if (factor === 0) return;
  for (let i = 0; i < Gh; i++) {
    const g = factor * dGh[gxo + i];
    if (g === 0 && skipZeros) continue;
    const wo = whOff + i * h;
    for (let j = 0; j < h; j++) dest[destOff + j] += g * Wh[wo + j];
  }
  for (let j = 0; j < h; j++) {
    if (directH[dOff + j] !== 0) dest[destOff + j] += factor * directH[dOff + j];
    if (destC) destC[destOff + j] += factor * directC[dOff + j];
  }
  clampToFloat32Range(dest, destOff, destOff + h); // the carries are stored as float32 on the GPU
  if (destC) clampToFloat32Range(destC, destOff, destOff + h);
}

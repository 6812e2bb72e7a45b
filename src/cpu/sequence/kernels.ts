// The CPU reference of a SequenceModel (MATH.md part 2), one function per
// kernel of the shared plan, float64, plain loops. Layer l holds both of its
// directions in one tensor per kind, stacked along a leading [dirs] axis, as
// the GPU buffers do:
//   Gx, dGx, dGh [dirs, T, B, G*h]   C [dirs, T, B, h]   S [dirs, T, B, Gs*h]
//   Wh [dirs, G*h, h]   bh [dirs, G*h]   h0, c0, hT, cT, dhT, dcT, dh0, dc0, carries [dirs, B, h]
//   Y, dY [T, B, dirs*h] (direction dir at column offset dir*h)
// Rows are r = (t-1)*B + b for absolute time t = 1..T. The reverse direction (dir 1)
// runs t = n_b..1 (n_b = lengths[b], T without lengths); rows with t > n_b are padding.
// Step s = 1..T of a dispatch is at t = s for the forward direction and t = T+1-s for
// the reverse one; the backward sweep visits them the other way round.
// The cell equations (PyTorch's):
//   rnn:  h = phi(gx + gh)
//   gru:  r = sigma(gx_r + gh_r), z = sigma(gx_z + gh_z), n = tanh(gx_n + r (.) gh_n), h = (1 - z) (.) n + z (.) h_prev
//   lstm: i, f, o = sigma(gx + gh), g = tanh(gx_g + gh_g), c = f (.) c_prev + i (.) g, h = o (.) tanh(c)
// with gx = Wx x_t + bx (kernel 1) and gh = Wh h_prev + bh.
import type { Activation, CellKind } from '../../types.js';
import { activate, activationGrad } from '../kernels.js';

type Vec = Float64Array;

const sigmoid = (a: number): number => 1 / (1 + Math.exp(-a));

/** n_b: the valid steps of sequence b. */
function lengthOf(lengths: Int32Array | null, T: number, b: number): number {
  return lengths ? lengths[b] : T;
}

/** The absolute time of a direction at dispatch step s (forward sweep order). */
export function forwardTime(dir: number, s: number, T: number): number {
  return dir === 0 ? s : T + 1 - s;
}

/** The step whose previous state is the initial one: t = 1 forward, t = n_b reverse. */
function firstTime(dir: number, n: number): number {
  return dir === 0 ? 1 : n;
}

/** The step whose state is hT (cT): t = n_b forward, t = 1 reverse. */
function lastTime(dir: number, n: number): number {
  return dir === 0 ? n : 1;
}

/**
 * h_prev of direction dir at step t for sequence b, as an offset into Y (or into h0 at the first step).
 * Returns [array, offset] of h values.
 */
function previousState(Y: Vec, h0: Vec, dir: number, t: number, n: number, b: number, B: number, h: number, dirs: number): [Vec, number] {
  if (t === firstTime(dir, n)) return [h0, (dir * B + b) * h];
  const tp = dir === 0 ? t - 1 : t + 1;
  return [Y, ((tp - 1) * B + b) * dirs * h + dir * h];
}

/** c_prev of direction dir at step t (lstm): C at the previous step, or c0 at the first. */
function previousCell(C: Vec, c0: Vec, dir: number, t: number, n: number, b: number, T: number, B: number, h: number): [Vec, number] {
  if (t === firstTime(dir, n)) return [c0, (dir * B + b) * h];
  const tp = dir === 0 ? t - 1 : t + 1;
  return [C, ((dir * T + tp - 1) * B + b) * h];
}

/**
 * Kernel 2, forward step s of layer l, both directions:
 *   gh = Wh h_prev + bh, the cell's gates and state update (see the header),
 *   Y[t, b, dir*h:] = h_t, C[dir, t] = c_t (lstm), S[dir, t] = saved gates (gru: r, z, n, gh_n; lstm: i, f, g, o),
 *   hT, cT [dirs, B, h] at each sequence's last step of that direction; padding rows of Y, C, S are zero.
 * rnn adds in the order acc = gx (+ bh) + sum_k h_prev[k] Wh[j, k], the order of the vanilla rnnForwardStep.
 */
export function sequenceForwardStep(
  Y: Vec,
  C: Vec | null,
  S: Vec | null,
  hT: Vec,
  cT: Vec | null,
  Gx: Vec,
  Wh: Vec,
  bh: Vec | null,
  h0: Vec,
  c0: Vec | null,
  lengths: Int32Array | null,
  cell: CellKind,
  activation: Activation,
  s: number,
  T: number,
  B: number,
  h: number,
  dirs: number,
): void {
  const Gh = (cell === 'rnn' ? 1 : cell === 'gru' ? 3 : 4) * h;
  const gh = new Float64Array(Gh);
  for (let dir = 0; dir < dirs; dir++) {
    const t = forwardTime(dir, s, T);
    const whOff = dir * Gh * h;
    for (let b = 0; b < B; b++) {
      const n = lengthOf(lengths, T, b);
      const row = (t - 1) * B + b;
      const yo = row * dirs * h + dir * h;
      const co = ((dir * T + t - 1) * B + b) * h;
      const so = ((dir * T + t - 1) * B + b) * 4 * h;
      if (t > n) {
        Y.fill(0, yo, yo + h);
        C?.fill(0, co, co + h);
        S?.fill(0, so, so + 4 * h);
        continue;
      }
      const [P, po] = previousState(Y, h0, dir, t, n, b, B, h, dirs);
      const gxo = ((dir * T + t - 1) * B + b) * Gh;
      if (cell === 'rnn') {
        for (let j = 0; j < h; j++) {
          let acc = Gx[gxo + j];
          if (bh) acc += bh[dir * Gh + j];
          const wo = whOff + j * h;
          for (let k = 0; k < h; k++) acc += P[po + k] * Wh[wo + k];
          Y[yo + j] = activate(acc, activation);
        }
      } else {
        for (let j = 0; j < Gh; j++) {
          let acc = bh ? bh[dir * Gh + j] : 0;
          const wo = whOff + j * h;
          for (let k = 0; k < h; k++) acc += P[po + k] * Wh[wo + k];
          gh[j] = acc;
        }
        if (cell === 'gru') {
          for (let j = 0; j < h; j++) {
            const r = sigmoid(Gx[gxo + j] + gh[j]);
            const z = sigmoid(Gx[gxo + h + j] + gh[h + j]);
            const nn = Math.tanh(Gx[gxo + 2 * h + j] + r * gh[2 * h + j]);
            Y[yo + j] = (1 - z) * nn + z * P[po + j];
            S![so + j] = r;
            S![so + h + j] = z;
            S![so + 2 * h + j] = nn;
            S![so + 3 * h + j] = gh[2 * h + j];
          }
        } else {
          const [Cp, cpo] = previousCell(C!, c0!, dir, t, n, b, T, B, h);
          for (let j = 0; j < h; j++) {
            const i = sigmoid(Gx[gxo + j] + gh[j]);
            const f = sigmoid(Gx[gxo + h + j] + gh[h + j]);
            const g = Math.tanh(Gx[gxo + 2 * h + j] + gh[2 * h + j]);
            const o = sigmoid(Gx[gxo + 3 * h + j] + gh[3 * h + j]);
            const c = f * Cp[cpo + j] + i * g;
            C![co + j] = c;
            Y[yo + j] = o * Math.tanh(c);
            S![so + j] = i;
            S![so + h + j] = f;
            S![so + 2 * h + j] = g;
            S![so + 3 * h + j] = o;
          }
        }
      }
      if (t === lastTime(dir, n)) {
        const to = (dir * B + b) * h;
        for (let j = 0; j < h; j++) hT[to + j] = Y[yo + j];
        if (cT) for (let j = 0; j < h; j++) cT[to + j] = C![co + j];
      }
    }
  }
}

/** Everything one backward step of one (dir, t, b) reads from the forward pass. */
interface StepContext {
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
function cellBackward(x: StepContext, dh: Vec, dho: number, dc: Vec | null, dco: number, dGx: Vec, dGh: Vec, gxo: number, directH: Vec, directC: Vec, out: number): void {
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

/**
 * dest[0:h] = factor * (dGh Wh + directH), destC[0:h] = factor * directC (lstm): the carry into the
 * previous state. Zero when factor is 0 (a cut path carries nothing, even from non-finite values).
 * For rnn the order is that of the vanilla hiddenCarry: g = factor * dA_i, then += g * Wh[i, :].
 */
function carryToPrevious(
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
  accumulate: boolean,
): void {
  if (!accumulate) {
    dest.fill(0, destOff, destOff + h);
    destC?.fill(0, destOff, destOff + h);
  }
  if (factor === 0) return;
  for (let i = 0; i < Gh; i++) {
    const g = factor * dGh[gxo + i];
    if (g === 0) continue;
    const wo = whOff + i * h;
    for (let j = 0; j < h; j++) dest[destOff + j] += g * Wh[wo + j];
  }
  for (let j = 0; j < h; j++) {
    if (directH[dOff + j] !== 0) dest[destOff + j] += factor * directH[dOff + j];
    if (destC) destC[destOff + j] += factor * directC[dOff + j];
  }
}

/**
 * Kernel 4, reverse-sweep step s of layer l, both directions (forward direction at t = T+1-s,
 * reverse direction at t = s), for full, chunked and randomized truncation:
 *   dh = dY[t, b, dir*h:] + carryH (+ dhT at the state's last step), dc = carryC (+ dcT) (lstm),
 *   dGx, dGh from the cell's backward, norms[dir, t-1] += ||dh||^2,
 *   the new carry = xi * (dGh Wh + z (.) dh [gru]), dc_prev = xi * dc (.) f [lstm], with
 *   xi = xi_t for the forward direction (into t-1) and xi_{t+1} for the reverse one (into t+1);
 *   at the first step it goes to dh0/dc0 instead: forward scaled by xi_1, reverse unscaled.
 * carryH, carryC hold the carry into this step and are replaced by the carry out of it. Padding rows: dGx = dGh = 0.
 */
export function sequenceBackwardStep(
  dGx: Vec,
  dGh: Vec,
  carryH: Vec,
  carryC: Vec | null,
  dh0: Vec,
  dc0: Vec | null,
  norms: Vec,
  dY: Vec,
  Y: Vec,
  C: Vec | null,
  S: Vec | null,
  Wh: Vec,
  h0: Vec,
  c0: Vec | null,
  dhT: Float32Array | null,
  dcT: Float32Array | null,
  xi: Float32Array,
  lengths: Int32Array | null,
  cell: CellKind,
  activation: Activation,
  s: number,
  T: number,
  B: number,
  h: number,
  dirs: number,
): void {
  const Gh = (cell === 'rnn' ? 1 : cell === 'gru' ? 3 : 4) * h;
  const dh = new Float64Array(h);
  const dc = new Float64Array(h);
  const directH = new Float64Array(h);
  const directC = new Float64Array(h);
  for (let dir = 0; dir < dirs; dir++) {
    const t = forwardTime(dir, T + 1 - s, T);
    for (let b = 0; b < B; b++) {
      const n = lengthOf(lengths, T, b);
      const gxo = ((dir * T + t - 1) * B + b) * Gh;
      if (t > n) {
        dGx.fill(0, gxo, gxo + Gh);
        dGh.fill(0, gxo, gxo + Gh);
        continue;
      }
      const co = (dir * B + b) * h;
      const yo = ((t - 1) * B + b) * dirs * h + dir * h;
      const last = t === lastTime(dir, n);
      let norm2 = 0;
      for (let j = 0; j < h; j++) {
        dh[j] = dY[yo + j] + carryH[co + j] + (last && dhT ? dhT[co + j] : 0);
        norm2 += dh[j] * dh[j];
        if (carryC) dc[j] = carryC[co + j] + (last && dcT ? dcT[co + j] : 0);
      }
      norms[dir * T + t - 1] += norm2;
      const ctx: StepContext = { cell, activation, Y, C, S, h0, c0, dir, t, n, b, T, B, h, dirs };
      cellBackward(ctx, dh, 0, dc, 0, dGx, dGh, gxo, directH, directC, 0);
      const first = t === firstTime(dir, n);
      const factor = dir === 0 ? xi[t - 1] : first ? 1 : xi[t];
      carryToPrevious(first ? dh0 : carryH, co, first ? dc0 : carryC, dGh, gxo, Wh, dir * Gh * h, directH, directC, 0, factor, Gh, h, false);
    }
  }
}

/**
 * Kernel 4 for window(tau), one direction (dir 0 only): tau adjoint slots per carry, slot a holding
 * the gradient of the loss terms l_s with s = t + a (MATH.md: the age counts steps back from s, across layers).
 *   dh^(a) = dYslots[a][t, b] + slotsH[a] (+ dhT at t = n_b, age 0), dc^(a) = slotsC[a] (+ dcT) (lstm)
 *   dGx^(a), dGh^(a) from the cell's backward of each slot; dGxSlots[a][t] = dGx^(a) (for the layer below),
 *   dGx, dGh [t] = sum over a; norms[t-1] += ||sum_a dh^(a)||^2
 *   slot a moves to a+1 at t-1: dGh^(a) Wh (+ z (.) dh^(a)), dc^(a) (.) f; age tau-1 is dropped;
 *   at t = 1 every slot reaches dh0/dc0 (l_s with s <= tau restarts from h0 itself).
 * dYslots [tau, T, B, h]; dGxSlots [tau, T, B, G*h]; slotsH, slotsC [tau, B, h] (in: into this step; out: into t-1).
 */
export function sequenceWindowBackwardStep(
  dGx: Vec,
  dGh: Vec,
  dGxSlots: Vec,
  slotsH: Vec,
  slotsC: Vec | null,
  dh0: Vec,
  dc0: Vec | null,
  norms: Vec,
  dYslots: Vec,
  Y: Vec,
  C: Vec | null,
  S: Vec | null,
  Wh: Vec,
  h0: Vec,
  c0: Vec | null,
  dhT: Float32Array | null,
  dcT: Float32Array | null,
  lengths: Int32Array | null,
  cell: CellKind,
  activation: Activation,
  s: number,
  T: number,
  tau: number,
  B: number,
  h: number,
): void {
  const Gh = (cell === 'rnn' ? 1 : cell === 'gru' ? 3 : 4) * h;
  const t = T + 1 - s;
  const Bh = B * h;
  const rowsG = T * B * Gh;
  const dh = new Float64Array(tau * h);
  const dc = new Float64Array(tau * h);
  const directH = new Float64Array(tau * h);
  const directC = new Float64Array(tau * h);
  const gx = new Float64Array(tau * Gh);
  const gh = new Float64Array(tau * Gh);
  for (let b = 0; b < B; b++) {
    const n = lengthOf(lengths, T, b);
    const gxo = ((t - 1) * B + b) * Gh;
    if (t > n) {
      dGx.fill(0, gxo, gxo + Gh);
      dGh.fill(0, gxo, gxo + Gh);
      for (let a = 0; a < tau; a++) dGxSlots.fill(0, a * rowsG + gxo, a * rowsG + gxo + Gh);
      continue;
    }
    const last = t === n;
    const yo = ((t - 1) * B + b) * h;
    let norm2 = 0;
    for (let j = 0; j < h; j++) {
      let sum = 0;
      for (let a = 0; a < tau; a++) {
        const v = dYslots[a * T * Bh + yo + j] + slotsH[a * Bh + b * h + j] + (a === 0 && last && dhT ? dhT[b * h + j] : 0);
        dh[a * h + j] = v;
        sum += v;
        if (slotsC) dc[a * h + j] = slotsC[a * Bh + b * h + j] + (a === 0 && last && dcT ? dcT[b * h + j] : 0);
      }
      norm2 += sum * sum;
    }
    norms[t - 1] += norm2;
    const ctx: StepContext = { cell, activation, Y, C, S, h0, c0, dir: 0, t, n, b, T, B, h, dirs: 1 };
    dGx.fill(0, gxo, gxo + Gh);
    dGh.fill(0, gxo, gxo + Gh);
    for (let a = 0; a < tau; a++) {
      cellBackward(ctx, dh, a * h, dc, a * h, gx, gh, a * Gh, directH, directC, a * h);
      for (let e = 0; e < Gh; e++) {
        dGxSlots[a * rowsG + gxo + e] = gx[a * Gh + e];
        dGx[gxo + e] += gx[a * Gh + e];
        dGh[gxo + e] += gh[a * Gh + e];
      }
    }
    if (t === 1) {
      for (let a = 0; a < tau; a++) carryToPrevious(dh0, b * h, dc0, gh, a * Gh, Wh, 0, directH, directC, a * h, 1, Gh, h, a > 0);
      continue;
    }
    // age a at t becomes age a+1 at t-1; slot 0 starts empty (its loss term is added from dY at t-1)
    for (let a = tau - 2; a >= 0; a--) carryToPrevious(slotsH, (a + 1) * Bh + b * h, slotsC, gh, a * Gh, Wh, 0, directH, directC, a * h, 1, Gh, h, false);
    slotsH.fill(0, b * h, b * h + h);
    slotsC?.fill(0, b * h, b * h + h);
  }
}

/**
 * Kernel 6, weight gradients of layer-direction k, each one reduction over all T*B rows:
 *   dWx = dGx^T X (a scatter-add of dGx rows into columns for token ids), dWh = dGh^T H_prev,
 *   dbx = column sums of dGx, dbh = column sums of dGh.
 * H_prev is Y of the layer at the previous step in the direction's own order (h0 at its first step).
 * dGx, dGh here are the direction's [T, B, G*h]; X [T, B, nIn] (or token ids [T, B]); h0 [dirs, B, h].
 * Accumulated row by row in r order, as the vanilla weightGradients.
 */
export function layerWeightGradients(
  dWx: Vec,
  dWh: Vec,
  dbx: Vec | null,
  dbh: Vec | null,
  dGx: Vec,
  dGh: Vec,
  X: ArrayLike<number>,
  tokens: boolean,
  Y: Vec,
  h0: Vec,
  lengths: Int32Array | null,
  dir: number,
  T: number,
  B: number,
  nIn: number,
  h: number,
  Gh: number,
  dirs: number,
): void {
  for (let r = 0; r < T * B; r++) {
    const t = Math.floor(r / B) + 1;
    const b = r % B;
    const n = lengthOf(lengths, T, b);
    if (t > n) continue;
    const [P, po] = previousState(Y, h0, dir, t, n, b, B, h, dirs);
    for (let i = 0; i < Gh; i++) {
      const gx = dGx[r * Gh + i];
      const gh = dGh[r * Gh + i];
      if (dbx) dbx[i] += gx;
      if (dbh) dbh[i] += gh;
      if (gx !== 0) {
        if (tokens) {
          dWx[i * nIn + (X[r] as number)] += gx;
        } else {
          const xo = r * nIn;
          const wo = i * nIn;
          for (let k = 0; k < nIn; k++) dWx[wo + k] += gx * X[xo + k];
        }
      }
      if (gh !== 0) {
        const wo = i * h;
        for (let j = 0; j < h; j++) dWh[wo + j] += gh * P[po + j];
      }
    }
  }
}

/**
 * Kernel 6, head: dW = dO^T Y_top, db = column sums of dO.  dO [T*B, q], Y [T*B, w], dW [q, w].
 * Accumulated row by row, as the vanilla weightGradients does for dWqh.
 */
export function headWeightGradients(dW: Vec, db: Vec | null, dO: Vec, Y: Vec, rows: number, q: number, w: number): void {
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < q; c++) {
      const g = dO[r * q + c];
      if (db) db[c] += g;
      if (g === 0) continue;
      const wo = c * w;
      for (let j = 0; j < w; j++) dW[wo + j] += g * Y[r * w + j];
    }
  }
}

/** Zeroes the padding rows (t > n_b) of A [T, B, width]: outputs past a sequence's end are zero, and gradients there are ignored. */
export function maskPadding(A: Vec, lengths: Int32Array | null, T: number, B: number, width: number): void {
  if (!lengths) return;
  for (let t = 1; t <= T; t++) {
    for (let b = 0; b < B; b++) if (t > lengths[b]) A.fill(0, ((t - 1) * B + b) * width, ((t - 1) * B + b + 1) * width);
  }
}

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
// with gx = Wx x_t + bx (kernel 1) and gh = Wh h_prev + bh. The window(tau) sweep is
// window.ts; the cell backward and the time bookkeeping they share are cell.ts.
import type { Activation, CellKind } from '../../types.js';
import { activate, allFinite } from '../kernels.js';
import { toFloat32Range } from '../../float32.js';
import { carryToPrevious, cellBackward, firstTime, forwardTime, lastTime, lengthOf, previousCell, previousState, sigmoid, type StepContext, type Vec } from './cell.js';

export { forwardTime };
export { sequenceWindowBackwardStep } from './window.js';

/**
 * Kernel 2, forward step s of layer l, both directions:
 *   gh = Wh h_prev + bh, the cell's gates and state update (see the header),
 *   Y[t, b, dir*h:] = h_t, C[dir, t] = c_t (lstm), S[dir, t] = saved gates (gru: r, z, n, gh_n; lstm: i, f, g, o),
 *   hT, cT [dirs, B, h] at each sequence's last step of that direction; padding rows of Y, C, S are zero.
 * rnn adds in the order acc = gx (+ bh) + sum_k h_prev[k] Wh[j, k], the order of the chapter's rnnForwardStep
 * (src/cpu/kernels.ts): an rnn layer gives the same bits on either recipe's steps (recipe.ts).
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
          Y[yo + j] = toFloat32Range(activate(acc, activation));
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
            Y[yo + j] = toFloat32Range((1 - z) * nn + z * P[po + j]);
            S![so + j] = r;
            S![so + h + j] = z;
            S![so + 2 * h + j] = nn;
            S![so + 3 * h + j] = toFloat32Range(gh[2 * h + j]);
          }
        } else {
          const [Cp, cpo] = previousCell(C!, c0!, dir, t, n, b, T, B, h);
          for (let j = 0; j < h; j++) {
            const i = sigmoid(Gx[gxo + j] + gh[j]);
            const f = sigmoid(Gx[gxo + h + j] + gh[h + j]);
            const g = Math.tanh(Gx[gxo + 2 * h + j] + gh[2 * h + j]);
            const o = sigmoid(Gx[gxo + 3 * h + j] + gh[3 * h + j]);
            const c = f * Cp[cpo + j] + i * g;
            C![co + j] = toFloat32Range(c);
            Y[yo + j] = o * Math.tanh(C![co + j]);
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
  const skipZeros = allFinite(Wh); // 0 * NaN is NaN: a zero term is skipped only next to finite weights
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
      carryToPrevious(first ? dh0 : carryH, co, first ? dc0 : carryC, dGh, gxo, Wh, dir * Gh * h, directH, directC, 0, factor, Gh, h, skipZeros);
    }
  }
}

/**
 * Kernel 6, weight gradients of layer-direction k, each one reduction over all T*B rows:
 *   dWx = dGx^T X (a scatter-add of dGx rows into columns for token ids), dWh = dGh^T H_prev,
 *   dbx = column sums of dGx, dbh = column sums of dGh.
 * H_prev is Y of the layer at the previous step in the direction's own order (h0 at its first step).
 * dGx, dGh here are the direction's [T, B, G*h]; X [T, B, nIn] (or token ids [T, B]); h0 [dirs, B, h].
 * Accumulated row by row in r order (for every recipe: the chapter's steps leave dGx = dGh = dA here).
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
  // a zero gradient term is skipped only next to finite operands (0 * NaN is NaN, as on the GPU)
  const skipX = tokens || allFinite(X);
  const skipH = allFinite(Y) && allFinite(h0);
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
      if (gx !== 0 || !skipX) {
        if (tokens) {
          dWx[i * nIn + (X[r] as number)] += gx;
        } else {
          const xo = r * nIn;
          const wo = i * nIn;
          for (let k = 0; k < nIn; k++) dWx[wo + k] += gx * X[xo + k];
        }
      }
      if (gh !== 0 || !skipH) {
        const wo = i * h;
        for (let j = 0; j < h; j++) dWh[wo + j] += gh * P[po + j];
      }
    }
  }
}

/**
 * Kernel 6, head: dW = dO^T Y_top, db = column sums of dO.  dO [T*B, q], Y [T*B, w], dW [q, w].
 * Accumulated row by row in r order.
 */
export function headWeightGradients(dW: Vec, db: Vec | null, dO: Vec, Y: Vec, rows: number, q: number, w: number): void {
  const skipZeros = allFinite(Y);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < q; c++) {
      const g = dO[r * q + c];
      if (db) db[c] += g;
      if (g === 0 && skipZeros) continue;
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

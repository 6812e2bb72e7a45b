// Kernel 4 for window(tau): the reverse-sweep step with tau adjoint slots per carry.
// Layouts as in kernels.ts; the cell backward and time bookkeeping are cell.ts.
import type { Activation, CellKind } from '../../types.js';
import { carryToPrevious, cellBackward, lengthOf, type StepContext, type Vec } from './cell.js';
import { allFinite } from '../kernels.js';
import { clampToFloat32Range } from '../../float32.js';

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
  const skipZeros = allFinite(Wh);
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
    clampToFloat32Range(dGx, gxo, gxo + Gh); // the sums are stored as float32 on the GPU
    clampToFloat32Range(dGh, gxo, gxo + Gh);
    if (t === 1) {
      // every slot reaches h0: from the slots' sum dGh (as stored), plus the sum of their direct paths
      const sumH = new Float64Array(h);
      const sumC = new Float64Array(h);
      for (let a = 0; a < tau; a++) {
        for (let j = 0; j < h; j++) {
          sumH[j] += directH[a * h + j];
          sumC[j] += directC[a * h + j];
        }
      }
      carryToPrevious(dh0, b * h, dc0, dGh, gxo, Wh, 0, sumH, sumC, 0, 1, Gh, h, skipZeros);
      continue;
    }
    // age a at t becomes age a+1 at t-1; slot 0 starts empty (its loss term is added from dY at t-1)
    for (let a = tau - 2; a >= 0; a--) carryToPrevious(slotsH, (a + 1) * Bh + b * h, slotsC, gh, a * Gh, Wh, 0, directH, directC, a * h, 1, Gh, h, skipZeros);
    slotsH.fill(0, b * h, b * h + h);
    slotsC?.fill(0, b * h, b * h + h);
  }
}

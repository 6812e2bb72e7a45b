// Test-only float64 forward passes and finite differences for the CPU suite.
//
// These are written independently of src/cpu: per element, straight from
// MATH.md, so that finite differences of the objectives below check the
// reference's backward pass.
//
// The objective J whose derivative every gradient call returns is
//   J = L + sum(dhT * h_T)
// where L is the mean cross-entropy or mse over T*B rows, or sum(dO * o) for
// loss 'none'. Truncation is expressed in the forward pass with a detached
// copy sg of the baseline trajectory (the values at the unperturbed
// parameters): step t reads
//   xi_t * h_{t-1} + (1 - xi_t) * sg(h_{t-1})
// so that d/dtheta reaches h_{t-1} only through xi_t. window(tau) restarts a
// forward pass for every loss term l_s from sg(h_{s-tau}) (from the live h_0
// when s <= tau).
import type { Activation, Batch, LossKind, RnnModel } from '../src/types.js';

interface Model64 {
  d: number;
  h: number;
  q: number;
  act: Activation;
  Whx: Float64Array; // [h, d]
  Whh: Float64Array; // [h, h]
  Wqh: Float64Array; // [q, h]
  bh: Float64Array | null; // [h]
  bq: Float64Array | null; // [q]
}

function toModel64(m: RnnModel): Model64 {
  return {
    d: m.inputSize,
    h: m.hiddenSize,
    q: m.outputSize,
    act: m.activation,
    Whx: Float64Array.from(m.Whx),
    Whh: Float64Array.from(m.Whh),
    Wqh: Float64Array.from(m.Wqh),
    bh: m.bh ? Float64Array.from(m.bh) : null,
    bq: m.bq ? Float64Array.from(m.bq) : null,
  };
}

function phi(a: number, act: Activation): number {
  if (act === 'tanh') return Math.tanh(a);
  if (act === 'relu') return a > 0 ? a : 0;
  return a;
}

/** Options of one forward evaluation. */
export interface ForwardOptions {
  xi?: ArrayLike<number>; // [T] xi_1..xi_T; needs sg
  sg?: Float64Array; // [(T+1), B, h] detached baseline H
  basePre?: Float64Array; // [T, B, h] baseline pre-activations: count relu kinks crossed
  hShift?: Float64Array; // [(T+1), B, h] added to h_t after phi (t >= 1), to differentiate w.r.t. h_t
}

export interface Forward64 {
  A: Float64Array; // [T, B, h] pre-activations
  H: Float64Array; // [(T+1), B, h], H_0 = h0
  O: Float64Array; // [T, B, q]
  kinks: number; // relu pre-activations whose sign differs from basePre
}

/**
 * One step for sequence b: writes h_t = phi(Whx x_t + Whh hPrev + bh) (+ hShift) into hOut.
 * hPrev, hOut are [h]; returns the number of relu kinks crossed against basePre.
 */
function step64(
  m: Model64,
  batch: Batch,
  t: number,
  b: number,
  hPrev: Float64Array,
  hOut: Float64Array,
  opts: ForwardOptions,
  aOut: Float64Array | null,
): number {
  const { d, h } = m;
  const B = batch.batchSize;
  const r = (t - 1) * B + b;
  let kinks = 0;
  for (let j = 0; j < h; j++) {
    let a = m.bh ? m.bh[j] : 0;
    if (batch.x instanceof Int32Array) a += m.Whx[j * d + batch.x[r]];
    else for (let k = 0; k < d; k++) a += m.Whx[j * d + k] * batch.x[r * d + k];
    for (let k = 0; k < h; k++) a += m.Whh[j * h + k] * hPrev[k];
    if (aOut) aOut[r * h + j] = a;
    if (opts.basePre && m.act === 'relu' && a > 0 !== opts.basePre[r * h + j] > 0) kinks++;
    hOut[j] = phi(a, m.act) + (opts.hShift ? opts.hShift[(t * B + b) * h + j] : 0);
  }
  return kinks;
}

/** o = Wqh h + bq for one row.  o is [q]. */
function output64(m: Model64, hRow: Float64Array, o: Float64Array): void {
  for (let c = 0; c < m.q; c++) {
    let acc = m.bq ? m.bq[c] : 0;
    for (let k = 0; k < m.h; k++) acc += m.Wqh[c * m.h + k] * hRow[k];
    o[c] = acc;
  }
}

/** The loss term of row r = (t-1)*B + b: l/(T*B) for cross-entropy and mse, dO_r . o for 'none'. */
function lossTerm(o: Float64Array, batch: Batch, loss: LossKind, r: number, q: number): number {
  const scale = 1 / (batch.steps * batch.batchSize);
  if (loss === 'cross-entropy') {
    let mx = -Infinity;
    for (let c = 0; c < q; c++) mx = Math.max(mx, o[c]);
    let s = 0;
    for (let c = 0; c < q; c++) s += Math.exp(o[c] - mx);
    return (mx + Math.log(s) - o[(batch.y as Int32Array)[r]]) * scale;
  }
  if (loss === 'mse') {
    let s = 0;
    for (let c = 0; c < q; c++) {
      const diff = o[c] - (batch.y as Float32Array)[r * q + c];
      s += diff * diff;
    }
    return 0.5 * s * scale;
  }
  let s = 0;
  for (let c = 0; c < q; c++) s += batch.dO![r * q + c] * o[c];
  return s;
}

/** The forward pass of MATH.md in float64, with truncation through xi and sg (see the header). */
export function forward64(model: RnnModel, batch: Batch, opts: ForwardOptions = {}): Forward64 {
  const m = toModel64(model);
  const { h, q } = m;
  const T = batch.steps;
  const B = batch.batchSize;
  const A = new Float64Array(T * B * h);
  const H = new Float64Array((T + 1) * B * h);
  const O = new Float64Array(T * B * q);
  if (batch.h0) H.set(batch.h0);
  const prev = new Float64Array(h);
  const cur = new Float64Array(h);
  const o = new Float64Array(q);
  let kinks = 0;
  for (let t = 1; t <= T; t++) {
    const xi = opts.xi ? opts.xi[t - 1] : 1;
    for (let b = 0; b < B; b++) {
      const po = ((t - 1) * B + b) * h;
      for (let k = 0; k < h; k++) prev[k] = xi === 1 ? H[po + k] : xi * H[po + k] + (1 - xi) * opts.sg![po + k];
      kinks += step64(m, batch, t, b, prev, cur, opts, A);
      H.set(cur, (t * B + b) * h);
      output64(m, cur, o);
      O.set(o, ((t - 1) * B + b) * q);
    }
  }
  return { A, H, O, kinks };
}

/** J = L + sum(dhT * h_T) for full, chunked and randomized truncation (xi and sg in opts). */
export function objective64(model: RnnModel, batch: Batch, loss: LossKind, opts: ForwardOptions = {}): { value: number; kinks: number } {
  const { H, O, kinks } = forward64(model, batch, opts);
  const T = batch.steps;
  const B = batch.batchSize;
  const q = model.outputSize;
  const h = model.hiddenSize;
  let value = 0;
  const o = new Float64Array(q);
  for (let r = 0; r < T * B; r++) {
    for (let c = 0; c < q; c++) o[c] = O[r * q + c];
    value += lossTerm(o, batch, loss, r, q);
  }
  if (batch.dhT) for (let e = 0; e < B * h; e++) value += batch.dhT[e] * H[T * B * h + e];
  return { value, kinks };
}

/**
 * J for window(tau): each loss term l_s (and dhT, as a term at s = T) comes from a
 * forward pass restarted at step s - tau from sg(h_{s-tau}), or from the live h_0
 * when s <= tau.
 */
export function windowObjective64(
  model: RnnModel,
  batch: Batch,
  loss: LossKind,
  tau: number,
  opts: ForwardOptions & { sg: Float64Array },
): { value: number; kinks: number } {
  const m = toModel64(model);
  const { h, q } = m;
  const T = batch.steps;
  const B = batch.batchSize;
  const prev = new Float64Array(h);
  const cur = new Float64Array(h);
  const o = new Float64Array(q);
  let value = 0;
  let kinks = 0;
  for (let s = 1; s <= T; s++) {
    const r0 = Math.max(0, s - tau);
    for (let b = 0; b < B; b++) {
      for (let k = 0; k < h; k++) prev[k] = r0 === 0 ? (batch.h0 ? batch.h0[b * h + k] : 0) : opts.sg[(r0 * B + b) * h + k];
      for (let t = r0 + 1; t <= s; t++) {
        kinks += step64(m, batch, t, b, prev, cur, opts, null);
        prev.set(cur);
      }
      output64(m, prev, o);
      value += lossTerm(o, batch, loss, (s - 1) * B + b, q);
      if (s === T && batch.dhT) for (let k = 0; k < h; k++) value += batch.dhT[b * h + k] * prev[k];
    }
  }
  return { value, kinks };
}

export interface FiniteDifference {
  grad: Float64Array; // central differences, NaN where skipped
  skipped: number; // elements whose perturbation crossed a relu kink
}

/**
 * Central differences of evaluate() with respect to each element of `arr`, perturbed
 * in place by +-eps. For a Float32Array the perturbed values are rounded to float32
 * and the denominator is the actual difference f32(w + eps) - f32(w - eps).
 * An element whose perturbation crosses a relu kink (evaluate().kinks > 0) is skipped.
 */
export function finiteDifference(
  arr: Float32Array | Float64Array,
  evaluate: () => { value: number; kinks: number },
  eps: number,
): FiniteDifference {
  const grad = new Float64Array(arr.length);
  let skipped = 0;
  for (let i = 0; i < arr.length; i++) {
    const v = arr[i];
    arr[i] = v + eps;
    const wp = arr[i];
    const fp = evaluate();
    arr[i] = v - eps;
    const wm = arr[i];
    const fm = evaluate();
    arr[i] = v;
    if (fp.kinks > 0 || fm.kinks > 0) {
      grad[i] = NaN;
      skipped++;
    } else {
      grad[i] = (fp.value - fm.value) / (wp - wm);
    }
  }
  return { grad, skipped };
}

/** The elements of got and want where want is not NaN (skipped finite differences). */
export function dropSkipped(got: ArrayLike<number>, want: Float64Array): [number[], number[]] {
  const g: number[] = [];
  const w: number[] = [];
  for (let i = 0; i < want.length; i++) {
    if (Number.isNaN(want[i])) continue;
    g.push(got[i]);
    w.push(want[i]);
  }
  return [g, w];
}

/**
 * dL/do for the losses of MATH.md, [T, B, q] in float64: (softmax(o) - onehot(y)) / (T*B)
 * for cross-entropy, (o - y) / (T*B) for mse, batch.dO for 'none'.
 */
export function outputGrad64(model: RnnModel, batch: Batch, loss: LossKind, O: Float64Array): Float64Array {
  const q = model.outputSize;
  const rows = batch.steps * batch.batchSize;
  const dO = new Float64Array(rows * q);
  for (let r = 0; r < rows; r++) {
    if (loss === 'none') {
      for (let c = 0; c < q; c++) dO[r * q + c] = batch.dO![r * q + c];
    } else if (loss === 'mse') {
      for (let c = 0; c < q; c++) dO[r * q + c] = (O[r * q + c] - (batch.y as Float32Array)[r * q + c]) / rows;
    } else {
      let mx = -Infinity;
      for (let c = 0; c < q; c++) mx = Math.max(mx, O[r * q + c]);
      let s = 0;
      for (let c = 0; c < q; c++) s += Math.exp(O[r * q + c] - mx);
      const y = (batch.y as Int32Array)[r];
      for (let c = 0; c < q; c++) dO[r * q + c] = (Math.exp(O[r * q + c] - mx) / s - (c === y ? 1 : 0)) / rows;
    }
  }
  return dO;
}

/** Sum of squares of every element of the given arrays (undefined ones skipped). */
export function sumSquares(...arrays: (ArrayLike<number> | undefined)[]): number {
  let s = 0;
  for (const a of arrays) if (a) for (let i = 0; i < a.length; i++) s += a[i] * a[i];
  return s;
}

/** The one-hot Float32 [T, B, d] values of token ids [T, B]. */
export function oneHot(ids: Int32Array, d: number): Float32Array {
  const x = new Float32Array(ids.length * d);
  for (let r = 0; r < ids.length; r++) x[r * d + ids[r]] = 1;
  return x;
}

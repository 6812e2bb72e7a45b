// Test-only float64 forward passes of a SequenceModel, written independently
// of src/cpu/sequence: per sequence, per layer, per direction, straight from
// MATH.md part 2 (and PyTorch's cell equations), so that finite differences of
// the objective below check the reference's backward pass.
//
// The objective whose derivative a gradient call returns is
//   J = L + sum(dhT * hT) + sum(dcT * cT)
// where L is the mean loss over the N valid rows, sum(dO * o) for loss 'none'
// with a head, or sum(dY * y_top) without one (padding rows excluded).
// Truncation by xi is a mix with a detached copy sg of the baseline states:
// a step reads xi * s_prev + (1 - xi) * sg(s_prev) for h and c, with xi_t on the
// forward direction's edge t-1 -> t and xi_{t+1} on the reverse one's t+1 -> t
// (none into the reverse initial state). window(tau) restarts, for every loss
// term l_s of each sequence, a forward pass of every layer at s - tau + 1 from
// the detached states there (the live h0, c0 when s <= tau); dhT, dcT are the
// term at s = n_b.
// Sequences are computed one by one, each over its own n_b steps: this is also
// the "slice each sequence and run it alone" statement of packed sequences.
import { makeRng, uniformArray } from '../src/rng.js';
import type { Activation, Batch, CellKind, LossKind, SequenceModel } from '../src/types.js';

const sigmoid = (a: number) => 1 / (1 + Math.exp(-a));
const GATES: Record<CellKind, number> = { rnn: 1, gru: 3, lstm: 4 };

function phi(a: number, act: Activation): number {
  if (act === 'tanh') return Math.tanh(a);
  if (act === 'relu') return Math.max(a, 0);
  return a;
}

export interface State {
  h: Float64Array;
  c: Float64Array;
}

/** One cell step: from input vector xt and previous state (h, c) of layer-direction k. */
function cellStep(m: SequenceModel, k: number, xt: ArrayLike<number>, prev: State): State {
  const h = m.hiddenSize;
  const G = GATES[m.cell];
  const L = m.layers[k];
  const nIn = L.Wx.length / (G * h);
  const gx = new Float64Array(G * h);
  const gh = new Float64Array(G * h);
  for (let i = 0; i < G * h; i++) {
    let a = L.bx ? L.bx[i] : 0;
    for (let j = 0; j < nIn; j++) a += L.Wx[i * nIn + j] * xt[j];
    gx[i] = a;
    let c = L.bh ? L.bh[i] : 0;
    for (let j = 0; j < h; j++) c += L.Wh[i * h + j] * prev.h[j];
    gh[i] = c;
  }
  const out: State = { h: new Float64Array(h), c: new Float64Array(h) };
  for (let j = 0; j < h; j++) {
    if (m.cell === 'rnn') {
      out.h[j] = phi(gx[j] + gh[j], m.activation ?? 'tanh');
    } else if (m.cell === 'gru') {
      const r = sigmoid(gx[j] + gh[j]);
      const z = sigmoid(gx[h + j] + gh[h + j]);
      const n = Math.tanh(gx[2 * h + j] + r * gh[2 * h + j]);
      out.h[j] = (1 - z) * n + z * prev.h[j];
    } else {
      const i = sigmoid(gx[j] + gh[j]);
      const f = sigmoid(gx[h + j] + gh[h + j]);
      const g = Math.tanh(gx[2 * h + j] + gh[2 * h + j]);
      const o = sigmoid(gx[3 * h + j] + gh[3 * h + j]);
      out.c[j] = f * prev.c[j] + i * g;
      out.h[j] = o * Math.tanh(out.c[j]);
    }
  }
  return out;
}

/** states[k][t] for t = 0..T+1 (0 and T+1 unused except as the initial state slots). */
export type States = State[][];

export interface RunOptions {
  xi?: ArrayLike<number>; // xi_1..xi_T (needs sg)
  sg?: States; // detached baseline states of this sequence, states[k][t]
  hShift?: Float64Array; // [L*dirs, T, B, h] added to h_t after the step
}

/** The input x_t of sequence b as a vector (one-hot for token ids). */
function inputAt(m: SequenceModel, batch: Batch, t: number, b: number): Float64Array {
  const d = m.inputSize;
  const B = batch.batchSize;
  const v = new Float64Array(d);
  if (batch.x instanceof Int32Array) v[batch.x[(t - 1) * B + b]] = 1;
  else for (let j = 0; j < d; j++) v[j] = batch.x[((t - 1) * B + b) * d + j];
  return v;
}

function initial(m: SequenceModel, batch: Batch, k: number, b: number): State {
  const h = m.hiddenSize;
  const B = batch.batchSize;
  const pick = (a: Float32Array | undefined) => (a ? Float64Array.from(a.subarray((k * B + b) * h, (k * B + b + 1) * h)) : new Float64Array(h));
  return { h: pick(batch.h0), c: pick(batch.c0) };
}

const mix = (x: number, live: Float64Array, sg: Float64Array) => (x === 1 ? live : live.map((v, j) => x * v + (1 - x) * sg[j]));

/**
 * Runs every layer of sequence b over t = r0..r1 (forward direction up, reverse down), from
 * init(k) at the edge of the range. Returns states[k][t] and the top layer's outputs y[t].
 */
export function runSequence(m: SequenceModel, batch: Batch, b: number, r0: number, r1: number, init: (k: number) => State, opts: RunOptions = {}): { states: States; y: Float64Array[] } {
  const L = m.numLayers ?? 1;
  const dirs = m.bidirectional ? 2 : 1;
  const h = m.hiddenSize;
  const T = batch.steps;
  const B = batch.batchSize;
  const states: States = [];
  let inputs: Float64Array[] = [];
  for (let t = r0; t <= r1; t++) inputs[t] = inputAt(m, batch, t, b);
  for (let l = 0; l < L; l++) {
    const out: Float64Array[] = [];
    for (let t = r0; t <= r1; t++) out[t] = new Float64Array(dirs * h);
    for (let dir = 0; dir < dirs; dir++) {
      const k = l * dirs + dir;
      const s: State[] = [];
      states[k] = s;
      const order = dir === 0 ? [r0, r1, 1] : [r1, r0, -1];
      for (let t = order[0]; dir === 0 ? t <= r1 : t >= r0; t += order[2]) {
        const first = t === order[0];
        let prev = first ? init(k) : s[t - order[2]];
        if (opts.xi && opts.sg) {
          const x = dir === 0 ? opts.xi[t - 1] : first ? 1 : opts.xi[t];
          const sgPrev = opts.sg[k][first ? (dir === 0 ? t - 1 : t + 1) : t - order[2]];
          prev = { h: mix(x, prev.h, sgPrev.h), c: mix(x, prev.c, sgPrev.c) };
        }
        const next = cellStep(m, k, inputs[t], prev);
        if (opts.hShift) for (let j = 0; j < h; j++) next.h[j] += opts.hShift[((k * T + t - 1) * B + b) * h + j];
        s[t] = next;
        out[t].set(next.h, dir * h);
      }
      // the initial state, for sg lookups at the range's edge
      s[dir === 0 ? r0 - 1 : r1 + 1] = init(k);
    }
    inputs = out;
  }
  return { states, y: inputs };
}

/** The per-row loss term of the objective at (t, b) from the top output y, scaled by 1/N where it is a loss. */
function rowTerm(m: SequenceModel, batch: Batch, loss: LossKind, y: Float64Array, t: number, b: number, N: number): number {
  const B = batch.batchSize;
  const r = (t - 1) * B + b;
  if (!m.head) {
    let s = 0;
    for (let j = 0; j < y.length; j++) s += batch.dY![r * y.length + j] * y[j];
    return s;
  }
  const q = m.head.outputSize;
  const w = y.length;
  const o = new Float64Array(q);
  for (let c = 0; c < q; c++) {
    let a = m.head.b ? m.head.b[c] : 0;
    for (let j = 0; j < w; j++) a += m.head.W[c * w + j] * y[j];
    o[c] = a;
  }
  if (loss === 'none') return o.reduce((s, v, c) => s + batch.dO![r * q + c] * v, 0);
  if (loss === 'mse') return o.reduce((s, v, c) => s + 0.5 * (v - (batch.y as Float32Array)[r * q + c]) ** 2, 0) / N;
  const mx = Math.max(...o);
  const lse = mx + Math.log(o.reduce((s, v) => s + Math.exp(v - mx), 0));
  return (lse - o[(batch.y as Int32Array)[r]]) / N;
}

function lengthOf(batch: Batch, b: number): number {
  return batch.lengths ? batch.lengths[b] : batch.steps;
}

/** sum(dhT * hT) + sum(dcT * cT) for sequence b from its final states (t = n forward, t = 1 reverse). */
function finalTerm(m: SequenceModel, batch: Batch, states: States, b: number, n: number): number {
  const h = m.hiddenSize;
  const B = batch.batchSize;
  const dirs = m.bidirectional ? 2 : 1;
  let s = 0;
  states.forEach((st, k) => {
    const last = st[k % dirs === 0 ? n : 1];
    for (let j = 0; j < h; j++) {
      const at = (k * B + b) * h + j;
      if (batch.dhT) s += batch.dhT[at] * last.h[j];
      if (batch.dcT) s += batch.dcT[at] * last.c[j];
    }
  });
  return s;
}

/** Baseline states of every sequence (for sg), at the current parameter values. */
export function baseline(m: SequenceModel, batch: Batch): States[] {
  const out: States[] = [];
  for (let b = 0; b < batch.batchSize; b++) out.push(runSequence(m, batch, b, 1, lengthOf(batch, b), (k) => initial(m, batch, k, b)).states);
  return out;
}

export interface Objective {
  loss: LossKind;
  xi?: ArrayLike<number>;
  tau?: number; // window(tau)
  sg?: States[]; // per sequence
  hShift?: Float64Array;
}

/** J of the file header. */
export function objective(m: SequenceModel, batch: Batch, o: Objective): { value: number; kinks: number } {
  const B = batch.batchSize;
  let N = 0;
  for (let b = 0; b < B; b++) N += lengthOf(batch, b);
  let J = 0;
  for (let b = 0; b < B; b++) {
    const n = lengthOf(batch, b);
    if (o.tau === undefined) {
      const { states, y } = runSequence(m, batch, b, 1, n, (k) => initial(m, batch, k, b), { xi: o.xi, sg: o.sg?.[b], hShift: o.hShift });
      for (let t = 1; t <= n; t++) J += rowTerm(m, batch, o.loss, y[t], t, b, N);
      J += finalTerm(m, batch, states, b, n);
      continue;
    }
    for (let s = 1; s <= n; s++) {
      const r0 = Math.max(1, s - o.tau + 1);
      const init = (k: number) => (r0 === 1 ? initial(m, batch, k, b) : o.sg![b][k][r0 - 1]);
      const { states, y } = runSequence(m, batch, b, r0, s, init, { hShift: o.hShift });
      J += rowTerm(m, batch, o.loss, y[s], s, b, N);
      if (s === n) J += finalTerm(m, batch, states, b, n);
    }
  }
  return { value: J, kinks: 0 };
}

/** The top layer outputs Y [T, B, dirs*h] and the final states hT, cT [L*dirs, B, h] from the independent forward. */
export function forwardOutputs(m: SequenceModel, batch: Batch): { Y: Float64Array; hT: Float64Array; cT: Float64Array } {
  const T = batch.steps;
  const B = batch.batchSize;
  const h = m.hiddenSize;
  const dirs = m.bidirectional ? 2 : 1;
  const K = (m.numLayers ?? 1) * dirs;
  const Y = new Float64Array(T * B * dirs * h);
  const hT = new Float64Array(K * B * h);
  const cT = new Float64Array(K * B * h);
  for (let b = 0; b < B; b++) {
    const n = lengthOf(batch, b);
    const { states, y } = runSequence(m, batch, b, 1, n, (k) => initial(m, batch, k, b));
    for (let t = 1; t <= n; t++) Y.set(y[t], ((t - 1) * B + b) * dirs * h);
    states.forEach((st, k) => {
      const last = st[k % dirs === 0 ? n : 1];
      hT.set(last.h, (k * B + b) * h);
      cT.set(last.c, (k * B + b) * h);
    });
  }
  return { Y, hT, cT };
}

export interface SequenceSpec {
  cell: CellKind;
  T: number;
  B: number;
  d: number;
  h: number;
  q?: number; // a head with q outputs; none when absent
  L?: number;
  bidirectional?: boolean;
  bias?: boolean;
  headBias?: boolean;
  activation?: Activation;
  loss?: LossKind;
  tokens?: boolean;
  lengths?: number[];
  states?: boolean; // h0, c0, dhT, dcT
  seed?: number;
  scale?: number;
}

/** A random SequenceModel and batch from a seeded generator. */
export function randomSequenceProblem(spec: SequenceSpec): { model: SequenceModel; batch: Batch } {
  const { cell, T, B, d, h, L = 1, bidirectional = false, bias = true, loss = spec.q ? 'cross-entropy' : 'none', tokens = false, seed = 1 } = spec;
  const rng = makeRng(seed);
  const s = spec.scale ?? 0.6;
  const dirs = bidirectional ? 2 : 1;
  const G = GATES[cell];
  const layers = [];
  for (let k = 0; k < L * dirs; k++) {
    const nIn = k < dirs ? d : dirs * h;
    const layer: SequenceModel['layers'][number] = { Wx: uniformArray(rng, G * h * nIn, (2 * s) / Math.sqrt(nIn)), Wh: uniformArray(rng, G * h * h, (1.5 * s) / Math.sqrt(h)) };
    if (bias) {
      layer.bx = uniformArray(rng, G * h, 0.3);
      layer.bh = uniformArray(rng, G * h, 0.3);
    }
    layers.push(layer);
  }
  const model: SequenceModel = { cell, inputSize: d, hiddenSize: h, layers };
  if (L !== 1) model.numLayers = L;
  if (bidirectional) model.bidirectional = true;
  if (cell === 'rnn' && spec.activation) model.activation = spec.activation;
  const q = spec.q;
  if (q) {
    model.head = { outputSize: q, W: uniformArray(rng, q * dirs * h, (2 * s) / Math.sqrt(dirs * h)) };
    if (spec.headBias ?? bias) model.head.b = uniformArray(rng, q, 0.2);
  }
  const x = tokens ? Int32Array.from({ length: T * B }, () => Math.floor(rng() * d)) : uniformArray(rng, T * B * d, 1);
  const batch: Batch = { steps: T, batchSize: B, x };
  if (!q) batch.dY = uniformArray(rng, T * B * dirs * h, 0.3);
  else if (loss === 'cross-entropy') batch.y = Int32Array.from({ length: T * B }, () => Math.floor(rng() * q));
  else if (loss === 'mse') batch.y = uniformArray(rng, T * B * q, 1);
  else batch.dO = uniformArray(rng, T * B * q, 0.3);
  if (spec.states) {
    const n = L * dirs * B * h;
    batch.h0 = uniformArray(rng, n, 0.5);
    batch.dhT = uniformArray(rng, n, 0.3);
    if (cell === 'lstm') {
      batch.c0 = uniformArray(rng, n, 0.5);
      batch.dcT = uniformArray(rng, n, 0.3);
    }
  }
  if (spec.lengths) batch.lengths = Int32Array.from(spec.lengths);
  return { model, batch };
}

// A direct float64 statement of MATH.md part 2 for the GPU tests: each
// layer-direction run through its own time order, then the exact reverse
// sweep with the truncation factors, written per step and not per kernel,
// so that it checks the kernel decomposition instead of repeating it.
// Also the seeded random SequenceModel problems the GPU tests use.
import { makeRng, uniformArray } from '../src/rng.js';
import { GATES as GATE_COUNT } from '../src/sequence-model.js';
import type { Activation, Batch, CellKind, LossKind, SequenceGradients, SequenceModel } from '../src/types.js';

export interface SeqSpec {
  cell: CellKind;
  L: number;
  bi: boolean;
  T: number;
  B: number;
  d: number;
  h: number;
  q: number; // 0: no head (dY given)
  bias?: boolean;
  headBias?: boolean;
  loss?: LossKind;
  tokens?: boolean;
  states?: boolean; // h0, c0, dhT, dcT
  activation?: Activation;
  seed?: number;
}

export function randomSequenceProblem(spec: SeqSpec): { model: SequenceModel; batch: Batch } {
  const { cell, L, bi, T, B, d, h, q, bias = true, tokens = false, seed = 1 } = spec;
  const loss = spec.loss ?? (q > 0 ? 'cross-entropy' : 'none');
  const rng = makeRng(seed);
  const dirs = bi ? 2 : 1;
  const G = GATE_COUNT[cell];
  const layers = [];
  for (let k = 0; k < L * dirs; k++) {
    const nIn = k < dirs ? d : dirs * h;
    const layer: SequenceModel['layers'][number] = { Wx: uniformArray(rng, G * h * nIn, 1 / Math.sqrt(nIn)), Wh: uniformArray(rng, G * h * h, 1 / Math.sqrt(h)) };
    if (bias) {
      layer.bx = uniformArray(rng, G * h, 0.2);
      layer.bh = uniformArray(rng, G * h, 0.2);
    }
    layers.push(layer);
  }
  const model: SequenceModel = { cell, inputSize: d, hiddenSize: h, numLayers: L, bidirectional: bi, layers };
  if (spec.activation) model.activation = spec.activation;
  if (q > 0) {
    model.head = { outputSize: q, W: uniformArray(rng, q * dirs * h, 1.5 / Math.sqrt(dirs * h)) };
    if (spec.headBias ?? bias) model.head.b = uniformArray(rng, q, 0.1);
  }
  const x = tokens ? Int32Array.from({ length: T * B }, () => Math.floor(rng() * d)) : uniformArray(rng, T * B * d, 1);
  const batch: Batch = { steps: T, batchSize: B, x };
  if (q === 0) batch.dY = uniformArray(rng, T * B * dirs * h, 0.1);
  else if (loss === 'cross-entropy') batch.y = Int32Array.from({ length: T * B }, () => Math.floor(rng() * q));
  else if (loss === 'mse') batch.y = uniformArray(rng, T * B * q, 1);
  else batch.dO = uniformArray(rng, T * B * q, 0.1);
  if (spec.states) {
    const K = L * dirs;
    batch.h0 = uniformArray(rng, K * B * h, 0.5);
    batch.dhT = uniformArray(rng, K * B * h, 0.1);
    if (cell === 'lstm') {
      batch.c0 = uniformArray(rng, K * B * h, 0.5);
      batch.dcT = uniformArray(rng, K * B * h, 0.1);
    }
  }
  return { model, batch };
}

const sigmoid = (a: number) => 1 / (1 + Math.exp(-a));
const phi = (a: number, act: Activation) => (act === 'tanh' ? Math.tanh(a) : act === 'relu' ? Math.max(a, 0) : a);
const phiGrad = (a: number, act: Activation) => (act === 'tanh' ? 1 - Math.tanh(a) ** 2 : act === 'relu' ? (a > 0 ? 1 : 0) : 1);

interface StepRecord {
  hPrev: Float64Array; // [B, h]
  cPrev: Float64Array;
  gx: Float64Array; // [B, G*h]
  gh: Float64Array; // [B, G*h] (Wh h_prev + bh)
  gates: Float64Array; // [B, G*h] activated gates (rnn: the pre-activation)
  c: Float64Array; // [B, h]
  h: Float64Array; // [B, h]
}

/** Forward and backward of a SequenceModel in float64, with xi_1..xi_T (full, chunked, randomized). */
export function referenceSequenceGradients(model: SequenceModel, batch: Batch, o: { loss: LossKind; xi: Float32Array; inputGradient?: boolean; clipNorm?: number; stateTerms?: boolean; onlyStep?: number; dhOut?: Float64Array }): SequenceGradients {
  const { cell, hiddenSize: h, inputSize: d } = model;
  const act = model.activation ?? 'tanh';
  const L = model.numLayers ?? 1;
  const dirs = model.bidirectional ? 2 : 1;
  const K = L * dirs;
  const G = GATE_COUNT[cell];
  const T = batch.steps;
  const B = batch.batchSize;
  const R = T * B;
  const tokens = batch.x instanceof Int32Array;
  const top = dirs * h;
  const f64 = (n: number) => new Float64Array(n);
  // layer inputs X_l [T, B, nIn] (token ids: one-hot)
  let X: Float64Array = f64(R * d);
  if (tokens) for (let r = 0; r < R; r++) X[r * d + (batch.x as Int32Array)[r]] = 1;
  else X = Float64Array.from(batch.x);
  const inputs: Float64Array[] = [];
  const records: StepRecord[][] = []; // [k][t-1]
  const hT = f64(K * B * h);
  const cT = f64(K * B * h);
  for (let l = 0; l < L; l++) {
    const nIn = l === 0 ? d : top;
    inputs.push(X);
    const Y = f64(R * top);
    for (let dir = 0; dir < dirs; dir++) {
      const k = l * dirs + dir;
      const p = model.layers[k];
      const recs: StepRecord[] = new Array(T);
      let hp: Float64Array = f64(B * h);
      let cp: Float64Array = f64(B * h);
      if (batch.h0) hp = Float64Array.from(batch.h0.subarray(k * B * h, (k + 1) * B * h));
      if (batch.c0) cp = Float64Array.from(batch.c0.subarray(k * B * h, (k + 1) * B * h));
      for (let i = 0; i < T; i++) {
        const t = dir === 0 ? i + 1 : T - i;
        const rec: StepRecord = { hPrev: hp, cPrev: cp, gx: f64(B * G * h), gh: f64(B * G * h), gates: f64(B * G * h), c: f64(B * h), h: f64(B * h) };
        for (let b = 0; b < B; b++) {
          const xr = ((t - 1) * B + b) * nIn;
          for (let gi = 0; gi < G * h; gi++) {
            let ax = p.bx ? p.bx[gi] : 0;
            for (let c = 0; c < nIn; c++) ax += p.Wx[gi * nIn + c] * X[xr + c];
            let ah = p.bh ? p.bh[gi] : 0;
            for (let c = 0; c < h; c++) ah += p.Wh[gi * h + c] * hp[b * h + c];
            rec.gx[b * G * h + gi] = ax;
            rec.gh[b * G * h + gi] = ah;
          }
          for (let j = 0; j < h; j++) {
            const gx = (g: number) => rec.gx[b * G * h + g * h + j];
            const gh = (g: number) => rec.gh[b * G * h + g * h + j];
            const set = (g: number, v: number) => (rec.gates[b * G * h + g * h + j] = v);
            let hv: number;
            if (cell === 'rnn') {
              set(0, gx(0) + gh(0));
              hv = phi(gx(0) + gh(0), act);
            } else if (cell === 'gru') {
              const r = sigmoid(gx(0) + gh(0));
              const z = sigmoid(gx(1) + gh(1));
              const n = Math.tanh(gx(2) + r * gh(2));
              set(0, r); set(1, z); set(2, n);
              hv = (1 - z) * n + z * hp[b * h + j];
            } else {
              const ig = sigmoid(gx(0) + gh(0));
              const fg = sigmoid(gx(1) + gh(1));
              const gg = Math.tanh(gx(2) + gh(2));
              const og = sigmoid(gx(3) + gh(3));
              set(0, ig); set(1, fg); set(2, gg); set(3, og);
              const c = fg * cp[b * h + j] + ig * gg;
              rec.c[b * h + j] = c;
              hv = og * Math.tanh(c);
            }
            rec.h[b * h + j] = hv;
            Y[((t - 1) * B + b) * top + dir * h + j] = hv;
          }
        }
        recs[t - 1] = rec;
        hp = rec.h;
        cp = rec.c;
      }
      hT.set(hp, k * B * h);
      cT.set(cp, k * B * h);
      records.push(recs);
    }
    X = Y;
  }
  // head and loss
  let loss = NaN;
  let dY = f64(R * top);
  const head = model.head;
  const dO = head ? f64(R * head.outputSize) : null;
  if (head) {
    const q = head.outputSize;
    const O = f64(R * q);
    for (let r = 0; r < R; r++) for (let c = 0; c < q; c++) {
      let a = head.b ? head.b[c] : 0;
      for (let k = 0; k < top; k++) a += head.W[c * top + k] * X[r * top + k];
      O[r * q + c] = a;
    }
    if (o.loss === 'none') dO!.set(batch.dO!);
    else {
      let sum = 0;
      for (let r = 0; r < R; r++) {
        if (o.loss === 'cross-entropy') {
          let m = -Infinity;
          for (let c = 0; c < q; c++) m = Math.max(m, O[r * q + c]);
          let se = 0;
          for (let c = 0; c < q; c++) se += Math.exp(O[r * q + c] - m);
          const y = (batch.y as Int32Array)[r];
          sum += m + Math.log(se) - O[r * q + y];
          for (let c = 0; c < q; c++) dO![r * q + c] = (Math.exp(O[r * q + c] - m) / se - (c === y ? 1 : 0)) / R;
        } else {
          for (let c = 0; c < q; c++) {
            const diff = O[r * q + c] - (batch.y as Float32Array)[r * q + c];
            sum += 0.5 * diff * diff;
            dO![r * q + c] = diff / R;
          }
        }
      }
      loss = sum / R;
      // finite differences: dhT and dcT as the linear terms dhT . hT + dcT . cT, in float64
      if (o.stateTerms) {
        for (let i = 0; i < hT.length; i++) loss += (batch.dhT?.[i] ?? 0) * hT[i] + (batch.dcT?.[i] ?? 0) * cT[i];
      }
    }
    for (let r = 0; r < R; r++) for (let k = 0; k < top; k++) {
      let a = 0;
      for (let c = 0; c < q; c++) a += dO![r * q + c] * head.W[c * top + k];
      dY[r * top + k] = a;
    }
  } else dY = Float64Array.from(batch.dY!);
  // one loss term l_s only (window): the top layer's gradient at s, and dhT, dcT as the term at s = T
  const only = o.onlyStep;
  if (only !== undefined) for (let r = 0; r < R; r++) if (Math.floor(r / B) + 1 !== only) dY.fill(0, r * top, (r + 1) * top);
  const withFinal = only === undefined || only === T;

  const grads = model.layers.map((p) => ({ dWx: f64(p.Wx.length), dWh: f64(p.Wh.length), dbx: f64(G * h), dbh: f64(G * h) }));
  const dh0 = f64(K * B * h);
  const dc0 = f64(K * B * h);
  const norms = f64(K * T);
  let dx: Float64Array | null = null;
  const xi = o.xi;
  for (let l = L - 1; l >= 0; l--) {
    const nIn = l === 0 ? d : top;
    const Xl = inputs[l];
    const dX = f64(R * nIn);
    for (let dir = 0; dir < dirs; dir++) {
      const k = l * dirs + dir;
      const p = model.layers[k];
      const g = grads[k];
      let dh: Float64Array = f64(B * h);
      let dc: Float64Array = f64(B * h);
      if (batch.dhT && withFinal) dh = Float64Array.from(batch.dhT.subarray(k * B * h, (k + 1) * B * h));
      if (batch.dcT && withFinal) dc = Float64Array.from(batch.dcT.subarray(k * B * h, (k + 1) * B * h));
      for (let i = 0; i < T; i++) {
        const t = dir === 0 ? T - i : i + 1;
        const rec = records[k][t - 1];
        const dGx = f64(B * G * h);
        const dGh = f64(B * G * h);
        const dhPrev = f64(B * h);
        const dcPrev = f64(B * h);
        let sq = 0;
        for (let b = 0; b < B; b++) for (let j = 0; j < h; j++) {
          const e = b * h + j;
          const dht = dY[((t - 1) * B + b) * top + dir * h + j] + dh[e];
          sq += dht * dht;
          if (o.dhOut) o.dhOut[((k * T + t - 1) * B + b) * h + j] += dht;
          const gate = (gg: number) => rec.gates[b * G * h + gg * h + j];
          const put = (gg: number, vx: number, vh: number) => {
            dGx[b * G * h + gg * h + j] = vx;
            dGh[b * G * h + gg * h + j] = vh;
          };
          if (cell === 'rnn') {
            const da = dht * phiGrad(gate(0), act);
            put(0, da, da);
          } else if (cell === 'gru') {
            const r = gate(0), z = gate(1), n = gate(2);
            const ghn = rec.gh[b * G * h + 2 * h + j];
            const dan = dht * (1 - z) * (1 - n * n);
            const daz = dht * (rec.hPrev[e] - n) * z * (1 - z);
            const dar = dan * ghn * r * (1 - r);
            put(0, dar, dar); put(1, daz, daz); put(2, dan, dan * r);
            dhPrev[e] += dht * z;
          } else {
            const ig = gate(0), fg = gate(1), gg = gate(2), og = gate(3);
            const tc = Math.tanh(rec.c[e]);
            const dct = dc[e] + dht * og * (1 - tc * tc);
            put(0, dct * gg * ig * (1 - ig), dct * gg * ig * (1 - ig));
            put(1, dct * rec.cPrev[e] * fg * (1 - fg), dct * rec.cPrev[e] * fg * (1 - fg));
            put(2, dct * ig * (1 - gg * gg), dct * ig * (1 - gg * gg));
            put(3, dht * tc * og * (1 - og), dht * tc * og * (1 - og));
            dcPrev[e] = dct * fg;
          }
        }
        norms[k * T + t - 1] = Math.sqrt(sq);
        for (let b = 0; b < B; b++) {
          const xr = ((t - 1) * B + b) * nIn;
          for (let gi = 0; gi < G * h; gi++) {
            const vx = dGx[b * G * h + gi];
            const vh = dGh[b * G * h + gi];
            g.dbx[gi] += vx;
            g.dbh[gi] += vh;
            for (let c = 0; c < nIn; c++) {
              g.dWx[gi * nIn + c] += vx * Xl[xr + c];
              dX[xr + c] += vx * p.Wx[gi * nIn + c];
            }
            for (let c = 0; c < h; c++) {
              g.dWh[gi * h + c] += vh * rec.hPrev[b * h + c];
              dhPrev[b * h + c] += vh * p.Wh[gi * h + c];
            }
          }
        }
        // the edge into the previous state: xi_t (forward), xi_{t+1} (reverse), unscaled into the reverse direction's initial state
        const scale = dir === 0 ? xi[t - 1] : t === T ? 1 : xi[t];
        dh = dhPrev.map((v) => v * scale);
        dc = dcPrev.map((v) => v * scale);
      }
      dh0.set(dh, k * B * h);
      dc0.set(dc, k * B * h);
    }
    if (l > 0) dY = dX;
    else dx = dX;
  }
  const result: SequenceGradients = {
    loss,
    gradNorm: 0,
    clipped: false,
    nonFinite: false,
    layers: grads.map((g) => {
      const out = { dWx: Float32Array.from(g.dWx), dWh: Float32Array.from(g.dWh) };
      return model.layers[0].bx ? { ...out, dbx: Float32Array.from(g.dbx), dbh: Float32Array.from(g.dbh) } : out;
    }),
    dh0: Float32Array.from(dh0),
    hT: Float32Array.from(hT),
    gradNormPerStep: Float32Array.from(norms),
  };
  if (head) {
    const q = head.outputSize;
    const dW = f64(q * top);
    const db = f64(q);
    for (let r = 0; r < R; r++) for (let c = 0; c < q; c++) {
      db[c] += dO![r * q + c];
      for (let k = 0; k < top; k++) dW[c * top + k] += dO![r * q + c] * X[r * top + k];
    }
    result.head = { dW: Float32Array.from(dW) };
    if (head.b) result.head.db = Float32Array.from(db);
  }
  if (cell === 'lstm') {
    result.dc0 = Float32Array.from(dc0);
    result.cT = Float32Array.from(cT);
  }
  if (o.inputGradient && dx) result.dx = Float32Array.from(dx);
  let sq = 0;
  for (const g of grads) for (const a of [g.dWx, g.dWh, ...(model.layers[0].bx ? [g.dbx, g.dbh] : [])]) for (const v of a) sq += v * v;
  if (result.head) for (const a of [result.head.dW, result.head.db ?? []]) for (const v of a) sq += v * v;
  result.gradNorm = Math.sqrt(sq);
  const scale = o.clipNorm && result.gradNorm > o.clipNorm ? o.clipNorm / result.gradNorm : 1;
  if (scale < 1) {
    result.clipped = true;
    for (const g of result.layers) for (const a of [g.dWx, g.dWh, g.dbx, g.dbh]) if (a) for (let i = 0; i < a.length; i++) a[i] *= scale;
    if (result.head) for (const a of [result.head.dW, result.head.db]) if (a) for (let i = 0; i < a.length; i++) a[i] *= scale;
  }
  return result;
}

/**
 * window(tau) for one direction, straight from its definition: each loss term
 * l_s (dhT, dcT: the term at s = T) back-propagated alone, with the edge into
 * step s - tau cut in every layer (none when s <= tau: it reaches h0), summed.
 */
export function referenceWindowGradients(model: SequenceModel, batch: Batch, o: { loss: LossKind; tau: number; inputGradient?: boolean; clipNorm?: number }): SequenceGradients {
  const T = batch.steps;
  const B = batch.batchSize;
  const h = model.hiddenSize;
  const K = (model.numLayers ?? 1) * (model.bidirectional ? 2 : 1);
  const whole = referenceSequenceGradients(model, batch, { loss: o.loss, xi: new Float32Array(T).fill(1), inputGradient: o.inputGradient });
  const dhSum = new Float64Array(K * T * B * h);
  const add = (into: Float32Array | undefined, from: Float32Array | undefined) => {
    if (into && from) for (let i = 0; i < into.length; i++) into[i] += from[i];
  };
  const zero = (a?: Float32Array) => a?.fill(0);
  for (const l of whole.layers) for (const a of [l.dWx, l.dWh, l.dbx, l.dbh]) zero(a);
  for (const a of [whole.dh0, whole.dc0, whole.dx]) zero(a);
  for (let s = 1; s <= T; s++) {
    const xi = new Float32Array(T).fill(1);
    if (s - o.tau >= 1) xi[s - o.tau] = 0; // xi_{s-tau+1}: the edge from step s-tau+1 into s-tau
    const r = referenceSequenceGradients(model, batch, { loss: o.loss, xi, inputGradient: o.inputGradient, onlyStep: s, dhOut: dhSum });
    r.layers.forEach((l, k) => {
      add(whole.layers[k].dWx, l.dWx);
      add(whole.layers[k].dWh, l.dWh);
      add(whole.layers[k].dbx, l.dbx);
      add(whole.layers[k].dbh, l.dbh);
    });
    add(whole.dh0, r.dh0);
    add(whole.dc0, r.dc0);
    add(whole.dx, r.dx);
  }
  const norms = new Float32Array(K * T);
  for (let kt = 0; kt < K * T; kt++) {
    let sq = 0;
    for (let i = 0; i < B * h; i++) sq += dhSum[kt * B * h + i] ** 2;
    norms[kt] = Math.sqrt(sq);
  }
  whole.gradNormPerStep = norms;
  let sq = 0;
  const all: Float32Array[] = [];
  for (const l of whole.layers) for (const a of [l.dWx, l.dWh, l.dbx, l.dbh]) if (a) all.push(a);
  if (whole.head) for (const a of [whole.head.dW, whole.head.db]) if (a) all.push(a);
  for (const a of all) for (const v of a) sq += v * v;
  whole.gradNorm = Math.sqrt(sq);
  whole.clipped = false;
  if (o.clipNorm && whole.gradNorm > o.clipNorm) {
    whole.clipped = true;
    const scale = o.clipNorm / whole.gradNorm;
    for (const a of all) for (let i = 0; i < a.length; i++) a[i] *= scale;
  }
  return whole;
}

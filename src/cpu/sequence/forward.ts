// The forward pass of a SequenceModel on the CPU, kernel by kernel (plan steps 1-3):
// input projection per layer-direction, one forward step per t per layer (both
// directions; the steps of the cell's recipe, recipe.ts), then the head's
// output, loss and dO. Float64 throughout.
import type { Batch } from '../../types.js';
import type { SequenceProblem } from '../../validate-sequence.js';
import type { SequenceLayout } from '../../sequence-params.js';
import { inputGather, inputProjection, lossAndOutputGrad, outputProjection } from '../kernels.js';
import { maskPadding } from './kernels.js';
import { layerSteps, type LayerSteps } from './recipe.js';
import { clampToFloat32Range, toFloat32Range } from '../../float32.js';

/** A SequenceModel's float64 parameters as the kernels take them. */
export interface Stack64 {
  flat: Float64Array; // the flat layout (sequence-params.ts); the views below share it
  layout: SequenceLayout; // where each tensor lies in flat
  Wx: Float64Array[]; // per k: [G*h, n_in]
  bx: (Float64Array | null)[]; // per k: [G*h]
  Wh: Float64Array[]; // per layer l: [dirs, G*h, h] (copies: directions are not adjacent in the flat layout)
  bh: (Float64Array | null)[]; // per layer l: [dirs, G*h]
  headW: Float64Array | null; // [q, dirs*h]
  headB: Float64Array | null; // [q]
}

export function stack64(flat: Float64Array, layout: SequenceLayout, p: { L: number; dirs: number; G: number; h: number; q: number }): Stack64 {
  const { L, dirs, G, h } = p;
  const Gh = G * h;
  const view = (at: number, n: number) => flat.subarray(at, at + n);
  const Wx = layout.layers.map((s) => view(s.Wx, Gh * s.nIn));
  const bx = layout.layers.map((s) => (s.bx >= 0 ? view(s.bx, Gh) : null));
  const Wh: Float64Array[] = [];
  const bh: (Float64Array | null)[] = [];
  for (let l = 0; l < L; l++) {
    const w = new Float64Array(dirs * Gh * h);
    const hasBh = layout.layers[l * dirs].bh >= 0;
    const bias = hasBh ? new Float64Array(dirs * Gh) : null;
    for (let dir = 0; dir < dirs; dir++) {
      const s = layout.layers[l * dirs + dir];
      w.set(view(s.Wh, Gh * h), dir * Gh * h);
      if (bias) bias.set(view(s.bh, Gh), dir * Gh);
    }
    Wh.push(w);
    bh.push(bias);
  }
  const head = layout.head;
  return {
    flat,
    layout,
    Wx,
    bx,
    Wh,
    bh,
    headW: head ? view(head.W, p.q * dirs * h) : null,
    headB: head && head.b >= 0 ? view(head.b, p.q) : null,
  };
}

/** What the forward pass leaves for the backward one. */
export interface ForwardTrace {
  X: ArrayLike<number>[]; // per layer: its input, x ([T, B, d] or ids [T, B]) or Y of the layer below
  Gx: Float64Array[]; // per layer: [dirs, T, B, G*h]
  Y: Float64Array[]; // per layer: [T, B, dirs*h]
  C: (Float64Array | null)[]; // per layer: [dirs, T, B, h] (lstm)
  S: (Float64Array | null)[]; // per layer: [dirs, T, B, 4h] (gru, lstm)
  H: (Float64Array | null)[]; // per layer: [(T+1), B, h] with h0 in slot 0 where the chapter's steps ran (Y is its view)
  steps: LayerSteps; // the recipe's steps the layers ran (the reverse sweep runs the same)
  h0: Float64Array; // [L*dirs, B, h]
  c0: Float64Array | null;
  hT: Float64Array; // [L*dirs, B, h]
  cT: Float64Array | null;
}

/** Plan steps 1 and 2 for every layer, bottom up. */
export function sequenceForward(st: Stack64, batch: Batch, p: SequenceProblem): ForwardTrace {
  const { T, B, h, L, dirs, G, cell } = p;
  const rows = T * B;
  const Gh = G * h;
  const lstm = cell === 'lstm';
  const stateSize = L * dirs * B * h;
  const h0 = batch.h0 ? Float64Array.from(batch.h0) : new Float64Array(stateSize);
  const c0 = lstm ? (batch.c0 ? Float64Array.from(batch.c0) : new Float64Array(stateSize)) : null;
  const steps = layerSteps(p, st.layout);
  const trace: ForwardTrace = { X: [], Gx: [], Y: [], C: [], S: [], H: [], steps, h0, c0, hT: new Float64Array(stateSize), cT: lstm ? new Float64Array(stateSize) : null };
  // values as float64 (exact): one array type in the products keeps them monomorphic
  let X: ArrayLike<number> = p.tokens ? batch.x : Float64Array.from(batch.x);
  for (let l = 0; l < L; l++) {
    const nIn = l === 0 ? p.d : dirs * h;
    const Gx = new Float64Array(dirs * rows * Gh);
    for (let dir = 0; dir < dirs; dir++) {
      const k = l * dirs + dir;
      const out = Gx.subarray(dir * rows * Gh, (dir + 1) * rows * Gh);
      if (l === 0 && p.tokens) inputGather(out, batch.x as Int32Array, st.Wx[k], st.bx[k], rows, nIn, Gh);
      else inputProjection(out, X, st.Wx[k], st.bx[k], rows, nIn, Gh);
      clampToFloat32Range(out);
    }
    const at = l * dirs * B * h;
    const span = dirs * B * h;
    const layer = (a: Float64Array | null) => (a ? a.subarray(at, at + span) : null);
    const states = steps.forward({ Gx, Wh: st.Wh[l], bh: st.bh[l], h0: layer(h0)!, c0: layer(c0), hT: layer(trace.hT)!, cT: layer(trace.cT) }, p);
    trace.X.push(X);
    trace.Gx.push(Gx);
    trace.Y.push(states.Y);
    trace.C.push(states.C);
    trace.S.push(states.S);
    trace.H.push(states.H);
    X = states.Y;
  }
  return trace;
}

/** Plan step 3 up to dO: O = Y_top W^T + b (zero at padding rows), and with a loss, the mean over valid rows and dO. */
export function headForward(st: Stack64, trace: ForwardTrace, batch: Batch, p: SequenceProblem): { O: Float64Array; dO: Float64Array | null; loss: number } {
  const { T, B, h, q, dirs, lengths } = p;
  const rows = T * B;
  const O = new Float64Array(rows * q);
  outputProjection(O, trace.Y[p.L - 1], 0, st.headW!, st.headB, rows, dirs * h, q);
  clampToFloat32Range(O);
  maskPadding(O, lengths, T, B, q);
  if (p.loss === 'none' || batch.y === undefined) return { O, dO: null, loss: NaN };
  let N = rows;
  if (lengths) N = lengths.reduce((a, n) => a + n, 0);
  const dO = new Float64Array(rows * q);
  const loss = toFloat32Range(lossAndOutputGrad(dO, O, batch.y, p.loss, rows, q, 1 / N, lengths, B));
  clampToFloat32Range(dO);
  return { O, dO, loss };
}

// The CPU reference of one SequenceModel gradient call (plan steps 1-7): the
// forward pass, the head, the reverse sweep top layer first, the gradient to
// the layer below, the weight gradients into one flat vector, then the norm,
// clipping and diagnostics. Float64 throughout; results rounded to float32.
import type { Batch, SequenceGradients, SequenceModel } from '../../types.js';
import type { SequenceProblem } from '../../validate-sequence.js';
import { packSequence, sequenceLayout, type SequenceLayout } from '../../sequence-params.js';
import { truncationXi } from '../../truncation.js';
import { clampToFloat32Range, toFloat32Range } from '../../float32.js';
import { globalNorm, inputGradient, outputToHiddenGrad } from '../kernels.js';
import { headForward, sequenceForward, stack64, type ForwardTrace, type Stack64 } from './forward.js';
import { headWeightGradients, layerWeightGradients, maskPadding } from './kernels.js';

/** Everything a gradient call computes, in float64, before it is rounded into the public shape. */
export interface SequencePass {
  layout: SequenceLayout;
  grad: Float64Array; // the flat layout, clipped when clipping applied
  loss: number;
  gradNorm: number;
  clipped: boolean;
  nonFinite: boolean;
  trace: ForwardTrace;
  dh0: Float64Array; // [L*dirs, B, h]
  dc0: Float64Array | null;
  dx: Float64Array | null; // [T, B, d]
  norms: Float64Array; // [L*dirs, T] squared ||dL/dh_t||
  xi: Float32Array | null;
}

/** The flat float64 parameters of a model (shared with the trainer, which keeps them between steps). */
export function flat64(model: SequenceModel, layout = sequenceLayout(model)): Float64Array {
  return Float64Array.from(packSequence(model, layout));
}

export function sequencePass(layout: SequenceLayout, params: Float64Array, batch: Batch, p: SequenceProblem): SequencePass {
  const { T, B, h, L, dirs, G, cell, lengths } = p;
  const rows = T * B;
  const Gh = G * h;
  const w = dirs * h;
  const st: Stack64 = stack64(params, layout, p);
  const trace = sequenceForward(st, batch, p);
  const grad = new Float64Array(layout.total);

  // 3. head: loss, dO, dY_top = dO W (or the caller's dY); padding rows ignored
  let loss = NaN;
  let dYtop = new Float64Array(rows * w);
  if (p.hasHead) {
    const head = headForward(st, trace, batch, p);
    loss = head.loss;
    let dO = head.dO;
    if (!dO) {
      dO = Float64Array.from(batch.dO!);
      maskPadding(dO, lengths, T, B, p.q);
    }
    outputToHiddenGrad(dYtop, dO, st.headW!, rows, p.q, w);
    clampToFloat32Range(dYtop);
    const hl = layout.head!;
    headWeightGradients(grad.subarray(hl.W, hl.W + p.q * w), hl.b >= 0 ? grad.subarray(hl.b, hl.b + p.q) : null, dO, trace.Y[L - 1], rows, p.q, w);
  } else {
    dYtop = Float64Array.from(batch.dY!);
    maskPadding(dYtop, lengths, T, B, w);
  }

  // 4-6. reverse sweep, top layer first
  const xi = truncationXi(p.truncation, T);
  const tau = xi ? 0 : Math.min((p.truncation as { steps: number }).steps, T);
  const lstm = cell === 'lstm';
  const stateSize = L * dirs * B * h;
  const dh0 = new Float64Array(stateSize);
  const dc0 = lstm ? new Float64Array(stateSize) : null;
  const norms = new Float64Array(L * dirs * T);
  let dx: Float64Array | null = null;
  // dY of the current layer: [T, B, w], or for window [tau, T, B, h] by age (age 0 = the loss terms at t)
  let dY = dYtop;
  if (tau > 0) {
    dY = new Float64Array(tau * rows * w);
    dY.set(dYtop);
  }
  const slice = (a: Float64Array | null, l: number) => (a ? a.subarray(l * dirs * B * h, (l + 1) * dirs * B * h) : null);
  const sliceF32 = (a: Float32Array | undefined, l: number) => (a ? a.subarray(l * dirs * B * h, (l + 1) * dirs * B * h) : null);
  for (let l = L - 1; l >= 0; l--) {
    // 4. the recipe's reverse-sweep steps (recipe.ts): the cell's, or the chapter's own
    const back = {
      states: { Y: trace.Y[l], C: trace.C[l], S: trace.S[l], H: trace.H[l] },
      dY,
      Wh: st.Wh[l],
      h0: slice(trace.h0, l)!,
      c0: slice(trace.c0, l),
      dhT: sliceF32(batch.dhT, l),
      dcT: sliceF32(batch.dcT, l),
      dh0: slice(dh0, l)!,
      dc0: slice(dc0, l),
      norms: norms.subarray(l * dirs * T, (l + 1) * dirs * T),
    };
    const { dGx, dGh, dGxSlots } = tau > 0 ? trace.steps.window(back, tau, p) : trace.steps.backward(back, xi!, p);
    const Y = trace.Y[l];
    const h0 = back.h0;
    // 5. the gradient to the layer below (per age under window), or dx
    const nIn = l === 0 ? p.d : w;
    if (l > 0) {
      const below = new Float64Array((tau > 0 ? tau : 1) * rows * w);
      if (tau > 0) {
        for (let a = 0; a < tau; a++) inputGradient(below.subarray(a * rows * w, (a + 1) * rows * w), dGxSlots!.subarray(a * rows * Gh, (a + 1) * rows * Gh), st.Wx[l], rows, Gh, w);
      } else {
        for (let dir = 0; dir < dirs; dir++) inputGradient(below, dGx.subarray(dir * rows * Gh, (dir + 1) * rows * Gh), st.Wx[l * dirs + dir], rows, Gh, w, dir > 0);
      }
      clampToFloat32Range(below);
      dY = below;
    } else if (p.inputGradient) {
      dx = new Float64Array(rows * p.d);
      for (let dir = 0; dir < dirs; dir++) inputGradient(dx, dGx.subarray(dir * rows * Gh, (dir + 1) * rows * Gh), st.Wx[dir], rows, Gh, p.d, dir > 0);
    }
    // 6. weight gradients of each direction
    for (let dir = 0; dir < dirs; dir++) {
      const s = layout.layers[l * dirs + dir];
      const part = (at: number, n: number) => (at >= 0 ? grad.subarray(at, at + n) : null);
      const span = rows * Gh;
      layerWeightGradients(
        part(s.Wx, Gh * nIn)!,
        part(s.Wh, Gh * h)!,
        part(s.bx, Gh),
        part(s.bh, Gh),
        dGx.subarray(dir * span, (dir + 1) * span),
        dGh.subarray(dir * span, (dir + 1) * span),
        trace.X[l],
        l === 0 && p.tokens,
        Y,
        h0,
        lengths,
        dir,
        T,
        B,
        nIn,
        h,
        Gh,
        dirs,
      );
    }
  }

  // 7. finalize: global norm over every parameter gradient, clipping, the non-finite flag.
  // Gradients in float32's range; the norm is NaN when an element is
  // NaN or infinite, +Infinity when they are finite but their norm is beyond float32.
  clampToFloat32Range(grad);
  const gradNorm = grad.every(Number.isFinite) ? toFloat32Range(globalNorm([grad])) : NaN;
  const nonFinite = !Number.isFinite(gradNorm);
  let clipped = false;
  if (p.clipNorm !== undefined && !nonFinite && gradNorm > p.clipNorm) {
    const scale = p.clipNorm / gradNorm;
    for (let i = 0; i < grad.length; i++) grad[i] *= scale;
    clipped = true;
  }
  return { layout, grad, loss, gradNorm, clipped, nonFinite, trace, dh0, dc0, dx, norms, xi: p.truncation.kind === 'randomized' ? xi : null };
}

/** The public result of a pass: SequenceGradients, float32. */
export function sequenceResult(pass: SequencePass, p: SequenceProblem): SequenceGradients {
  const { layout, grad } = pass;
  const f32 = (a: Float64Array) => Float32Array.from(a);
  const part = (at: number, n: number) => Float32Array.from(grad.subarray(at, at + n));
  const Gh = p.G * p.h;
  const result: SequenceGradients = {
    loss: pass.loss,
    gradNorm: pass.gradNorm,
    clipped: pass.clipped,
    nonFinite: pass.nonFinite,
    layers: layout.layers.map((s) => {
      const g: SequenceGradients['layers'][number] = { dWx: part(s.Wx, Gh * s.nIn), dWh: part(s.Wh, Gh * p.h) };
      if (s.bx >= 0) g.dbx = part(s.bx, Gh);
      if (s.bh >= 0) g.dbh = part(s.bh, Gh);
      return g;
    }),
    dh0: f32(pass.dh0),
    hT: f32(pass.trace.hT),
  };
  if (layout.head) {
    result.head = { dW: part(layout.head.W, p.q * p.dirs * p.h) };
    if (layout.head.b >= 0) result.head.db = part(layout.head.b, p.q);
  }
  if (pass.dc0) result.dc0 = f32(pass.dc0);
  if (pass.trace.cT) result.cT = f32(pass.trace.cT);
  if (pass.dx) result.dx = f32(pass.dx);
  if (p.gradNormPerStep) result.gradNormPerStep = Float32Array.from(pass.norms, Math.sqrt);
  if (pass.xi) result.xi = pass.xi;
  return result;
}

/** engine.gradients(SequenceModel, ...) on the CPU; `layout` places the tensors in the flat vector (an RnnModel's is its vanilla one). */
export function cpuSequenceGradients(model: SequenceModel, batch: Batch, p: SequenceProblem, layout = sequenceLayout(model)): SequenceGradients {
  return sequenceResult(sequencePass(layout, flat64(model, layout), batch, p), p);
}

// Records one computation of any model (MATH.md parts 1 and 2) into a
// Recorder: the model is a list of layers that the encoder walks, bottom up for
// the forward pass and top down for the reverse sweep; a cell is a recipe (its
// gate count, the CELL constant of the cell step kernels every recipe shares,
// its CPU functions). An RnnModel is one case: one rnn layer and a head
// (params.ts: sequenceLayoutOfRnn), for which the rnn recipe runs its own step
// kernels, the chapter's (runsChapterKernels, src/gpu/chapter-kernels.ts).
// Everything that is not sequential in time is one product over all T*B rows;
// each time step is one dispatch per layer, both directions together.
//
// Dispatches of a gradient call (K = L*dirs layer-directions):
//   forward      K input projections + L*T steps
//   head         O, loss and dO, dY_top = dO W: 3 (loss 'none' with a head: 1; no head: 0)
//   sweep        L*(T+1) steps (the last one gives dh0, dc0) + (L-1)*dirs products dY_{l-1}
//                (+ dirs for dx)
//   weights      per k dWx, dWh (+ dbx, dbh): K*(2 + 2*bias); head dW (+ db)
//   reduce_splits, finalize (+ scale_gradients when clipping; + finalize_parts with the 'multi' finalize)
//   lengths: the padded rows of O and the row losses (or of the caller's dO, dY) masked: +2 (+1)
// so 2*L*T + L + K*(3 + 2*bias) + (L-1)*dirs + head + 2 (+1 clip) (+dirs dx) (+masks): see sequenceDispatches.
// The forward and sweep variants record fewer (src/gpu/variants.ts, src/gpu/sweep-variants.ts); the
// splitk forward step two per step (its reduce), finalize multi one more (finalize_parts).
// The chapter's kernels (K = 1) record the same counts: T forward steps, T + 1
// backward ones (dh_0 the last), plus what their variants add (rnnExtraDispatches).
// With lengths, a padded row costs no product in the step kernels (it only
// passes its state, or its carry, through); the grid stays the same.
import type { Activation, LossKind } from '../types.js';
import type { SequenceDims } from '../validate-sequence.js';
import type { SequenceLayout } from '../sequence-params.js';
import type { Recorder } from './context.js';
import { elementwise, folded, recordMatmul } from './encode.js';
import { chapterCaseOf, runsChapterKernels } from '../sequence-model.js';
import { kernel } from './kernels.js';
import type { KernelChoice } from '../tuning-types.js';
import { backwardStepGroups, backwardStepKernel, choiceOf, forwardDispatchesSaved, forwardIsVariant, forwardSplits, forwardStepKernel, matmulWG, recordForwardVariant, windowStepKernel } from './variants.js';
import { statsLayout } from './stats.js';
import { chapterStepParts, finalizeParts, recordChapterForward, recordChapterSweep, recordFinalize, rnnExtraDispatches, rnnExtraForwardDispatches, rnnExtraSizes } from './chapter-kernels.js';
import { backwardDispatchesSaved, recordPersistentSweep, recordWavefrontSweep, sweepMode, sweepTableSize, uploadSweepTable } from './sweep-variants.js';

const NO_NORM = 0xffffffff;

export interface SeqShape extends SequenceDims {
  T: number;
  B: number;
  R: number; // T*B rows
  K: number; // L*dirs layer-directions
  activation: Activation;
  tokens: boolean;
  loss: LossKind;
  xi: Float32Array; // xi_1..xi_T (all 1 under window)
  window: number; // tau of window(tau) (at most T), else 0
  lengths: Int32Array | null; // [B] n_b, or null (every sequence T steps)
  N: number; // valid rows: the loss is their mean
  layout: SequenceLayout;
  splits: number;
  kPerSplit: number;
  stepParts: number; // workgroups per direction of one step = norm partials per (k, t)
  chapter: boolean; // the rnn recipe runs the chapter's kernels (runsChapterKernels): K = 1
  choice?: KernelChoice; // the kernel variants (src/gpu/variants.ts: withChoice); absent: the defaults
}

export function planSequence(
  dims: SequenceDims,
  run: { T: number; B: number; activation: Activation; tokens: boolean; loss: LossKind; xi: Float32Array | null; window?: number; lengths?: Int32Array | null },
  layout: SequenceLayout,
): SeqShape {
  const R = run.T * run.B;
  const tiles = Math.ceil((dims.G * dims.h) / 32) * Math.ceil(dims.h / 32);
  const splits0 = Math.max(1, Math.min(8, Math.floor(R / 256), Math.ceil(128 / tiles)));
  const kPerSplit = Math.ceil(R / splits0 / 16) * 16;
  const splits = Math.ceil(R / kPerSplit);
  // window(tau) with tau >= T is full BPTT; more slots than steps would only hold zeros.
  const window = run.window ? Math.min(run.window, run.T) : 0;
  const xi = run.xi ?? new Float32Array(run.T).fill(1);
  const lengths = run.lengths ?? null;
  const N = lengths ? lengths.reduce((a, n) => a + n, 0) : R;
  const chapter = runsChapterKernels(chapterCaseOf({ cell: dims.cell, L: dims.L, dirs: dims.dirs, lengths }, layout));
  const s: SeqShape = { ...dims, ...run, xi, window, lengths, N, R, K: dims.L * dims.dirs, layout, splits, kPerSplit, stepParts: 0, chapter };
  return { ...s, stepParts: stepPartsOf(s) }; // the default choice's (withChoice sets another's)
}

/** Norm partials per (k, t) of the reverse sweep of s with its choice. */
export function stepPartsOf(s: SeqShape): number {
  return s.chapter ? chapterStepParts(s) : backwardStepGroups(s);
}

/** Element offsets of every tensor inside the shared buffers (see the kernel headers). */
export function seqOffsets(s: SeqShape) {
  const { T, B, h, G, K, dirs } = s;
  const gBlock = T * B * G * h; // one k of Gx, dGx, dGh
  const sBlock = T * B * 4 * h; // one k of S
  const cBlock = (T + 2) * B * h; // one k of C, dH, dC
  const yBlock = (T + 2) * B * dirs * h; // one layer of Y
  const tau = s.window;
  // one layer of dY (window: one block per age; dirs = 1); the chapter's window sweeps its own slots
  const dyBlock = (s.chapter ? 1 : tau || 1) * T * B * dirs * h;
  const cSize = s.cell === 'lstm' ? K * cBlock : 0;
  // the chapter's dA [(T+1), B, h] in dG (dState is dG): dh_0 in slot 0, dA_t (both dGx and dGh) in slot t
  const chapterDA = s.chapter ? B * h : -1;
  return {
    gBlock, sBlock, cBlock, yBlock, dyBlock,
    Gx: (k: number) => k * gBlock,
    Y: (l: number) => l * yBlock,
    C: (k: number) => k * cBlock,
    Hs: (k: number) => cSize + k * cBlock,
    S: (k: number) => cSize + K * cBlock + k * sBlock,
    h0: (k: number) => k * B * h,
    c0: (k: number) => (K + k) * B * h,
    dY: (l: number) => l * dyBlock,
    dGx: (k: number) => (s.chapter ? chapterDA : k * gBlock),
    dGh: (k: number) => (s.chapter ? chapterDA : (K + k) * gBlock),
    dH: (k: number) => (s.chapter ? 0 : k * cBlock),
    dC: (k: number) => (K + k) * cBlock,
    dGa: 2 * K * gBlock, // window: dGx per age [tau, T, B, G*h], in dG
    dHa: 2 * K * cBlock, // window: dh, dc per age [tau, T, B, h], in dState
    dCa: 2 * K * cBlock + tau * T * B * h,
    savedSize: cSize + K * cBlock + (G > 1 ? K * sBlock : 0),
  };
}

/** The buffers of one computation. */
export interface SeqBuffers {
  params: GPUBuffer; // [total]
  x: GPUBuffer; // [T, B, d] f32 or [T, B] i32
  csr: GPUBuffer | null; // token rows grouped by id (tokens)
  labels: GPUBuffer;
  targets: GPUBuffer;
  Gx: GPUBuffer; // [K, T, B, G*h]
  Y: GPUBuffer; // [L, T+2, B, dirs*h]
  saved: GPUBuffer; // C [K, T+2, B, h] (lstm), Hs [K, T+2, B, h], S [K, T, B, 4h] (gru, lstm); the chapter's: Y
  lengths: GPUBuffer; // u32 [B] n_b (T each without lengths)
  state0: GPUBuffer; // h0 [K, B, h], c0 [K, B, h]
  O: GPUBuffer; // [T*B, q]: o, then dO
  dY: GPUBuffer; // [L, T, B, dirs*h]
  dG: GPUBuffer; // dGx, dGh [K, T, B, G*h] each
  dState: GPUBuffer; // dH, dC [K, T+2, B, h] each; the chapter's: dG
  partials: GPUBuffer; // [splits, total]
  grad: GPUBuffer; // [total]
  stepPartials: GPUBuffer; // [K*T*stepParts]
  rowLoss: GPUBuffer; // [T*B]
  stats: GPUBuffer; // Stats of kernels/finalize.wgsl, K*T per-step norms
  dx: GPUBuffer | null; // [T, B, d]
  sweep: GPUBuffer | null; // u32 [B + T]: n_b, xi_t bits (the persistent and wavefront sweeps only)
  finalParts: GPUBuffer | null; // [3*parts] partials of the 'multi' finalize (src/gpu/chapter-kernels.ts)
  stepScratch: GPUBuffer | null; // vec4 [dirs, S, B*h]: the partial sums of the 'splitk' forward step (the chapter's: [splits, B, h])
  // the chapter's kernels only (chapter-kernels.ts)
  dhT: GPUBuffer | null; // [B, h] the adjoint arriving at h_T (the others take it in slot T+1 of dState)
  slots: GPUBuffer | null; // [2, tau, B, h] window(tau)'s ping-pong slots
  WhhT: GPUBuffer | null; // [h, h] Whh transposed ('coalesced' and 'splitk' forward steps)
}

/** Element counts of every buffer (0: not needed; -1: the alias of another, set by acquireSequenceBuffers). */
export function seqBufferSizes(s: SeqShape, withDx: boolean): Record<keyof SeqBuffers, number> {
  const o = seqOffsets(s);
  const { T, B, R, h, K, L, d, q } = s;
  const sizes = {
    params: s.layout.total,
    x: s.tokens ? R : R * d,
    csr: s.tokens ? d + 1 + R : 0,
    labels: s.loss === 'cross-entropy' ? R : 1, // a buffer of its own even when unused: output_loss writes rowLoss
    targets: s.loss === 'mse' ? R * q : 1,
    Gx: K * o.gBlock,
    Y: L * o.yBlock,
    saved: Math.max(1, o.savedSize),
    state0: 2 * K * B * h,
    lengths: B,
    O: Math.max(1, R * q),
    dY: L * o.dyBlock,
    dG: (2 * K + s.window) * o.gBlock,
    dState: 2 * K * o.cBlock + 2 * s.window * T * B * h,
    partials: s.splits * s.layout.total,
    grad: s.layout.total,
    stepPartials: K * T * s.stepParts,
    rowLoss: R,
    stats: statsLayout().perStep + K * T,
    dx: withDx ? R * d : 0,
    sweep: sweepTableSize(s),
    finalParts: s.choice?.finalize === 'multi' ? 3 * finalizeParts(s) : 0,
    stepScratch: s.choice?.forwardStep === 'splitk' ? 4 * s.dirs * forwardSplits(s) * B * h : 0,
    dhT: 0,
    slots: 0,
    WhhT: 0,
  };
  if (!s.chapter) return sizes;
  const extra = rnnExtraSizes(s);
  return {
    ...sizes,
    saved: -1, // Y
    dG: (T + 2) * B * h, // dA [(T+1), B, h] (and a spare slot)
    dState: -1, // dG
    stepPartials: T * s.stepParts,
    dhT: B * h,
    slots: 2 * s.window * B * h,
    WhhT: extra.WhhT,
    stepScratch: extra.stepScratch,
  };
}

/** The dispatches of one gradient call, as the formula in the header. */
export function sequenceDispatches(s: SeqShape, o: { dx: boolean; clip: boolean }): number {
  const head = s.q === 0 ? 0 : (s.loss === 'none' ? 1 : 3) + 1 + (s.hasHeadBias ? 1 : 0);
  // one column sum per bias present: 2K with biases (an RnnModel run as a sequence has bx only)
  const biases = s.layout.layers.reduce((a, l) => a + (l.bx >= 0 ? 1 : 0) + (l.bh >= 0 ? 1 : 0), 0);
  const masks = !s.lengths ? 0 : s.q > 0 && s.loss !== 'none' ? 2 : 1;
  // minus what a persistent or wavefront forward (src/gpu/variants.ts) and sweep (src/gpu/sweep-variants.ts) save
  const finalize = s.choice?.finalize === 'multi' ? 2 : 1; // 'multi': finalize_parts, then finalize
  const steps = s.chapter ? rnnExtraDispatches(s) : -forwardDispatchesSaved(s) - backwardDispatchesSaved(s);
  return 2 * s.L * s.T + s.L + 3 * s.K + biases + (s.L - 1) * s.dirs + head + 1 + finalize + (o.clip ? 1 : 0) + (o.dx ? s.dirs : 0) + masks + steps;
}

/** The dispatches of the forward alone: K input projections and L*T steps, as the chosen variant records them. */
export function forwardDispatches(s: SeqShape): number {
  return s.K + s.L * s.T + (s.chapter ? rnnExtraForwardDispatches(s) : -forwardDispatchesSaved(s));
}

/** Elements between the parameters of a layer's two directions (the step kernels address dir 1 from dir 0's offsets). */
export function strideK(s: SeqShape, k0: number): number {
  return s.dirs === 2 ? s.layout.layers[k0 + 1].Wx - s.layout.layers[k0].Wx : 0;
}

/** Every product recorded from here on uses the matmul tile of s's choice (the head and backward follow the forward). */
function applyMatmulChoice(rec: Recorder, s: SeqShape): void {
  rec.matmulWG = matmulWG(choiceOf(s));
  rec.matmulPad = choiceOf(s).matmul === 'tile32pad' ? 1 : 0;
}

/** Gx_k = X_l Wx_k^T + bx_k for every k, then the steps of each layer, bottom up. */
export function recordSequenceForward(
  rec: Recorder,
  s: SeqShape,
  b: Pick<SeqBuffers, 'params' | 'x' | 'Gx' | 'Y' | 'saved' | 'state0' | 'lengths'> & Partial<Pick<SeqBuffers, 'stepScratch' | 'WhhT'>>,
): void {
  const o = seqOffsets(s);
  const { T, B, R, h, G, dirs, layout } = s;
  applyMatmulChoice(rec, s);
  const projection = (l: number) => {
    for (let dir = 0; dir < dirs; dir++) {
      const k = l * dirs + dir;
      const p = layout.layers[k];
      if (l === 0 && s.tokens) {
        rec.dispatch(
          kernel('gather_columns'),
          {},
          { ids: b.x, W: b.params, P: b.Gx },
          { R, d: s.d, h: G * h, offWhx: p.Wx, offBias: Math.max(0, p.bx), hasBias: p.bx >= 0 ? 1 : 0, offP: o.Gx(k) },
          elementwise(R * G * h),
        );
      } else {
        // X_0 = x; X_l = Y_{l-1} from its slot 1 (h_1 of every direction)
        const A = l === 0 ? b.x : b.Y;
        const offA = l === 0 ? 0 : o.Y(l - 1) + B * dirs * h;
        recordMatmul(rec, { A, B: b.params, C: b.Gx, bias: p.bx >= 0 ? b.params : undefined, M: R, N: G * h, K: p.nIn, offA, offB: p.Wx, offC: o.Gx(k), offBias: Math.max(0, p.bx), transB: true });
      }
    }
  };
  if (s.chapter) {
    projection(0);
    recordChapterForward(rec, s, { ...b, WhhT: b.WhhT ?? null, stepScratch: b.stepScratch ?? null });
    return;
  }
  if (forwardIsVariant(s)) {
    recordForwardVariant(rec, s, b, projection);
    return;
  }
  const forward = forwardStepKernel(s); // the variant chosen (cell_forward_tile4, cell_forward_step or cell_forward_splitk)
  if (forward.splits && !b.stepScratch) throw new Error('the splitk forward step needs its stepScratch buffer (seqBufferSizes)');
  for (let l = 0; l < s.L; l++) {
    projection(l);
    const k0 = l * dirs;
    const p0 = layout.layers[k0];
    for (let step = 1; step <= T; step++) {
      const buffers = { W: b.params, Gx: b.Gx, state0: b.state0, lengths: b.lengths, Y: b.Y, saved: b.saved };
      const params = {
        B, h, T, dirs, s: step,
        offWh: p0.Wh,
        offBh: Math.max(0, p0.bh),
        strideK: strideK(s, k0),
        hasBias: p0.bh >= 0 ? 1 : 0,
        offGx: o.Gx(k0),
        offY: o.Y(l),
        offHs: o.Hs(k0),
        offC: o.C(k0),
        offS: o.S(k0),
        offH0: o.h0(k0),
        offC0: o.c0(k0),
      };
      if (forward.splits) {
        // splitk: the partial sums over S blocks of k (grid z), then their fixed-order sum and the cell's finish
        rec.dispatch(forward.info, { ...forward.constants, REDUCE: false }, { ...buffers, scratch: b.stepScratch! }, params, [forward.groups, dirs, forward.splits]);
        rec.dispatch(forward.info, { ...forward.constants, REDUCE: true }, { ...buffers, scratch: b.stepScratch! }, params, [forward.groups, dirs]);
      } else {
        rec.dispatch(forward.info, forward.constants, buffers, params, [forward.groups, dirs]);
      }
    }
  }
}

/** Zeroes the padded rows (t >= n_b) of a [T, B, n] tensor at element offset `off` (with lengths only). */
export function recordMaskRows(rec: Recorder, s: SeqShape, lengths: GPUBuffer, A: GPUBuffer, n: number, off = 0): void {
  if (!s.lengths) return;
  rec.dispatch(kernel('mask_rows'), {}, { lengths, A }, { R: s.R, B: s.B, n, off }, elementwise(s.R * n));
}

/** O = Y_top W^T + b over T*B rows (zero at padded rows: masked by the caller when it keeps O). */
export function recordSequenceOutput(rec: Recorder, s: SeqShape, b: Pick<SeqBuffers, 'params' | 'Y' | 'O'>): void {
  const o = seqOffsets(s);
  const { B, R, h, dirs, q, layout } = s;
  const head = layout.head!;
  recordMatmul(rec, { A: b.Y, B: b.params, C: b.O, bias: s.hasHeadBias ? b.params : undefined, M: R, N: q, K: dirs * h, offA: o.Y(s.L - 1) + B * dirs * h, offB: head.W, offBias: Math.max(0, head.b), transB: true });
}

/** O = Y_top W^T + b, then the loss and dO in place (loss 'none': dO was uploaded); padded rows carry no loss. */
export function recordSequenceHead(rec: Recorder, s: SeqShape, b: Pick<SeqBuffers, 'params' | 'Y' | 'O' | 'labels' | 'targets' | 'rowLoss' | 'lengths'>): void {
  if (s.q === 0 || s.loss === 'none') return;
  const { R, q } = s;
  recordSequenceOutput(rec, s, b);
  rec.dispatch(
    kernel('output_loss'),
    { LOSS: s.loss === 'cross-entropy' ? 0 : 1 },
    { labels: b.labels, targets: b.targets, O: b.O, rowLoss: b.rowLoss },
    { R, q, scale: 1 / s.N },
    folded(Math.ceil(R / 64)),
  );
  recordMaskRows(rec, s, b.lengths, b.O, q);
  recordMaskRows(rec, s, b.lengths, b.rowLoss, 1);
}

export interface SeqBackwardOptions {
  perStepNorms: boolean;
  dx: boolean;
  clipNorm: number; // 0: no clipping
  applyClip: boolean; // scale the gradients in place (engine.gradients); the trainer folds the scale into its update
  countStep: boolean; // advance the Adam step counter in stats
}

/** Layer l's reverse sweep on the cell kernels, one dispatch per step (both directions together), dh0/dc0 the last. */
function recordCellSteps(rec: Recorder, s: SeqShape, b: SeqBuffers, l: number, perStepNorms: boolean): void {
  const o = seqOffsets(s);
  const { T, B, h, dirs, layout } = s;
  const tau = s.window;
  const k0 = l * dirs;
  const p0 = layout.layers[k0];
  if (tau > 0) {
    const windowKernel = windowStepKernel(s); // cell_window_backward_tile4 or cell_window_backward_step
    for (let step = 1; step <= T + 1; step++) {
      const norms = perStepNorms && step <= T;
      rec.dispatch(
        windowKernel.info,
        windowKernel.constants,
        { W: b.params, Y: b.Y, saved: b.saved, dY: b.dY, lengths: b.lengths, dG: b.dG, dState: b.dState, normPartials: b.stepPartials },
        {
          B, h, T, tau, s: step,
          offWh: p0.Wh,
          offY: o.Y(l),
          offHs: o.Hs(k0),
          offC: o.C(k0),
          offS: o.S(k0),
          offDY: o.dY(l),
          offDGx: o.dGx(k0),
          offDGh: o.dGh(k0),
          offDGa: o.dGa,
          offDH: o.dH(k0),
          offDC: o.dC(k0),
          offDHa: o.dHa,
          offDCa: o.dCa,
          normBase: norms ? (k0 * T + T - step) * s.stepParts : NO_NORM,
        },
        [windowKernel.groups],
      );
    }
    return;
  }
  const backward = backwardStepKernel(s); // the variant chosen (cell_backward_tile4, cell_backward_step or cell_backward_lanes)
  for (let step = 1; step <= T + 1; step++) {
    const tail = step === T + 1;
    // forward direction: carry from t+1 into t = T+1-step, scaled by xi_{t+1}; tail: into h0, xi_1
    const tF = T + 1 - step;
    const xi0 = step === 1 ? 1 : s.xi[tF]; // xi_{tF+1}, array index tF
    // reverse direction: carry from t-1 into t = step, scaled by xi_t; tail: into its initial state, unscaled
    const xi1 = step === 1 || tail ? 1 : s.xi[step - 1];
    const norms = perStepNorms && !tail;
    rec.dispatch(
      backward.info,
      backward.constants,
      { W: b.params, Y: b.Y, saved: b.saved, dY: b.dY, lengths: b.lengths, dG: b.dG, dState: b.dState, normPartials: b.stepPartials },
      {
        B, h, T, dirs, s: step,
        offWh: p0.Wh,
        strideK: strideK(s, k0),
        offY: o.Y(l),
        offHs: o.Hs(k0),
        offC: o.C(k0),
        offS: o.S(k0),
        offDY: o.dY(l),
        offDGx: o.dGx(k0),
        offDGh: o.dGh(k0),
        offDH: o.dH(k0),
        offDC: o.dC(k0),
        xi0,
        xi1,
        normBase0: norms ? (k0 * T + tF - 1) * s.stepParts : NO_NORM,
        normBase1: norms ? ((k0 + 1) * T + step - 1) * s.stepParts : NO_NORM,
      },
      [backward.groups, dirs],
    );
  }
}

/** dY_top = dO W, the reverse sweep of every layer (top down), the weight gradients, their norm, clipping. */
export function recordSequenceBackward(rec: Recorder, s: SeqShape, b: SeqBuffers, opt: SeqBackwardOptions): void {
  const o = seqOffsets(s);
  const { T, B, R, h, G, L, K, dirs, layout } = s;
  applyMatmulChoice(rec, s); // (a backward recorded by itself: engine.gpu.backward)
  // a caller's dO (loss 'none') or dY at padded rows is ignored
  if (s.q > 0 && s.loss === 'none') recordMaskRows(rec, s, b.lengths, b.O, s.q);
  if (s.q === 0) recordMaskRows(rec, s, b.lengths, b.dY, dirs * h, o.dY(L - 1));
  if (s.q > 0) recordMatmul(rec, { A: b.O, B: b.params, C: b.dY, M: R, N: dirs * h, K: s.q, offB: layout.head!.W, offC: o.dY(L - 1) });

  const tau = s.window;
  // the recurrence: the chapter's sweep (its one layer), or the cell kernels' layer by layer (or all
  // layers at once: the wavefront), then each layer's gradient into the layer below
  const sweep = s.chapter ? null : sweepMode(s); // a persistent or wavefront sweep (cell_backward_sweep), or per step
  if (s.chapter) recordChapterSweep(rec, s, b, opt.perStepNorms);
  if (sweep) uploadSweepTable(rec, s, b);
  if (sweep === 'wavefront') recordWavefrontSweep(rec, s, b, opt.perStepNorms); // every layer's steps; then only dx below
  // window: the loss reaches the top layer at age 0 only
  if (tau > 1 && !s.chapter) rec.clear(b.dY, (o.dY(L - 1) + R * h) * 4, (tau - 1) * R * h * 4);
  for (let l = L - 1; l >= 0; l--) {
    const k0 = l * dirs;
    if (sweep === 'persistent') recordPersistentSweep(rec, s, b, l, opt.perStepNorms);
    else if (!sweep && !s.chapter) recordCellSteps(rec, s, b, l, opt.perStepNorms);
    // dY_{l-1} = sum over dir of dGx_k Wx_k (or dx for l = 0), accumulated on the device
    if (l > 0 ? sweep !== 'wavefront' : opt.dx) {
      for (let dir = 0; dir < dirs; dir++) {
        const k = k0 + dir;
        const p = layout.layers[k];
        const C = l > 0 ? b.dY : b.dx!;
        // window: every age passes down with its own slot, one product over tau*T*B rows (dx: the sum over ages)
        const ages = tau > 0 && l > 0 ? tau : 1;
        const offA = tau > 0 && l > 0 ? o.dGa : o.dGx(k);
        recordMatmul(rec, { A: b.dG, B: b.params, C, M: ages * R, N: p.nIn, K: G * h, offA, offB: p.Wx, offC: l > 0 ? o.dY(l - 1) : 0, accumulate: dir > 0 });
      }
    }
  }

  // Weight gradients: each one reduction over all T*B rows, split-K into `partials`.
  const split = { splits: s.splits, kPerSplit: s.kPerSplit, splitStride: layout.total, transA: true, C: b.partials };
  const sums = kernel('column_sums');
  const common = { R, kPerSplit: s.kPerSplit, splitStride: layout.total };
  for (let k = 0; k < K; k++) {
    const l = Math.floor(k / dirs);
    const dir = k % dirs;
    const p = layout.layers[k];
    if (l === 0 && s.tokens) {
      rec.dispatch(
        kernel('token_scatter_add'),
        { SCAN_ALL_ROWS: b.csr === null },
        { csr: b.csr ?? b.x, ids: b.x, dA: b.dG, out: b.partials },
        { R, d: s.d, h: G * h, offDA: o.dGx(k), offOut: p.Wx, splits: s.splits, splitStride: layout.total },
        elementwise(G * h * s.d),
      );
    } else {
      const X = l === 0 ? b.x : b.Y;
      const offB = l === 0 ? 0 : o.Y(l - 1) + B * dirs * h;
      recordMatmul(rec, { ...split, A: b.dG, B: X, M: G * h, N: p.nIn, K: R, offA: o.dGx(k), offB, offC: p.Wx });
    }
    // H_prev: slots 0..T-1 of Hs (forward), 2..T+1 (reverse)
    recordMatmul(rec, { ...split, A: b.dG, B: b.saved, M: G * h, N: h, K: R, offA: o.dGh(k), offB: o.Hs(k) + (dir === 0 ? 0 : 2 * B * h), offC: p.Wh });
    if (p.bx >= 0) rec.dispatch(sums, {}, { A: b.dG, out: b.partials }, { ...common, N: G * h, offA: o.dGx(k), offOut: p.bx }, [Math.ceil((G * h) / 64), s.splits]);
    if (p.bh >= 0) rec.dispatch(sums, {}, { A: b.dG, out: b.partials }, { ...common, N: G * h, offA: o.dGh(k), offOut: p.bh }, [Math.ceil((G * h) / 64), s.splits]);
  }
  if (s.q > 0) {
    recordMatmul(rec, { ...split, A: b.O, B: b.Y, M: s.q, N: dirs * h, K: R, offB: o.Y(L - 1) + B * dirs * h, offC: layout.head!.W });
    if (s.hasHeadBias) rec.dispatch(sums, {}, { A: b.O, out: b.partials }, { ...common, N: s.q, offA: 0, offOut: layout.head!.b }, [Math.ceil(s.q / 64), s.splits]);
  }
  rec.dispatch(kernel('reduce_splits'), {}, { partials: b.partials, grad: b.grad }, { n: layout.total, splits: s.splits }, elementwise(layout.total));
  recordFinalize(rec, s, b, {
    R,
    hasLoss: s.loss === 'none' ? 0 : 1,
    lossScale: 1 / s.N,
    n: layout.total,
    clipNorm: opt.clipNorm,
    T: K * T,
    stepParts: opt.perStepNorms ? s.stepParts : 0,
    countStep: opt.countStep ? 1 : 0,
  });
  if (opt.applyClip && opt.clipNorm > 0) {
    rec.dispatch(kernel('scale_gradients'), {}, { stats: b.stats, grad: b.grad }, { n: layout.total }, elementwise(layout.total));
  }
}

// The rnn recipe's own kernels, the chapter's (kernels/rnn_*.wgsl, window_*.wgsl),
// as the layer walk (sequence-encode.ts) records them where runsChapterKernels
// holds (src/sequence-model.ts: one rnn layer-direction, no lengths, a head, one
// bias per product). The walk's buffers take the chapter's layouts there (K = 1,
// every base offset 0): Gx is P [T, B, h]; Y is H [(T+1), B, h] with h0 copied
// into slot 0 (and saved is Y: the weight gradient's H_prev); dY is G = dO Wqh;
// dG is dA [(T+1), B, h] with dh0 in slot 0 (and dState is dG: dh0 is read there).
// Also here: which WGSL file, override constants and grid each variant of these
// kernels means, the extra buffers and dispatches it needs, where it applies on
// a device, the shape class the tuner keys its choices by, and finalize's two
// variants (shared with every walk). The choice rides on the shape (s.choice).
import type { Activation } from '../types.js';
import { BpttInputError } from '../errors.js';
import { type KernelChoice, DEFAULT_CHOICE, DEFAULT_RNN_CHOICE } from '../tuning-types.js';
import type { Recorder } from './context.js';
import { elementwise } from './encode.js';
import { ACTIVATION_CODE, kernel } from './kernels.js';

const TILE = 32; // the tiles of the default step kernels
const NO_NORM = 0xffffffff;

/** What the chapter's kernels read of a call's shape (a SeqShape has all of it). */
export interface ChapterShape {
  T: number;
  B: number;
  h: number;
  activation: Activation;
  window: number; // tau of window(tau) (at most T), else 0
  xi: Float32Array; // xi_1..xi_T (all 1 under window)
  layout: { layers: { Wh: number }[]; total: number };
  stepParts: number; // norm partials per step (chapterStepParts)
  choice?: KernelChoice;
}

/** The walk's buffers in the chapter's roles (see the header): P = Gx, H = Y, G = dY, dA = dG. */
export interface ChapterBuffers {
  params: GPUBuffer;
  Gx: GPUBuffer;
  Y: GPUBuffer;
  dY: GPUBuffer;
  dG: GPUBuffer;
  dhT: GPUBuffer | null; // [B, h]
  slots: GPUBuffer | null; // [2, tau, B, h] window(tau) only
  WhhT: GPUBuffer | null; // [h, h] the 'coalesced' and 'splitk' forward steps
  stepScratch: GPUBuffer | null; // [splits, B, h] the 'splitk' steps
  stepPartials: GPUBuffer;
}
const SMALL = 8; // the 8x8 tiles of the 'small' variants

export type RnnChoice = KernelChoice & typeof DEFAULT_RNN_CHOICE;

/** The choice of s with every vanilla kernel named (the defaults where s has none). */
export function rnnChoiceOf(s: { choice?: KernelChoice }): RnnChoice {
  return { ...DEFAULT_CHOICE, ...DEFAULT_RNN_CHOICE, ...s.choice } as RnnChoice;
}

/**
 * The class a tuned choice of an RnnModel is kept for: the activation, B and h
 * rounded up to powers of two, and whether the reverse sweep is window(tau)
 * (its own kernel). Distinct from the SequenceModel classes (shapeClass in variants.ts).
 */
export function vanillaClass(s: Pick<ChapterShape, 'activation' | 'B' | 'h' | 'window'>): string {
  const p2 = (n: number) => 2 ** Math.ceil(Math.log2(Math.max(1, n)));
  return `vanilla-${s.activation} B${p2(s.B)} h${p2(s.h)}${s.window > 0 ? ' window' : ''}`;
}

/** Blocks of k of the 'splitk' variants: about 32 of the h terms each, 2 to 8 blocks. */
export function rnnSplits(h: number): number {
  return Math.max(2, Math.min(8, Math.ceil(h / 32)));
}

/** Workgroups of the 'multi' finalize: one per 4096 elements of the gradient or rows of the loss, 2 to 64. */
export function finalizeParts(s: { T: number; B: number; layout: { total: number } }): number {
  return Math.max(2, Math.min(64, Math.ceil(Math.max(s.layout.total, s.T * s.B) / 4096)));
}

/** Norm partials per step of the reverse-sweep variant chosen: one per workgroup of the kernel that writes them. */
export function chapterStepParts(s: Pick<ChapterShape, 'B' | 'h' | 'window' | 'choice'>): number {
  const c = rnnChoiceOf(s);
  const small = Math.ceil(s.h / SMALL) * Math.ceil(s.B / SMALL);
  if (s.window > 0) return c.windowStep === 'small' ? small : Math.ceil(s.h / TILE) * Math.ceil(s.B / TILE);
  if (c.rnnBackwardStep === 'small') return small;
  if (c.rnnBackwardStep === 'splitk') return Math.ceil((s.B * s.h) / 64);
  return Math.ceil(s.h / TILE) * Math.ceil(s.B / TILE);
}

/** Whether the reverse sweep of s runs a split-K step: every step, or under window(tau) (which has none) dh_0's. */
function backwardSplit(c: RnnChoice): boolean {
  return c.rnnBackwardStep === 'splitk';
}

/** Elements of the buffers the variants add (0: not needed): WhhT, the split-K partial sums, the finalize partials. */
export function rnnExtraSizes(s: Pick<ChapterShape, 'B' | 'h' | 'choice'>): { WhhT: number; stepScratch: number } {
  const c = rnnChoiceOf(s);
  const transposed = c.rnnForwardStep === 'coalesced' || c.rnnForwardStep === 'splitk';
  const split = c.rnnForwardStep === 'splitk' || backwardSplit(c);
  return {
    WhhT: transposed ? s.h * s.h : 0,
    stepScratch: split ? rnnSplits(s.h) * s.B * s.h : 0,
  };
}

/** Dispatches the forward step variant adds to the default's: the transpose, the reduce passes. */
export function rnnExtraForwardDispatches(s: Pick<ChapterShape, 'T' | 'choice'>): number {
  const v = rnnChoiceOf(s).rnnForwardStep;
  return (v === 'coalesced' || v === 'splitk' ? 1 : 0) + (v === 'splitk' ? s.T : 0);
}

/** Dispatches the step variants add to the defaults' (at most): reduce passes, the transpose. */
export function rnnExtraDispatches(s: Pick<ChapterShape, 'T' | 'choice'>): number {
  const c = rnnChoiceOf(s);
  let n = 0;
  if (c.rnnForwardStep === 'coalesced' || c.rnnForwardStep === 'splitk') n += 1; // the transpose
  if (c.rnnForwardStep === 'splitk') n += s.T;
  if (backwardSplit(c)) n += s.T + 1; // every step and dh_0
  return n;
}

/** Why `choice` cannot run this shape on this device (the kernel in the choice and the reason), or null when it can. */
export function unfitRnnReason(device: GPUDevice, s: Pick<ChapterShape, 'B' | 'h' | 'window'>, choice: KernelChoice): { argument: keyof KernelChoice; reason: string } | null {
  const c = rnnChoiceOf({ choice });
  const max = device.limits.maxComputeWorkgroupsPerDimension;
  for (const k of ['rnnForwardStep', 'rnnBackwardStep'] as const) {
    // one row b per workgroup in y (rnn_step_split.wgsl; rnn_forward_small.wgsl at 64 x 1)
    const rowsInY = c[k] === 'splitk' || (k === 'rnnForwardStep' && c[k] === 'coalesced');
    if (rowsInY && s.B > max) return { argument: k, reason: `'${c[k]}' runs one batch row per workgroup in y: B = ${s.B} exceeds maxComputeWorkgroupsPerDimension = ${max}` };
  }
  // (the reverse sweep's step also makes dh_0 under window(tau); the window's step runs only there)
  for (const k of s.window > 0 ? (['rnnForwardStep', 'rnnBackwardStep', 'windowStep'] as const) : (['rnnForwardStep', 'rnnBackwardStep'] as const)) {
    if (c[k] === 'small' && Math.ceil(s.B / SMALL) > max) return { argument: k, reason: `'small' runs 8 batch rows per workgroup in y: B = ${s.B} needs more than maxComputeWorkgroupsPerDimension = ${max}` };
  }
  if (c.rnnForwardStep === 'subgroup4' && !device.features.has('subgroups')) {
    return { argument: 'rnnForwardStep', reason: "'subgroup4' needs the adapter's 'subgroups' feature, which this device does not have" };
  }
  if (c.rnnForwardStep === 'subgroup4' && Math.ceil((s.B * s.h) / 16) > max) {
    return { argument: 'rnnForwardStep', reason: `'subgroup4' runs 16 of the B*h = ${s.B * s.h} outputs per workgroup over x: more than maxComputeWorkgroupsPerDimension = ${max}` };
  }
  if (c.rnnBackwardStep === 'splitk' && Math.ceil((s.B * s.h) / 64) > max) {
    return { argument: 'rnnBackwardStep', reason: `'splitk' reduces B*h = ${s.B * s.h} elements in workgroups of 64 over x: more than maxComputeWorkgroupsPerDimension = ${max}` };
  }
  return null;
}

/** The choice as given, refused (naming `${argument}.<kernel>`) where it cannot run. */
export function assertRnnFits(device: GPUDevice, s: Pick<ChapterShape, 'B' | 'h' | 'window'>, choice: KernelChoice, argument: string): void {
  const bad = unfitRnnReason(device, s, choice);
  if (bad) throw new BpttInputError(`${argument}.${bad.argument}`, `a variant this device can run for this shape (${bad.reason})`, JSON.stringify(choice[bad.argument]));
}

type StepBuffers = { params: GPUBuffer; P: GPUBuffer; H: GPUBuffer; WhhT: GPUBuffer | null; stepScratch: GPUBuffer | null };

/** H_t = phi(P_t + H_{t-1} Whh^T) for t = 1..T, with the forward variant of s. */
function recordRnnForwardSteps(rec: Recorder, s: ChapterShape, b: StepBuffers): void {
  const { T, B, h } = s;
  const L = { Whh: s.layout.layers[0].Wh };
  const bh = B * h;
  const v = rnnChoiceOf(s).rnnForwardStep;
  const act = { ACTIVATION: ACTIVATION_CODE[s.activation] };
  if (v === 'coalesced' || v === 'splitk') {
    rec.dispatch(kernel('transpose'), {}, { src: b.params, dst: b.WhhT! }, { rows: h, cols: h, offSrc: L.Whh, offDst: 0 }, elementwise(h * h));
  }
  for (let t = 1; t <= T; t++) {
    const offPrev = (t - 1) * bh;
    const offCur = t * bh;
    const offP = (t - 1) * bh;
    if (v === 'direct') {
      rec.dispatch(kernel('rnn_forward_step'), act, { P: b.P, W: b.params, H: b.H }, { B, h, offPrev, offCur, offP, offWhh: L.Whh }, [Math.ceil(h / TILE), Math.ceil(B / TILE)]);
    } else if (v === 'small') {
      rec.dispatch(kernel('rnn_forward_small'), { ...act, TRANSPOSED: false, WG_X: SMALL, WG_Y: SMALL }, { P: b.P, W: b.params, H: b.H }, { B, h, offPrev, offCur, offP, offW: L.Whh }, [Math.ceil(h / SMALL), Math.ceil(B / SMALL)]);
    } else if (v === 'subgroup4') {
      rec.dispatch(kernel('rnn_forward_subgroup'), act, { P: b.P, W: b.params, H: b.H }, { B, h, offPrev, offCur, offP, offWhh: L.Whh }, [Math.ceil(bh / 16)]);
    } else if (v === 'coalesced') {
      rec.dispatch(kernel('rnn_forward_small'), { ...act, TRANSPOSED: true, WG_X: 64, WG_Y: 1 }, { P: b.P, W: b.WhhT!, H: b.H }, { B, h, offPrev, offCur, offP, offW: 0 }, [Math.ceil(h / 64), B]);
    } else {
      const splits = rnnSplits(h);
      rec.dispatch(kernel('rnn_step_split'), {}, { X: b.H, M: b.WhhT!, parts: b.stepScratch! }, { B, h, offX: offPrev, offM: 0, kPerSplit: Math.ceil(h / splits) }, [Math.ceil(h / 64), B, splits]);
      rec.dispatch(kernel('rnn_forward_reduce'), act, { P: b.P, parts: b.stepScratch!, H: b.H }, { n: bh, splits, offP, offCur }, elementwise(bh));
    }
  }
}

/** The params of one step of rnn_backward_step.wgsl (the reverse sweep and dh_0). */
export type BackwardStepParams = {
  offNext: number;
  offOut: number;
  offG: number;
  offH: number;
  xi: number;
  useCarry: number;
  useG: number;
  applyAct: number;
  normBase: number;
}

type BackwardBuffers = { params: GPUBuffer; G: GPUBuffer; H: GPUBuffer; dhT: GPUBuffer; dA: GPUBuffer; stepPartials: GPUBuffer; stepScratch: GPUBuffer | null };

/** One step of the reverse sweep (full, chunked, randomized; and dh_0) with the backward variant of s. */
function recordRnnBackwardStep(rec: Recorder, s: ChapterShape, b: BackwardBuffers, p: BackwardStepParams): void {
  const { B, h } = s;
  const L = { Whh: s.layout.layers[0].Wh };
  const v = rnnChoiceOf(s).rnnBackwardStep;
  const act = { ACTIVATION: ACTIVATION_CODE[s.activation] };
  const resources = { G: b.G, H: b.H, W: b.params, dhT: b.dhT, dA: b.dA, normPartials: b.stepPartials };
  if (v === 'direct') {
    rec.dispatch(kernel('rnn_backward_step'), act, resources, { B, h, ...p, offWhh: L.Whh }, [Math.ceil(h / TILE), Math.ceil(B / TILE)]);
  } else if (v === 'small') {
    rec.dispatch(kernel('rnn_backward_small'), act, resources, { B, h, ...p, offWhh: L.Whh }, [Math.ceil(h / SMALL), Math.ceil(B / SMALL)]);
  } else {
    const splits = rnnSplits(h);
    const bh = B * h;
    // No carry (t = T, or xi_{t+1} = 0): the partial sums are not read, so not computed.
    if (p.useCarry !== 0 && p.xi !== 0) {
      rec.dispatch(kernel('rnn_step_split'), {}, { X: b.dA, M: b.params, parts: b.stepScratch! }, { B, h, offX: p.offNext, offM: L.Whh, kPerSplit: Math.ceil(h / splits) }, [Math.ceil(h / 64), B, splits]);
    }
    rec.dispatch(
      kernel('rnn_backward_reduce'),
      act,
      { G: b.G, H: b.H, parts: b.stepScratch!, dhT: b.dhT, dA: b.dA, normPartials: b.stepPartials },
      { n: bh, splits, offOut: p.offOut, offG: p.offG, offH: p.offH, xi: p.xi, useCarry: p.useCarry, useG: p.useG, applyAct: p.applyAct, normBase: p.normBase },
      [Math.ceil(bh / 64)],
    );
  }
}

/** The params of one step of window_backward_step.wgsl. */
export type WindowStepParams = {
  tau: number;
  first: number;
  offOld: number;
  offNew: number;
  offG: number;
  offH: number;
  offOut: number;
  normBase: number;
}

/** One step of the window(tau) reverse sweep with the window variant of s. */
function recordWindowStep(rec: Recorder, s: ChapterShape, b: BackwardBuffers & { slots: GPUBuffer | null }, p: WindowStepParams): void {
  const { B, h } = s;
  const L = { Whh: s.layout.layers[0].Wh };
  const small = rnnChoiceOf(s).windowStep === 'small';
  rec.dispatch(
    kernel(small ? 'window_backward_small' : 'window_backward_step'),
    { ACTIVATION: ACTIVATION_CODE[s.activation] },
    { G: b.G, H: b.H, W: b.params, dhT: b.dhT, slots: b.slots!, dA: b.dA, normPartials: b.stepPartials },
    { B, h, ...p, offWhh: L.Whh },
    small ? [Math.ceil(h / SMALL), Math.ceil(B / SMALL)] : [Math.ceil(h / TILE), Math.ceil(B / TILE)],
  );
}

/** The params of finalize.wgsl. */
export type FinalizeParams = {
  R: number;
  hasLoss: number;
  lossScale: number;
  n: number;
  clipNorm: number;
  T: number;
  stepParts: number;
  countStep: number;
}

/**
 * finalize with the variant of s: one workgroup, or finalize_parts over many and finalize over their partials.
 * Shared by every walk (sequence-encode.ts, sequence-forward.ts).
 */
export function recordFinalize(
  rec: Recorder,
  s: { choice?: KernelChoice; T: number; B: number; layout: { total: number } },
  b: { rowLoss: GPUBuffer; grad: GPUBuffer; stepPartials: GPUBuffer; stats: GPUBuffer; finalParts: GPUBuffer | null },
  p: FinalizeParams,
): void {
  if (rnnChoiceOf(s).finalize === 'single') {
    rec.dispatch(kernel('finalize'), {}, { rowLoss: b.rowLoss, grad: b.grad, stepPartials: b.stepPartials, stats: b.stats }, p, [1]);
    return;
  }
  const parts = finalizeParts(s);
  rec.dispatch(kernel('finalize_parts'), {}, { rowLoss: b.rowLoss, grad: b.grad, out: b.finalParts! }, { R: p.R, hasLoss: p.hasLoss, n: p.n, parts }, [parts]);
  rec.dispatch(kernel('finalize'), { PARTS: parts }, { rowLoss: b.finalParts!, grad: b.finalParts!, stepPartials: b.stepPartials, stats: b.stats }, { ...p, R: 0, n: 0 }, [1]);
}

/** Workgroups of one forward and one backward step dispatch (the larger of a split variant's two), for the tests and the README. */
export function stepWorkgroups(s: Pick<ChapterShape, 'B' | 'h' | 'window' | 'choice'>): { forward: number; backward: number } {
  const c = rnnChoiceOf(s);
  const { B, h } = s;
  const tiles = Math.ceil(h / TILE) * Math.ceil(B / TILE);
  const small = Math.ceil(h / SMALL) * Math.ceil(B / SMALL);
  const split = Math.ceil(h / 64) * B * rnnSplits(h);
  const forward = { direct: tiles, small, coalesced: Math.ceil(h / 64) * B, splitk: split, subgroup4: Math.ceil((B * h) / 16) }[c.rnnForwardStep];
  const backward = s.window > 0 ? (c.windowStep === 'small' ? small : tiles) : { direct: tiles, small, splitk: split }[c.rnnBackwardStep];
  return { forward, backward };
}

/**
 * The chapter's forward in the walk: h0 (state0's first block) into slot 0 of H = Y, then
 * H_t = phi(P_t + H_{t-1} Whh^T) for t = 1..T with the forward variant chosen. P (= Gx) is
 * the input projection the walk recorded before.
 */
export function recordChapterForward(rec: Recorder, s: ChapterShape, b: Pick<ChapterBuffers, 'params' | 'Gx' | 'Y' | 'WhhT' | 'stepScratch'> & { state0: GPUBuffer }): void {
  rec.copy(b.state0, 0, b.Y, 0, s.B * s.h * 4);
  recordRnnForwardSteps(rec, s, { params: b.params, P: b.Gx, H: b.Y, WhhT: b.WhhT, stepScratch: b.stepScratch });
}

/**
 * The chapter's reverse sweep in the walk: dA_t for t = T..1 (full, chunked, randomized: the carry
 * scaled by xi_{t+1}; window(tau): tau slots per step), then dh_0 = xi_1 dA_1 Whh (window: xi = 1)
 * into slot 0 of dA = dG. G (= dY) holds dO Wqh, which the walk recorded before.
 */
export function recordChapterSweep(rec: Recorder, s: ChapterShape, b: ChapterBuffers, perStepNorms: boolean): void {
  const { T, B, h } = s;
  const bh = B * h;
  const view = { params: b.params, G: b.dY, H: b.Y, dhT: b.dhT!, dA: b.dG, stepPartials: b.stepPartials, stepScratch: b.stepScratch, slots: b.slots };
  const normBase = (t: number) => (perStepNorms ? (t - 1) * s.stepParts : NO_NORM);
  for (let t = T; t >= 1; t--) {
    if (s.window > 0) {
      const tau = s.window;
      const parity = (T - t) % 2;
      recordWindowStep(rec, s, view, { tau, first: t === T ? 1 : 0, offOld: (1 - parity) * tau * bh, offNew: parity * tau * bh, offG: (t - 1) * bh, offH: t * bh, offOut: t * bh, normBase: normBase(t) });
    } else {
      recordRnnBackwardStep(rec, s, view, {
        offNext: t === T ? 0 : (t + 1) * bh,
        offOut: t * bh,
        offG: (t - 1) * bh,
        offH: t * bh,
        xi: t === T ? 1 : s.xi[t], // xi_{t+1}
        useCarry: t === T ? 0 : 1,
        useG: 1,
        applyAct: 1,
        normBase: normBase(t),
      });
    }
  }
  // (window: every slot reaches h_0, xi = 1)
  recordRnnBackwardStep(rec, s, view, { offNext: bh, offOut: 0, offG: 0, offH: 0, xi: s.window > 0 ? 1 : s.xi[0], useCarry: 1, useG: 0, applyAct: 0, normBase: NO_NORM });
}

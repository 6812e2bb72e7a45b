// The kernel variants of a vanilla RnnModel call (encode.ts): which WGSL file,
// override constants and grid each choice means, the extra buffers and
// dispatches it needs, where it applies on a device, the shape class the
// tuner keys its choices by, and the recording of the step kernels and of
// finalize for every variant (the defaults included, so that encode.ts calls
// one function per step). The choice rides on the GpuShape (s.choice);
// absent, everything is recorded as before.
import { BpttInputError } from '../errors.js';
import { type KernelChoice, DEFAULT_CHOICE, DEFAULT_RNN_CHOICE } from '../tuning-types.js';
import type { Recorder } from './context.js';
import { type GpuBuffers, type GpuShape, ACTIVATION_CODE, elementwise } from './encode.js';
import { kernel } from './kernels.js';

const TILE = 32; // the tiles of the default step kernels
const SMALL = 8; // the 8x8 tiles of the 'small' variants

export type RnnChoice = KernelChoice & typeof DEFAULT_RNN_CHOICE;

/** The choice of s with every vanilla kernel named (the defaults where s has none). */
export function rnnChoiceOf(s: Pick<GpuShape, 'choice'>): RnnChoice {
  return { ...DEFAULT_CHOICE, ...DEFAULT_RNN_CHOICE, ...s.choice } as RnnChoice;
}

/**
 * The class a tuned choice of an RnnModel is kept for: the activation, B and h
 * rounded up to powers of two, and whether the reverse sweep is window(tau)
 * (its own kernel). Distinct from the SequenceModel classes (shapeClass in variants.ts).
 */
export function vanillaClass(s: Pick<GpuShape, 'activation' | 'B' | 'h' | 'window'>): string {
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

/** Norm partials per step of the reverse-sweep variant: one per workgroup of the kernel that writes them. */
function stepPartsOf(s: GpuShape, c: RnnChoice): number {
  const small = Math.ceil(s.h / SMALL) * Math.ceil(s.B / SMALL);
  if (s.window > 0) return c.windowStep === 'small' ? small : Math.ceil(s.h / TILE) * Math.ceil(s.B / TILE);
  if (c.rnnBackwardStep === 'small') return small;
  if (c.rnnBackwardStep === 'splitk') return Math.ceil((s.B * s.h) / 64);
  return Math.ceil(s.h / TILE) * Math.ceil(s.B / TILE);
}

/** s with `choice` on it, and the norm partials that choice's reverse sweep writes. */
export function withRnnChoice(s: GpuShape, choice: KernelChoice): GpuShape {
  return { ...s, choice, stepParts: stepPartsOf(s, rnnChoiceOf({ choice })) };
}

/** Whether the reverse sweep of s runs a split-K step: every step, or under window(tau) (which has none) dh_0's. */
function backwardSplit(c: RnnChoice): boolean {
  return c.rnnBackwardStep === 'splitk';
}

/** Elements of the buffers the variants add (0: not needed): WhhT, the split-K partial sums, the finalize partials. */
export function rnnExtraSizes(s: GpuShape): { WhhT: number; stepScratch: number; finalParts: number } {
  const c = rnnChoiceOf(s);
  const transposed = c.rnnForwardStep === 'coalesced' || c.rnnForwardStep === 'splitk';
  const split = c.rnnForwardStep === 'splitk' || backwardSplit(c);
  return {
    WhhT: transposed ? s.h * s.h : 0,
    stepScratch: split ? rnnSplits(s.h) * s.B * s.h : 0,
    finalParts: c.finalize === 'multi' ? 3 * finalizeParts(s) : 0,
  };
}

/** Dispatches the variants add to the defaults' (at most): reduce passes, the transpose, finalize's first pass. */
export function rnnExtraDispatches(s: GpuShape): number {
  const c = rnnChoiceOf(s);
  let n = 0;
  if (c.rnnForwardStep === 'coalesced' || c.rnnForwardStep === 'splitk') n += 1; // the transpose
  if (c.rnnForwardStep === 'splitk') n += s.T;
  if (backwardSplit(c)) n += s.T + 1; // every step and dh_0
  if (c.finalize === 'multi') n += 1;
  return n;
}

/** Why `choice` cannot run this shape on this device (the kernel in the choice and the reason), or null when it can. */
export function unfitRnnReason(device: GPUDevice, s: Pick<GpuShape, 'B' | 'h' | 'window'>, choice: KernelChoice): { argument: keyof KernelChoice; reason: string } | null {
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
export function assertRnnFits(device: GPUDevice, s: Pick<GpuShape, 'B' | 'h' | 'window'>, choice: KernelChoice, argument: string): void {
  const bad = unfitRnnReason(device, s, choice);
  if (bad) throw new BpttInputError(`${argument}.${bad.argument}`, `a variant this device can run for this shape (${bad.reason})`, JSON.stringify(choice[bad.argument]));
}

/** The matmul variant of s on the recorder (its WG and the padding of its staged tiles). */
export function applyMatmulChoice(rec: Recorder, s: Pick<GpuShape, 'choice'>): void {
  if (!s.choice) return;
  const m = s.choice.matmul;
  rec.matmulWG = m === 'tile16' ? 4 : m === 'tile64' ? 16 : 8;
  rec.matmulPad = m === 'tile32pad' ? 1 : 0;
}

type StepBuffers = Pick<GpuBuffers, 'params' | 'P' | 'H' | 'WhhT' | 'stepScratch'>;

/** H_t = phi(P_t + H_{t-1} Whh^T) for t = 1..T, with the forward variant of s. */
export function recordRnnForwardSteps(rec: Recorder, s: GpuShape, b: StepBuffers): void {
  const { T, B, h, layout: L } = s;
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

/** The params of one step of rnn_backward_step.wgsl (encode.ts's reverse sweep and dh_0). */
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

type BackwardBuffers = Pick<GpuBuffers, 'params' | 'G' | 'H' | 'dhT' | 'dA' | 'stepPartials' | 'stepScratch'>;

/** One step of the reverse sweep (full, chunked, randomized; and dh_0) with the backward variant of s. */
export function recordRnnBackwardStep(rec: Recorder, s: GpuShape, b: BackwardBuffers, p: BackwardStepParams): void {
  const { B, h, layout: L } = s;
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
export function recordWindowStep(rec: Recorder, s: GpuShape, b: Pick<GpuBuffers, 'params' | 'G' | 'H' | 'dhT' | 'slots' | 'dA' | 'stepPartials'>, p: WindowStepParams): void {
  const { B, h, layout: L } = s;
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
 * Shared by the vanilla path (a GpuShape) and the SequenceModel path (a SeqShape: sequence-encode.ts).
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
export function stepWorkgroups(s: GpuShape): { forward: number; backward: number } {
  const c = rnnChoiceOf(s);
  const { B, h } = s;
  const tiles = Math.ceil(h / TILE) * Math.ceil(B / TILE);
  const small = Math.ceil(h / SMALL) * Math.ceil(B / SMALL);
  const split = Math.ceil(h / 64) * B * rnnSplits(h);
  const forward = { direct: tiles, small, coalesced: Math.ceil(h / 64) * B, splitk: split, subgroup4: Math.ceil((B * h) / 16) }[c.rnnForwardStep];
  const backward = s.window > 0 ? (c.windowStep === 'small' ? small : tiles) : { direct: tiles, small, splitk: split }[c.rnnBackwardStep];
  return { forward, backward };
}

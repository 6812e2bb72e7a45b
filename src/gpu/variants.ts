// The kernel variants of a SequenceModel call: which WGSL file and override
// constants each choice means, where it applies on a device, the shape class
// the tuner keys its choices by, and the recording of the forward steps for
// the variants that differ from the layer-by-layer step loop (lanes,
// subgroup, persistent, wavefront). The choice rides on the SeqShape (s.choice); absent,
// everything is recorded as before.
import { BpttInputError } from '../errors.js';
import { type KernelChoice, DEFAULT_CHOICE } from '../tuning-types.js';
import type { Recorder } from './context.js';
import { ACTIVATION_CODE, kernel } from './kernels.js';
import { RECIPES } from '../sequence-model.js';
import type { KernelInfo } from './reflect.js';
import { type SeqBuffers, type SeqShape, seqOffsets, stepPartsOf, strideK } from './sequence-encode.js';
import { persistentOutputsPerPartial, sweepMode, sweepUnfitReason } from './sweep-variants.js';

const STEP_WG = 64;
const PERSISTENT_LANES = 4;

export function choiceOf(s: SeqShape): KernelChoice {
  return s.choice ?? DEFAULT_CHOICE;
}

/**
 * The class a tuned choice is kept for: the cell, activation, layers,
 * directions, and B and h rounded up to powers of two (the step kernels' work
 * grows with B*h; T only repeats it).
 */
export function shapeClass(s: Pick<SeqShape, 'cell' | 'activation' | 'L' | 'dirs' | 'B' | 'h'>): string {
  const p2 = (n: number) => 2 ** Math.ceil(Math.log2(Math.max(1, n)));
  return `${s.cell}${s.cell === 'rnn' ? `-${s.activation}` : ''} L${s.L} dirs${s.dirs} B${p2(s.B)} h${p2(s.h)}`;
}

/** Invocations per workgroup of the persistent variants: 256 where the device allows, else 64. */
export function persistentWG(device: GPUDevice): number {
  return device.limits.maxComputeInvocationsPerWorkgroup >= 256 ? 256 : STEP_WG;
}

/** Workgroup memory of the persistent variant: the lane sums (2 vec4 per invocation) and h_prev [B, h]. */
export function persistentBytes(device: GPUDevice, s: Pick<SeqShape, 'B' | 'h'>): number {
  return 32 * persistentWG(device) + 4 * s.B * s.h;
}

/** Why `choice` cannot run this shape on this device, or null when it can. */
export function unfitReason(device: GPUDevice, s: SeqShape, choice: KernelChoice): { argument: keyof KernelChoice; reason: string } | null {
  if (choice.forwardStep === 'persistent') {
    const need = persistentBytes(device, s);
    const have = device.limits.maxComputeWorkgroupStorageSize;
    if (need > have) {
      return { argument: 'forwardStep', reason: `'persistent' needs ${need} bytes of workgroup memory at B=${s.B}, h=${s.h} (32*${persistentWG(device)} + 4*B*h); this device allows ${have}` };
    }
  }
  if (choice.forwardStep === 'subgroup4' && !device.features.has('subgroups')) {
    return { argument: 'forwardStep', reason: "'subgroup4' needs the adapter's 'subgroups' feature, which this device does not have" };
  }
  return sweepUnfitReason(device, s, choice);
}

/** The choice as given, refused (naming options.tuning.fixed.<kernel>) where it cannot run. */
export function assertFits(device: GPUDevice, s: SeqShape, choice: KernelChoice, argument: string): void {
  const bad = unfitReason(device, s, choice);
  if (bad) throw new BpttInputError(`${argument}.${bad.argument}`, `a variant this device can run for this shape (${bad.reason})`, JSON.stringify(choice[bad.argument]));
}

/** The wavefront applies to stacks of one direction (both directions of a layer need all of the layer below). */
export function wavefrontApplies(s: Pick<SeqShape, 'L' | 'dirs'>, choice: KernelChoice): boolean {
  return choice.wavefront && s.L > 1 && s.dirs === 1 && choice.forwardStep !== 'persistent' && choice.forwardStep !== 'splitk';
}

/**
 * Blocks of k of the 'splitk' forward step: enough that one step launches about 512
 * workgroups (ceil(B*h/64) * S), 2 to 8, and none shorter than 8 terms where h allows.
 * At the char shape (B = 32, h = 256): 128 workgroups of the one-pass step, so S = 4 and 512.
 */
export function forwardSplits(s: Pick<SeqShape, 'B' | 'h'>): number {
  const groups = Math.ceil((s.B * s.h) / STEP_WG);
  return Math.max(2, Math.min(8, Math.ceil(512 / groups), Math.ceil(s.h / 8)));
}

/** The tuner tries 'splitk' only where B*h is at most this (the char shape's): above it the one-pass step has units enough. */
export const SPLITK_MAX_BH = 32 * 256;

/** Workgroups over x of the 'tile4' step kernels: 64 invocations, each 4 rows b by 4 columns (units of rnn, or of the backward's dh). */
function tile4Groups(B: number, h: number, unitsPer: number): number {
  return Math.ceil((Math.ceil(B / 4) * Math.ceil(h / unitsPer)) / STEP_WG);
}

/**
 * Outputs (b, j) per workgroup of the backward step of the 'direct', lanes and persistent
 * variants and of the wavefront sweep (which runs 'tile4' as 'direct': one lane): their norm
 * partials per (k, t) are ceil(B*h / this).
 */
export function backwardOutputsPerGroup(s: SeqShape): number {
  if (s.window > 0) return STEP_WG; // window(tau): cell_window_backward_step
  const v = choiceOf(s).backwardStep;
  if (v === 'persistent') return persistentOutputsPerPartial(s);
  return v === 'lanes4' ? STEP_WG / 4 : v === 'lanes16' ? STEP_WG / 16 : STEP_WG;
}

/** Workgroups per direction of one backward step = its norm partials per (k, t). */
export function backwardStepGroups(s: SeqShape): number {
  if (s.window > 0) return windowStepKernel(s).groups;
  if (choiceOf(s).backwardStep === 'tile4' && !sweepMode(s)) return backwardStepKernel(s).groups;
  return Math.ceil((s.B * s.h) / backwardOutputsPerGroup(s));
}

/**
 * The window(tau) sweep's kernel: cell_window_backward_tile4 with the 'tile4' backward,
 * else cell_window_backward_step (the lanes and persistent variants have no window form).
 */
export function windowStepKernel(s: SeqShape): { info: KernelInfo; constants: Record<string, number>; groups: number } {
  const constants = { CELL: RECIPES[s.cell].code, ACTIVATION: ACTIVATION_CODE[s.activation] };
  if (choiceOf(s).backwardStep === 'tile4') return { info: kernel('cell_window_backward_tile4'), constants, groups: tile4Groups(s.B, s.h, 4) };
  return { info: kernel('cell_window_backward_step'), constants, groups: Math.ceil((s.B * s.h) / STEP_WG) };
}

/** s with `choice` on it, and the norm partials that choice's backward writes. */
export function withChoice(s: SeqShape, choice: KernelChoice): SeqShape {
  const out = { ...s, choice };
  return { ...out, stepParts: stepPartsOf(out) };
}

/** The 8x8 (tile32), 4x4 (tile16) or 16x16 (tile64) invocations of matmul.wgsl. */
export function matmulWG(choice: KernelChoice): number {
  return choice.matmul === 'tile16' ? 4 : choice.matmul === 'tile64' ? 16 : 8;
}

/** The backward step's kernel, constants and workgroups over x. */
export function backwardStepKernel(s: SeqShape): { info: KernelInfo; constants: Record<string, number>; groups: number } {
  const constants = { CELL: RECIPES[s.cell].code, ACTIVATION: ACTIVATION_CODE[s.activation] };
  const v = choiceOf(s).backwardStep;
  if (v === 'tile4') return { info: kernel('cell_backward_tile4'), constants, groups: tile4Groups(s.B, s.h, 4) };
  if (v === 'direct') return { info: kernel('cell_backward_step'), constants, groups: Math.ceil((s.B * s.h) / STEP_WG) };
  const lanes = v === 'lanes4' ? 4 : 16;
  return { info: kernel('cell_backward_lanes'), constants: { ...constants, LANES: lanes }, groups: Math.ceil((s.B * s.h) / (STEP_WG / lanes)) };
}

/** The forward step's lanes per output and invocations per workgroup. */
function forwardLanes(device: GPUDevice | null, v: KernelChoice['forwardStep']): { lanes: number; wg: number } {
  if (v === 'persistent') return { lanes: PERSISTENT_LANES, wg: device ? persistentWG(device) : 256 };
  return { lanes: v === 'lanes16' ? 16 : v === 'direct' || v === 'tile4' ? 1 : 4, wg: STEP_WG }; // the wavefront runs 'tile4' and 'direct' as one lane
}

/** Workgroups over x of one forward step dispatch (per direction, per layer of a wave). */
export function forwardStepGroups(s: SeqShape, device: GPUDevice | null = null): number {
  const v = choiceOf(s).forwardStep;
  if (v === 'persistent') return 1;
  if (v === 'splitk') return forwardStepKernel(s).groups * forwardSplits(s); // the first (product) dispatch; the reduce has 1/S of it
  if ((v === 'direct' || v === 'tile4') && !wavefrontApplies(s, choiceOf(s))) return forwardStepKernel(s).groups;
  const { lanes, wg } = forwardLanes(device, v);
  return Math.ceil((s.B * s.h) / (wg / lanes));
}

/**
 * The step kernel of the layer-by-layer forward ('tile4', 'direct' or 'splitk'), its constants
 * and workgroups over x; `splits` > 0: 'splitk', whose steps are two dispatches (grid z = splits,
 * then the reduce: sequence-encode.ts).
 */
export function forwardStepKernel(s: SeqShape): { info: KernelInfo; constants: Record<string, number>; groups: number; splits: number } {
  const constants = { CELL: RECIPES[s.cell].code, ACTIVATION: ACTIVATION_CODE[s.activation] };
  const v = choiceOf(s).forwardStep;
  if (v === 'splitk') return { info: kernel('cell_forward_splitk'), constants: { ...constants, SPLITS: forwardSplits(s) }, groups: Math.ceil((s.B * s.h) / STEP_WG), splits: forwardSplits(s) };
  if (v === 'tile4') return { info: kernel('cell_forward_tile4'), constants, groups: tile4Groups(s.B, s.h, s.cell === 'rnn' ? 4 : 1), splits: 0 };
  return { info: kernel('cell_forward_step'), constants, groups: Math.ceil((s.B * s.h) / STEP_WG), splits: 0 };
}

/** Whether the forward is recorded here rather than by the step loop of sequence-encode.ts (forwardStepKernel). */
export function forwardIsVariant(s: SeqShape): boolean {
  const c = choiceOf(s);
  return (c.forwardStep !== 'direct' && c.forwardStep !== 'tile4' && c.forwardStep !== 'splitk') || wavefrontApplies(s, c);
}

/** Forward dispatches the variant saves against L*T steps and K input projections. */
export function forwardDispatchesSaved(s: SeqShape): number {
  const c = choiceOf(s);
  if (c.forwardStep === 'persistent') return s.L * s.T - s.L;
  if (c.forwardStep === 'splitk') return -s.L * s.T; // a reduce dispatch after every step
  if (wavefrontApplies(s, c)) return s.L * s.T - (s.T + s.L - 1) + (s.K - s.dirs);
  return 0;
}

type ForwardBuffers = Pick<SeqBuffers, 'params' | 'x' | 'Gx' | 'Y' | 'saved' | 'state0' | 'lengths'>;

/**
 * The forward of the lanes, subgroup, persistent and wavefront variants.
 * `projection(l)` records layer l's input projections (Gx), as the default does.
 */
export function recordForwardVariant(rec: Recorder, s: SeqShape, b: ForwardBuffers, projection: (l: number) => void): void {
  const c = choiceOf(s);
  const o = seqOffsets(s);
  const { T, B, h, dirs, layout } = s;
  const device = rec.device;
  const fit = unfitReason(device, s, c);
  if (fit) throw new Error(`forward variant ${c.forwardStep} does not fit: ${fit.reason}`); // the tuner and assertFits keep this from happening
  const persistent = c.forwardStep === 'persistent';
  const subgroup = c.forwardStep === 'subgroup4';
  const { lanes, wg } = forwardLanes(device, c.forwardStep);
  const constants = {
    CELL: RECIPES[s.cell].code,
    ACTIVATION: ACTIVATION_CODE[s.activation],
    LANES: lanes,
    WG: wg,
    PERSISTENT: persistent,
    HS_CAP: persistent ? B * h : 1,
  };
  const info = kernel(subgroup ? 'cell_forward_subgroup' : 'cell_forward_lanes');
  const groups = forwardStepGroups(s, device);
  const layerParams = (l: number, inline: boolean) => {
    const k0 = l * dirs;
    const p = layout.layers[k0];
    return {
      B, h, T, dirs,
      hasBias: p.bh >= 0 ? 1 : 0, // (an RnnModel run as a sequence has bx only, and one layer: no inline gx)
      strideK: strideK(s, k0),
      offWh: p.Wh, offBh: Math.max(0, p.bh), offWx: p.Wx, offBx: Math.max(0, p.bx), // no biases: -1, never read
      inline0: inline ? 1 : 0,
      offGx: o.Gx(k0), offY: o.Y(l), offHs: o.Hs(k0), offC: o.C(k0), offS: o.S(k0), offH0: o.h0(k0), offC0: o.c0(k0),
    };
  };
  if (wavefrontApplies(s, c)) {
    // dirs = 1: k = l. Layer 0's input projection is one product (x is known up front); the
    // layers above compute theirs inline. Layers >= 1 all have nIn = h, so their parameters
    // are evenly strided.
    projection(0);
    const p1 = layout.layers[1];
    const strideL = s.L > 2 ? layout.layers[2].Wx - p1.Wx : 0;
    for (let w = 1; w <= T + s.L - 1; w++) {
      const l0 = Math.max(0, w - T); // lowest layer with a step in this wave
      const l1 = Math.min(s.L - 1, w - 1);
      const next = layout.layers[Math.min(l0 + 1, s.L - 1)];
      rec.dispatch(
        info,
        constants,
        { W: b.params, Gx: b.Gx, state0: b.state0, lengths: b.lengths, Y: b.Y, saved: b.saved },
        {
          ...layerParams(l0, l0 > 0),
          s: w - l0,
          sLast: w - l0,
          offWh1: next.Wh, offBh1: Math.max(0, next.bh), offWx1: next.Wx, offBx1: Math.max(0, next.bx),
          strideL,
          layerY: o.yBlock, layerHs: o.cBlock, layerC: o.cBlock, layerS: o.sBlock, layerH0: B * h,
        },
        [groups, 1, l1 - l0 + 1],
      );
    }
    return;
  }
  for (let l = 0; l < s.L; l++) {
    projection(l);
    const steps: Array<[number, number]> = persistent ? [[1, T]] : Array.from({ length: T }, (_, i) => [i + 1, i + 1]);
    for (const [first, last] of steps) {
      rec.dispatch(
        info,
        constants,
        { W: b.params, Gx: b.Gx, state0: b.state0, lengths: b.lengths, Y: b.Y, saved: b.saved },
        { ...layerParams(l, false), s: first, sLast: last, offWh1: 0, offBh1: 0, offWx1: 0, offBx1: 0, strideL: 0, layerY: 0, layerHs: 0, layerC: 0, layerS: 0, layerH0: 0 },
        [groups, dirs],
      );
    }
  }
}

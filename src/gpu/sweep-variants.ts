// The reverse-sweep variants of a SequenceModel call that record fewer
// dispatches than cell_backward_step's one per step per layer, both on
// kernels/cell_backward_sweep.wgsl (see its header):
// - a persistent sweep (backwardStep 'persistent'): each layer's whole sweep,
//   T steps and the dh0 tail, in ONE dispatch of one workgroup per direction;
//   the (L-1)*dirs products dY_{l-1} after each layer stay;
// - a wavefront over layers (backwardWavefront, unidirectional stacks of
//   L >= 2): wave w = 1..T+L holds layer l's step w - (L-1-l) for every layer
//   where that is in 1..T+1, so the sweep costs T + L dispatches (T + L - 1
//   waves of steps, plus the dh0 tail every layer's sweep has) instead of
//   L*(T+1). The gradient into layer l's output at t, sum_i dGx_{l+1,t}[b, i]
//   Wx_{l+1}[i, j], is a second dot product of length G*h inside the step
//   (the same multiply-adds as the L-1 products dY_{l-1} it replaces, which go:
//   no extra dispatch), reading the layer above's dGx from the wave before.
// window(tau) keeps cell_window_backward_step.wgsl whatever is chosen (its
// slots by age are another kernel), and a bidirectional stack's wavefront
// stays layer by layer (both directions of a layer need all of the layer
// above's dGx); neither is refused.
//
// Both modes read n_b and xi_t (several steps per dispatch: the per-step
// xi0/xi1 uniforms of cell_backward_step cannot carry them) from one small
// table, u32 [B + T], uploaded when the sweep is recorded (its own buffer, so
// the step kernels keep 8 storage bindings, WebGPU's default limit).
import { type KernelChoice } from '../tuning-types.js';
import type { Recorder } from './context.js';
import { upload } from './context.js';
import { ACTIVATION_CODE, kernel } from './kernels.js';
import { RECIPES } from '../sequence-model.js';
import { type SeqBuffers, type SeqShape, seqOffsets, strideK } from './sequence-encode.js';
import { choiceOf, persistentWG } from './variants.js'; // (variants.ts calls back into this file for fit and norm partials)

const STEP_WG = 64;

/**
 * Floats of workgroup memory held for n: n rounded up to a multiple of 256, so that
 * shapes close in size share one pipeline (the caps are override constants, and
 * SwiftShader takes about a second to compile one), at most 1 KiB more per array.
 */
const cap = (n: number) => Math.ceil(n / 256) * 256;

/** Workgroup memory of the persistent sweep (persistentWG invocations, as the persistent forward): the lanes' sums (vec2 per invocation), dGh [B, G*h] and the carry [B, h]. */
export function persistentBackwardBytes(device: GPUDevice, s: Pick<SeqShape, 'B' | 'h' | 'G'>): number {
  return 8 * persistentWG(device) + 4 * (cap(s.G * s.B * s.h) + cap(s.B * s.h));
}

/**
 * Lanes per output of the persistent sweep: as many as keep the workgroup
 * busy when B*h is below its size (powers of two, at most 16), else 1.
 */
export function persistentBackwardLanes(wg: number, s: Pick<SeqShape, 'B' | 'h'>): number {
  let lanes = 1;
  while (lanes < 16 && lanes * 2 * s.B * s.h <= wg) lanes *= 2;
  return lanes;
}

/** Which sweep variant records this call's reverse sweep (null: cell_backward_step/lanes, or window). */
export function sweepMode(s: SeqShape): 'persistent' | 'wavefront' | null {
  if (s.window > 0) return null;
  const c = choiceOf(s);
  if (c.backwardStep === 'persistent') return 'persistent';
  if (c.backwardWavefront && s.L > 1 && s.dirs === 1) return 'wavefront';
  return null;
}

/** Why the backward part of `choice` cannot run this shape on this device, or null when it can. */
export function sweepUnfitReason(device: GPUDevice, s: SeqShape, choice: KernelChoice): { argument: keyof KernelChoice; reason: string } | null {
  if (choice.backwardStep !== 'persistent' || s.window > 0) return null;
  const need = persistentBackwardBytes(device, s);
  const have = device.limits.maxComputeWorkgroupStorageSize;
  if (need > have) {
    const wg = persistentWG(device);
    return { argument: 'backwardStep', reason: `'persistent' needs ${need} bytes of workgroup memory at B=${s.B}, h=${s.h}, G=${s.G} (8*${wg} + 4*(G*B*h + B*h), each rounded up to 256 floats); this device allows ${have}` };
  }
  return null;
}

/** Outputs per norm partial of the persistent sweep: the whole step (one partial per (k, t)). */
export function persistentOutputsPerPartial(s: Pick<SeqShape, 'B' | 'h'>): number {
  return s.B * s.h;
}

/** Reverse-sweep dispatches the variant saves against L*(T+1) steps and (L-1)*dirs products dY_{l-1}. */
export function backwardDispatchesSaved(s: SeqShape): number {
  const mode = sweepMode(s);
  if (mode === 'persistent') return s.L * s.T;
  if (mode === 'wavefront') return s.L * (s.T + 1) - (s.T + s.L) + (s.L - 1);
  return 0;
}

/** Elements of the n_b and xi table (0 when no sweep variant runs). */
export function sweepTableSize(s: SeqShape): number {
  return sweepMode(s) ? s.B + s.T : 0;
}

/** The table's bytes: n_b (T each without lengths), then xi_1..xi_T as f32 bits. */
export function sweepTable(s: SeqShape): Uint32Array {
  const out = new Uint32Array(s.B + s.T);
  for (let b = 0; b < s.B; b++) out[b] = s.lengths ? s.lengths[b] : s.T;
  out.set(new Uint32Array(Float32Array.from(s.xi).buffer), s.B);
  return out;
}

type SweepBuffers = Pick<SeqBuffers, 'params' | 'Y' | 'saved' | 'dY' | 'sweep' | 'dG' | 'dState' | 'stepPartials'>;

/** The params every dispatch shares: sizes and the layer-direction 0 bases of every tensor. */
function commonParams(s: SeqShape, norms: boolean) {
  const o = seqOffsets(s);
  const { layers } = s.layout;
  const dirs = s.dirs;
  return {
    B: s.B, h: s.h, T: s.T, dirs, L: s.L,
    offWh0: layers[0].Wh,
    offWh1: s.L > 1 ? layers[dirs].Wh : 0,
    offWx1: s.L > 1 ? layers[dirs].Wx : 0,
    strideL: s.L > 2 ? layers[2 * dirs].Wx - layers[dirs].Wx : 0, // layers >= 1 all read dirs*h inputs: evenly strided
    offY: o.Y(0), offHs: o.Hs(0), offC: o.C(0), offS: o.S(0), offDY: o.dY(0),
    offDGx: o.dGx(0), offDGh: o.dGh(0), offDH: o.dH(0), offDC: o.dC(0),
    norms: norms ? 1 : 0,
    stepParts: s.stepParts,
  };
}

function bindings(b: SweepBuffers): Record<string, GPUBuffer> {
  return { W: b.params, Y: b.Y, saved: b.saved, dY: b.dY, table: b.sweep!, dG: b.dG, dState: b.dState, normPartials: b.stepPartials };
}

/** Uploads the n_b and xi table; the caller records the sweep right after, in the same submit. */
export function uploadSweepTable(rec: Recorder, s: SeqShape, b: Pick<SeqBuffers, 'sweep'>): void {
  upload(rec.device, b.sweep!, 0, sweepTable(s));
}

/** Layer l's whole reverse sweep (steps 1..T+1, both directions) in one dispatch. */
export function recordPersistentSweep(rec: Recorder, s: SeqShape, b: SweepBuffers, l: number, norms: boolean): void {
  const fit = sweepUnfitReason(rec.device, s, choiceOf(s));
  if (fit) throw new Error(`backward variant persistent does not fit: ${fit.reason}`); // the tuner and assertFits keep this from happening
  const wg = persistentWG(rec.device);
  const constants = {
    CELL: RECIPES[s.cell].code,
    ACTIVATION: ACTIVATION_CODE[s.activation],
    LANES: persistentBackwardLanes(wg, s),
    WG: wg,
    PERSISTENT: true,
    WS_CAP: cap(s.B * s.G * s.h),
    HC_CAP: cap(s.B * s.h),
  };
  const params = { ...commonParams(s, norms), s: 1, sLast: s.T + 1, layer: l, wave: 0, strideK: strideK(s, l * s.dirs) };
  rec.dispatch(kernel('cell_backward_sweep'), constants, bindings(b), params, [1, s.dirs, 1]);
}

/** Lanes of the wavefront's step: those of the backwardStep chosen ('direct': 1). */
function waveLanes(c: KernelChoice): number {
  return c.backwardStep === 'lanes4' ? 4 : c.backwardStep === 'lanes16' ? 16 : 1;
}

/** The whole reverse sweep of a unidirectional stack as T + L waves, top layer first in each. */
export function recordWavefrontSweep(rec: Recorder, s: SeqShape, b: SweepBuffers, norms: boolean): void {
  const { T, L } = s;
  const lanes = waveLanes(choiceOf(s));
  const constants = { CELL: RECIPES[s.cell].code, ACTIVATION: ACTIVATION_CODE[s.activation], LANES: lanes, WG: STEP_WG, PERSISTENT: false, WS_CAP: 1, HC_CAP: 1 };
  const groups = Math.ceil((s.B * s.h) / (STEP_WG / lanes));
  const common = commonParams(s, norms);
  for (let w = 1; w <= T + L; w++) {
    const lHi = Math.min(L - 1, L + T - w); // the highest layer whose step w - (L-1-l) is at most T+1
    const lLo = Math.max(0, L - w); // the lowest whose step is at least 1
    const step = w - (L - 1 - lHi);
    rec.dispatch(kernel('cell_backward_sweep'), constants, bindings(b), { ...common, s: step, sLast: step, layer: lHi, wave: 1, strideK: 0 }, [groups, 1, lHi - lLo + 1]);
  }
}

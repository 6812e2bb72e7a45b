// One call of seq_run (src/wasm/c/seq.c), the layer walk: lays the arena out
// for the call's shapes, copies the inputs in, fills the context block of
// enum SeqSlot, runs every thread, and gives access to what came out.
// engine.gradients, engine.forward and the trainer's step of a SequenceModel and
// of an RnnModel (one rnn layer and a head, on its own flat layout) all go through here.
import { zeroPaddedRows } from '../padding.js';
import type { Batch, OptimizerOptions } from '../types.js';
import type { SequenceProblem } from '../validate-sequence.js';
import type { SequenceLayout } from '../sequence-params.js';
import { chapterCaseOf, runsChapterKernels } from '../sequence-model.js';
import { truncationXi } from '../truncation.js';
import { SEQ_CONTEXT_BYTES, SEQ_FLOAT_SLOTS, SEQ_SLOTS, SEQ_SLOT_INDEX, type SeqSlotName } from './context.js';
import type { WasmPool } from './pool.js';

const CELL = { rnn: 0, gru: 1, lstm: 2 } as const;
const ACT = { identity: 0, tanh: 1, relu: 2 } as const;
const LOSS = { 'cross-entropy': 0, mse: 1, none: 2 } as const;

export interface Update {
  optimizer: OptimizerOptions; // validated
  step: number; // updates applied before this one
  m?: Float32Array; // Adam moments, updated in place
  v?: Float32Array;
}

/** Where the time of a call went (thread 0's clock; the parts of seq_run, src/wasm/c/seq.c). */
export interface PhaseTimes {
  transposes: number;
  inputProjection: number;
  forwardRecurrence: number;
  outputAndLoss: number;
  outputToHidden: number; // dY of the top layer and the head's gradients
  reverseSweep: number;
  weightGradients: number; // and the gradient to the layer below
  normClipUpdate: number;
}

/** Gradient elements per partial sum of squares: GBLK in src/wasm/c/seq.h. */
const GBLK = 1024;

export interface SeqCallResult {
  loss: number;
  gradNorm: number;
  clipScale: number; // 0 when not clipped
  nonFinite: boolean;
  xi: Float32Array | null;
  /** A copy of n floats at a slot's address (plus an element offset). */
  read(slot: SeqSlotName, n: number, offset?: number): Float32Array;
  /** ||dL/dh_t|| per layer-direction and step, [L*dirs, T]. */
  stepNorms(): Float32Array;
  phases: PhaseTimes;
}

/**
 * Runs one call on `params`, laid out as `layout` says (a SequenceModel's, src/sequence-params.ts, or an
 * RnnModel's, src/params.ts sequenceLayoutOfRnn), updated in place when `update` is given and the gradients are
 * finite. With `forward`, only the forward pass runs (engine.forward): Y, hT, cT, O when asked, and the loss when
 * p.loss is not 'none'. Where runsChapterKernels holds, the rnn recipe runs the chapter's own steps (seq_chapter.c).
 */
export function runSequenceCall(
  pool: WasmPool,
  p: SequenceProblem,
  params: Float32Array,
  layout: SequenceLayout,
  batch: Batch,
  update?: Update,
  forward?: { O: boolean },
): SeqCallResult {
  const { T, B, d, h, q, L, dirs, G, lengths } = p;
  const R = T * B;
  const K = L * dirs;
  const Gh = G * h;
  const w = dirs * h;
  const total = params.length;
  const lstm = p.cell === 'lstm';
  const gated = p.cell !== 'rnn';
  const xi = truncationXi(p.truncation, T);
  const tau = p.truncation.kind === 'window' ? Math.min(p.truncation.steps, T) : 0;
  const adam = update?.optimizer.kind === 'adam';
  const back = !forward;
  const state = 4 * K * B * h;
  const withO = p.hasHead && (p.loss !== 'none' || forward?.O === true);
  // the chapter's steps keep the state in one array H [T+1, B, h] (QP_HP), whose rows 1..T are the output Y
  const chapter = runsChapterKernels(chapterCaseOf(p, layout));

  // Arena: every array 16-byte aligned (f32x4), absent ones get no space.
  const sizes: [SeqSlotName, number][] = [
    ['QP_LAYOUT', 4 * (4 * K + 3)],
    ['QP_PARAMS', 4 * total],
    ['QP_GRADS', back ? 4 * total : 0],
    ['QP_M', adam ? 4 * total : 0],
    ['QP_V', adam ? 4 * total : 0],
    ['QP_X', 4 * (p.tokens ? R : R * d)],
    ['QP_LABELS', p.loss === 'cross-entropy' ? 4 * R : p.loss === 'mse' ? 4 * R * q : 0],
    ['QP_DOIN', back && p.hasHead && p.loss === 'none' ? 4 * R * q : 0],
    ['QP_H0', batch.h0 ? state : 0],
    ['QP_C0', batch.c0 ? state : 0],
    ['QP_DHT', back && batch.dhT ? state : 0],
    ['QP_DCT', back && batch.dcT ? state : 0],
    ['QP_XI', 4 * T],
    ['QP_LEN', lengths ? 4 * B : 0],
    ['QP_WXT', 4 * (dirs * d + (K - dirs) * w) * Gh],
    ['QP_WHT', 4 * K * h * Gh],
    ['QP_WT', p.hasHead ? 4 * w * q : 0],
    ['QP_GX', 4 * dirs * R * Gh],
    ['QP_YS', chapter ? 0 : 4 * L * R * w],
    ['QP_HP', chapter ? 4 * (T + 1) * B * h : 4 * K * R * h],
    ['QP_S', gated ? 4 * K * R * 4 * h : 0],
    ['QP_C', lstm ? 4 * K * R * h : 0],
    ['QP_GH', 4 * dirs * B * Gh],
    ['QP_HT', state],
    ['QP_CT', lstm ? state : 0],
    ['QP_O', withO ? 4 * R * q : 0],
    ['QP_DO', forward && p.loss !== 'none' ? 4 * R * q : 0],
    ['QP_DY1', back ? 4 * Math.max(tau, 1) * R * w : 0],
    ['QP_DY2', back && L > 1 ? 4 * Math.max(tau, 1) * R * w : 0],
    ['QP_DGX', back ? 4 * dirs * R * Gh : 0],
    ['QP_DGH', back && gated ? 4 * dirs * R * Gh : 0],
    ['QP_DGXS', back && tau > 0 && L > 1 ? 4 * tau * R * Gh : 0],
    ['QP_CH', back ? 4 * dirs * B * h : 0],
    ['QP_CC', back && lstm ? 4 * dirs * B * h : 0],
    ['QP_DIRH', back ? 4 * Math.max(tau, dirs) * B * h : 0],
    ['QP_DIRC', back ? 4 * Math.max(tau, dirs) * B * h : 0],
    ['QP_CP', back ? 4 * dirs * B * h : 0],
    ['QP_SL1', back ? 4 * tau * B * h : 0],
    ['QP_SL2', back ? 4 * tau * B * h : 0],
    ['QP_SLC1', back && lstm ? 4 * tau * B * h : 0],
    ['QP_SLC2', back && lstm ? 4 * tau * B * h : 0],
    ['QP_GHS', back ? 4 * tau * B * Gh : 0],
    ['QP_DH0', back ? state : 0],
    ['QP_DC0', back && lstm ? state : 0],
    ['QP_DX', back && p.inputGradient ? 4 * R * d : 0],
    ['QP_DWXT', back && p.tokens ? 4 * d * Gh : 0],
    ['QP_ROWLOSS', 8 * R],
    ['QP_GSQ', back ? 8 * Math.ceil(total / GBLK) : 0],
    ['QP_NSQ', back ? 8 * K * T * B * Math.ceil(h / 8) : 0],
    ['QP_PART', 8 * (2 + K * T)],
    ['QP_CLIP', p.clipNorm !== undefined ? 8 : 0],
    ['QP_OUT', 8 * (4 + K * T)],
    ['QP_PROF', 8 * 9],
    ['QP_BARRIER', 12],
  ];
  const at = {} as Record<SeqSlotName, number>;
  let end = pool.context + SEQ_CONTEXT_BYTES;
  for (const [slot, bytes] of sizes) {
    end = Math.ceil(end / 16) * 16;
    at[slot] = bytes > 0 ? end : 0;
    end += bytes;
  }
  if (chapter) at.QP_YS = at.QP_HP + 4 * B * h;
  if (back && !gated) at.QP_DGH = at.QP_DGX; // an rnn cell's dGh is its dGx: the sweeps write it once
  pool.ensure(end);

  const buffer = pool.memory.buffer;
  const f32 = (slot: SeqSlotName, n: number) => new Float32Array(buffer, at[slot], n);
  const ctx = new Int32Array(buffer, pool.context, SEQ_SLOTS.length);
  const ctxF = new Float32Array(buffer, pool.context, SEQ_SLOTS.length);
  const put = (slot: SeqSlotName, value: number) => (SEQ_FLOAT_SLOTS.has(slot) ? (ctxF[SEQ_SLOT_INDEX[slot]] = value) : (ctx[SEQ_SLOT_INDEX[slot]] = value));
  const maskPadding = (a: Float32Array, width: number) => zeroPaddedRows(a, lengths, T, B, width);

  const table = new Int32Array(buffer, at.QP_LAYOUT, 4 * K + 3);
  layout.layers.forEach((s, k) => table.set([s.Wx, s.Wh, s.bx, s.bh], 4 * k));
  table.set([layout.head?.W ?? -1, layout.head?.b ?? -1, total], 4 * K);
  f32('QP_PARAMS', total).set(params);
  if (p.tokens) new Int32Array(buffer, at.QP_X, R).set(batch.x as Int32Array);
  else {
    // padded rows of x are zeroed: dWx = dGx^T X is a product over every row, and 0 * NaN is NaN
    const x = f32('QP_X', R * d);
    x.set(batch.x as Float32Array);
    maskPadding(x, d);
  }
  if (p.loss === 'cross-entropy') new Int32Array(buffer, at.QP_LABELS, R).set(batch.y as Int32Array);
  else if (p.loss === 'mse') f32('QP_LABELS', R * q).set(batch.y as Float32Array);
  else if (back && p.hasHead) maskPadding(set(f32('QP_DOIN', R * q), batch.dO!), q);
  else if (back) maskPadding(set(f32('QP_DY1', R * w), batch.dY!), w);
  if (lengths) new Int32Array(buffer, at.QP_LEN, B).set(lengths);
  if (batch.h0) f32('QP_H0', K * B * h).set(batch.h0);
  if (batch.c0) f32('QP_C0', K * B * h).set(batch.c0);
  if (back && batch.dhT) f32('QP_DHT', K * B * h).set(batch.dhT);
  if (back && batch.dcT) f32('QP_DCT', K * B * h).set(batch.dcT);
  f32('QP_XI', T).set(xi ?? new Float32Array(T));
  new Int32Array(buffer, at.QP_BARRIER, 3).fill(0);

  for (const slot of SEQ_SLOTS) if (slot.startsWith('QP_')) put(slot, at[slot]);
  put('Q_T', T);
  put('Q_B', B);
  put('Q_D', d);
  put('Q_H', h);
  put('Q_Q', q);
  put('Q_L', L);
  put('Q_DIRS', dirs);
  put('Q_CELL', CELL[p.cell]);
  put('Q_ACT', ACT[p.activation]);
  put('Q_TOKENS', p.tokens ? 1 : 0);
  put('Q_HEAD', p.hasHead ? 1 : 0);
  put('Q_CHAPTER', chapter ? 1 : 0);
  put('Q_LOSS', LOSS[p.loss]);
  put('Q_WINDOW', tau);
  put('Q_DX', back && p.inputGradient ? 1 : 0);
  put('Q_FORWARD', forward ? 1 : 0);
  put('Q_FORWARD_O', forward?.O ? 1 : 0);
  put('Q_N', lengths ? lengths.reduce((n, v) => n + v, 0) : R);
  if (p.clipNorm !== undefined) new Float64Array(buffer, at.QP_CLIP, 1)[0] = p.clipNorm;
  put('Q_OPT', update ? (adam ? 2 : 1) : 0);
  if (update) {
    const o = update.optimizer;
    put('Q_LR', o.learningRate);
    if (o.kind === 'adam') {
      const k = update.step + 1;
      put('Q_B1', o.beta1!);
      put('Q_B2', o.beta2!);
      put('Q_EPS', o.epsilon!);
      put('Q_C1', 1 - Math.pow(o.beta1!, k));
      put('Q_C2', 1 - Math.pow(o.beta2!, k));
      put('Q_OMB1', 1 - o.beta1!);
      put('Q_OMB2', 1 - o.beta2!);
      f32('QP_M', total).set(update.m!);
      f32('QP_V', total).set(update.v!);
    }
  }

  pool.run();

  const out = new Float64Array(buffer, at.QP_OUT, 4 + K * T);
  const pr = new Float64Array(buffer, at.QP_PROF, 9);
  const phases: PhaseTimes = {
    transposes: pr[0],
    inputProjection: pr[1],
    forwardRecurrence: pr[2],
    outputAndLoss: pr[3],
    outputToHidden: pr[4],
    reverseSweep: pr[5],
    weightGradients: pr[6],
    normClipUpdate: pr[7],
  };
  const result: SeqCallResult = {
    loss: p.loss === 'none' ? NaN : out[0],
    gradNorm: out[1],
    clipScale: out[2],
    nonFinite: back && out[3] !== 0,
    xi,
    read: (slot, n, offset = 0) => new Float32Array(buffer, at[slot] + 4 * offset, n).slice(),
    stepNorms: () => Float32Array.from(out.subarray(4, 4 + K * T)),
    phases,
  };
  pool.lastPhases = phases;
  pool.lastSteps = chapter ? 'chapter' : 'cells';
  if (update && !result.nonFinite) {
    params.set(f32('QP_PARAMS', total));
    if (adam) {
      update.m!.set(f32('QP_M', total));
      update.v!.set(f32('QP_V', total));
    }
  }
  return result;
}

function set(dst: Float32Array, src: Float32Array): Float32Array {
  dst.set(src);
  return dst;
}

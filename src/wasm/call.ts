// One call of bptt_run: lays the arena out for the call's shapes, copies the
// inputs in, fills the context block, runs every thread, and gives access to
// what came out. engine.gradients and trainer.step both go through here.
import { zeroPaddedRows } from '../padding.js';
import type { Activation, Batch, OptimizerOptions } from '../types.js';
import type { Problem } from '../validate.js';
import { truncationXi } from '../truncation.js';
import { paramLayout } from '../params.js';
import { CONTEXT_BYTES, FLOAT_SLOTS, SLOTS, SLOT_INDEX, type SlotName } from './context.js';
import type { WasmPool } from './pool.js';

const ACT = { identity: 0, tanh: 1, relu: 2 } as const;
const LOSS = { 'cross-entropy': 0, mse: 1, none: 2 } as const;

export interface Update {
  optimizer: OptimizerOptions; // validated
  step: number; // updates applied before this one
  m?: Float32Array; // Adam moments, updated in place
  v?: Float32Array;
}

export interface CallResult {
  loss: number;
  gradNorm: number;
  clipScale: number; // 0 when not clipped
  nonFinite: boolean;
  xi: Float32Array | null;
  /** A copy of n floats at a slot's address (plus an element offset). */
  read(slot: SlotName, n: number, offset?: number): Float32Array;
  /** The per-step norms ||dH_t||, t = 1..T. */
  stepNorms(): Float32Array;
  /** Milliseconds in each phase of bptt_run (src/wasm/c/rnn.c), on thread 0. */
  phases: PhaseTimes;
}

/** Where the time of a call went: the large products over all T*B rows, the two recurrences, the rest. */
export interface PhaseTimes {
  transposes: number; // phase 1
  inputProjection: number; // 2
  forwardRecurrence: number; // 3
  outputAndLoss: number; // 4
  outputToHidden: number; // 5
  reverseSweep: number; // 6
  weightGradients: number; // 7
  normClipUpdate: number; // 8, to the end
}

/**
 * Runs one call; `params` is the flat parameter vector (src/params.ts), updated in place when `update` is given.
 * With `forward`, only the forward pass runs (engine.forward): H, O when asked, and the loss when the batch has y.
 */
export function runCall(
  pool: WasmPool,
  problem: Problem,
  activation: Activation,
  params: Float32Array,
  batch: Batch,
  update?: Update,
  forward?: { O: boolean },
): CallResult {
  const { T, B, d, h, q } = problem.dims;
  const R = T * B;
  const nth = pool.threads;
  const total = paramLayout(d, h, q, problem.hasBias).total;
  const xi = truncationXi(problem.truncation, T);
  const tau = problem.truncation.kind === 'window' ? Math.min(problem.truncation.steps, T) : 0;
  const adam = update?.optimizer.kind === 'adam';

  // Arena: every array 16-byte aligned (f32x4), absent ones get no space.
  const sizes: [SlotName, number][] = [
    ['P_PARAMS', 4 * total],
    ['P_GRADS', 4 * total],
    ['P_M', adam ? 4 * total : 0],
    ['P_V', adam ? 4 * total : 0],
    ['P_X', 4 * (problem.tokens ? R : R * d)],
    ['P_Y', problem.loss === 'none' ? 0 : 4 * (problem.loss === 'mse' ? R * q : R)],
    ['P_DOIN', problem.loss === 'none' && !forward ? 4 * R * q : 0],
    ['P_H0', batch.h0 ? 4 * B * h : 0],
    ['P_DHT', batch.dhT ? 4 * B * h : 0],
    ['P_XI', 4 * T],
    ['P_LEN', problem.lengths ? 4 * B : 0],
    ['P_WHXT', 4 * d * h],
    ['P_WHHT', 4 * h * h],
    ['P_WQHT', 4 * h * q],
    ['P_P', 4 * R * h],
    ['P_HS', 4 * (T + 1) * B * h],
    ['P_O', problem.loss === 'none' && !forward?.O ? 0 : 4 * R * q],
    ['P_G', 4 * R * (forward ? Math.max(h, q) : h)], // a forward call's dO goes here, leaving O as it is
    ['P_DA', 4 * R * h],
    ['P_S1', 4 * Math.max(tau, 1) * B * h],
    ['P_S2', 4 * tau * B * h],
    ['P_NEXT', 4 * tau * B * h],
    ['P_DWHXT', problem.tokens ? 4 * d * h : 0],
    ['P_DX', problem.inputGradient ? 4 * R * d : 0],
    ['P_DH0', 4 * B * h],
    ['P_PART', 8 * nth * (2 + T)],
    ['P_CLIP', problem.clipNorm !== undefined ? 8 : 0],
    ['P_OUT', 8 * (4 + T)],
    ['P_PROF', 8 * 9],
    ['P_BARRIER', 12],
  ];
  const at = {} as Record<SlotName, number>;
  let end = pool.context + CONTEXT_BYTES;
  for (const [slot, bytes] of sizes) {
    end = Math.ceil(end / 16) * 16;
    at[slot] = bytes > 0 ? end : 0;
    end += bytes;
  }
  pool.ensure(end);

  const buffer = pool.memory.buffer;
  const f32 = (slot: SlotName, n: number) => new Float32Array(buffer, at[slot], n);
  const ctx = new Int32Array(buffer, pool.context, SLOTS.length);
  const ctxF = new Float32Array(buffer, pool.context, SLOTS.length);
  const put = (slot: SlotName, value: number) => (FLOAT_SLOTS.has(slot) ? (ctxF[SLOT_INDEX[slot]] = value) : (ctx[SLOT_INDEX[slot]] = value));

  f32('P_PARAMS', total).set(params);
  if (problem.tokens) new Int32Array(buffer, at.P_X, R).set(batch.x as Int32Array);
  else {
    // padded rows of x are zeroed: dWhx = dA^T X is a product over every row, and 0 * NaN is NaN
    const x = f32('P_X', R * d);
    x.set(batch.x as Float32Array);
    zeroPaddedRows(x, problem.lengths, T, B, d);
  }
  if (problem.loss === 'cross-entropy') new Int32Array(buffer, at.P_Y, R).set(batch.y as Int32Array);
  else if (problem.loss === 'mse') f32('P_Y', R * q).set(batch.y as Float32Array);
  else if (!forward) {
    const dO = f32('P_DOIN', R * q);
    dO.set(batch.dO!);
    zeroPaddedRows(dO, problem.lengths, T, B, q); // with lengths, dO at padded steps is ignored
  }
  if (problem.lengths) new Int32Array(buffer, at.P_LEN, B).set(problem.lengths);
  if (batch.h0) f32('P_H0', B * h).set(batch.h0);
  if (batch.dhT) f32('P_DHT', B * h).set(batch.dhT);
  f32('P_XI', T).set(xi ?? new Float32Array(T));
  new Int32Array(buffer, at.P_BARRIER, 3).fill(0);

  for (const [slot] of sizes) put(slot, at[slot]);
  put('S_T', T);
  put('S_B', B);
  put('S_D', d);
  put('S_H', h);
  put('S_Q', q);
  put('S_ACT', ACT[activation]);
  put('S_TOKENS', problem.tokens ? 1 : 0);
  put('S_BIAS', problem.hasBias ? 1 : 0);
  put('S_LOSS', LOSS[problem.loss]);
  put('S_WINDOW', tau);
  put('S_DX', problem.inputGradient ? 1 : 0);
  put('S_FORWARD', forward ? 1 : 0);
  put('S_FORWARD_O', forward?.O ? 1 : 0);
  put('S_N', problem.lengths ? problem.lengths.reduce((n, v) => n + v, 0) : R);
  if (problem.clipNorm !== undefined) new Float64Array(buffer, at.P_CLIP, 1)[0] = problem.clipNorm;
  put('S_OPT', update ? (adam ? 2 : 1) : 0);
  if (update) {
    const o = update.optimizer;
    put('S_LR', o.learningRate);
    if (o.kind === 'adam') {
      const k = update.step + 1;
      put('S_B1', o.beta1!);
      put('S_B2', o.beta2!);
      put('S_EPS', o.epsilon!);
      put('S_C1', 1 - Math.pow(o.beta1!, k));
      put('S_C2', 1 - Math.pow(o.beta2!, k));
      put('S_OMB1', 1 - o.beta1!);
      put('S_OMB2', 1 - o.beta2!);
      f32('P_M', total).set(update.m!);
      f32('P_V', total).set(update.v!);
    }
  }

  pool.run();

  const out = new Float64Array(buffer, at.P_OUT, 4 + T);
  const p = new Float64Array(buffer, at.P_PROF, 9);
  const phases: PhaseTimes = {
    transposes: p[1] - p[0],
    inputProjection: p[2] - p[1],
    forwardRecurrence: p[3] - p[2],
    outputAndLoss: p[4] - p[3],
    outputToHidden: p[5] - p[4],
    reverseSweep: p[6] - p[5],
    weightGradients: p[7] - p[6],
    normClipUpdate: p[8] - p[7],
  };
  const result: CallResult = {
    loss: problem.loss === 'none' ? NaN : out[0],
    gradNorm: out[1],
    clipScale: out[2],
    nonFinite: out[3] !== 0,
    xi,
    read: (slot, n, offset = 0) => new Float32Array(buffer, at[slot] + 4 * offset, n).slice(),
    stepNorms: () => Float32Array.from(out.subarray(4, 4 + T)),
    phases,
  };
  pool.lastPhases = phases;
  if (update && !result.nonFinite) {
    params.set(f32('P_PARAMS', total));
    if (adam) {
      update.m!.set(f32('P_M', total));
      update.v!.set(f32('P_V', total));
    }
  }
  return result;
}

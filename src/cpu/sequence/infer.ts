// Forward only on the CPU: engine.forward (the forward part of a gradient call,
// the same kernels in the same order, so its loss is the number gradients()
// reports) and engine.generate (a host loop of one-step forward passes).
import type { Batch, ForwardResult, RnnModel } from '../../types.js';
import { validateForwardCall, type ForwardCall, type GenerateCall } from '../../validate-forward.js';
import type { SequenceProblem } from '../../validate-sequence.js';
import { sequenceLayout } from '../../sequence-params.js';
import { makeRng, type Rng } from '../../rng.js';
import { headForward, sequenceForward, stack64, type Stack64 } from './forward.js';
import { flat64 } from './gradients.js';

function runForward(st: Stack64, batch: Batch, p: SequenceProblem) {
  const trace = sequenceForward(st, batch, p);
  const head = p.hasHead ? headForward(st, trace, batch, p) : null;
  return { trace, head };
}

export function cpuForward(call: ForwardCall, batch: Batch): ForwardResult {
  const { sequence, problem: p, outputs } = call;
  const layout = sequenceLayout(sequence);
  const st = stack64(flat64(sequence, layout), layout, p);
  const { trace, head } = runForward(st, batch, p);
  const result: ForwardResult = { hT: Float32Array.from(trace.hT) };
  if (trace.cT) result.cT = Float32Array.from(trace.cT);
  if (call.withLoss) result.loss = head!.loss;
  if (outputs.O) result.O = Float32Array.from(head!.O);
  if (outputs.Y) result.Y = Float32Array.from(trace.Y[p.L - 1]);
  return result;
}

/**
 * An RnnModel's forward pass in float64, the states as the chapter writes them: H [(T+1), B, h] with
 * H_0 = h0, and O [T, B, q]. For the examples and tests that compare a layer's states, which
 * engine.forward returns in float32 only.
 */
export function cpuRnnStates(model: RnnModel, batch: Batch): { H: Float64Array; O: Float64Array } {
  const { sequence, problem: p } = validateForwardCall(model, batch);
  const layout = sequenceLayout(sequence);
  const st = stack64(flat64(sequence, layout), layout, p);
  const { trace, head } = runForward(st, batch, p);
  const bh = p.B * p.h;
  const H = new Float64Array((p.T + 1) * bh);
  H.set(trace.h0);
  H.set(trace.Y[0], bh);
  return { H, O: head!.O };
}

/**
 * The next token from logits o [q]: the argmax at temperature 0 (the first on ties), else a draw from
 * softmax(o / temperature) with one rng() per token. The logits are taken as float32, as every
 * backend returns them, so that greedy decoding gives the same text on each. Sampling decides in
 * integers, as kernels/pick_token.wgsl does, so that the device picks the id this reference picks
 * from the same logits whatever its float rounding (exp, or a multiply and add fused):
 *   a_c = (o_c - o_best) * fround(1/temperature)            two float32 operations, each correctly rounded
 *   X_c = floor(max(a_c, -20) * 2^24)                       exact
 *   E_c = expQ24(X_c) >> shift                              2^24 exp(a_c) in integers (shift keeps the sum below 2^31)
 *   id  = the first c with E_0 + ... + E_c > floor(U S / 2^24), S = the sum of E, U = drawU24(rng)
 * E is softmax's numerator within 2^-24 of the largest (what is below that is 0).
 */
export function pickToken(o: ArrayLike<number>, temperature: number, rng: Rng): number {
  const q = o.length;
  const f = Math.fround;
  let best = 0;
  for (let c = 1; c < q; c++) if (f(o[c]) > f(o[best])) best = c;
  if (temperature === 0) return best;
  const inv = f(1 / temperature);
  const shift = Math.max(0, 32 - Math.clz32(q) - 7);
  const E = Array.from({ length: q }, (_, c) => {
    const a = f(f(f(o[c]) - f(o[best])) * inv);
    return Math.floor(expQ24(Math.floor(Math.max(a, -20) * 16777216)) / 2 ** shift);
  });
  const S = E.reduce((a, b) => a + b, 0);
  const threshold = Number((BigInt(drawU24(rng)) * BigInt(S)) >> 24n);
  let cum = 0;
  for (let c = 0; c < q; c++) {
    cum += E[c];
    if (cum > threshold) return c;
  }
  return q - 1;
}

/** A token's uniform draw as an integer in [0, 2^24) (exact in float32, so the device reads the reference's value). */
export function drawU24(rng: Rng): number {
  return Math.floor(rng() * 16777216);
}

const LN2_Q24 = 11629080; // round(ln 2 * 2^24)
const EXP_Q28 = [268435456, 268435456, 134217728, 44739243, 11184811, 2236962, 372827, 53261, 6658, 740]; // round(2^28 / i!)

/**
 * 2^24 exp(X / 2^24), floored to an integer, for an integer X in [-20 * 2^24, 0], in integer
 * arithmetic only (as expQ24 in kernels/pick_token.wgsl): X = k L + r with L = ln 2 in Q24 and
 * 0 <= r < L, exp(r) by its Taylor polynomial to r^9 in Q28 (Horner, each product floored), then
 * >> (4 - k). Within one unit of 2^24 exp(X / 2^24).
 */
export function expQ24(X: number): number {
  const k = Math.floor(X / LN2_Q24);
  const r = X - k * LN2_Q24;
  let p = EXP_Q28[9];
  for (let i = 8; i >= 0; i--) p = EXP_Q28[i] + Math.floor((p * r) / 16777216); // p r < 2^53: exact in a double
  return Math.floor(p / 2 ** (4 - k));
}

/**
 * The prefix from zero state, then each prediction fed back in, one step at a time; the state moves
 * between steps as float32 (hT, cT), as between calls of engine.forward.
 */
export function cpuGenerate(call: GenerateCall): Int32Array {
  const { sequence, dims, prefix, steps, temperature, seed } = call;
  const layout = sequenceLayout(sequence);
  const st = stack64(flat64(sequence, layout), layout, dims);
  const rng = makeRng(seed);
  const out = new Int32Array(steps);
  const problem = (T: number): SequenceProblem => ({
    ...dims,
    T,
    B: 1,
    tokens: true,
    lengths: null,
    loss: 'none',
    truncation: { kind: 'full' },
    clipNorm: undefined,
    inputGradient: false,
    gradNormPerStep: false,
  });
  let batch: Batch = { steps: prefix.length, batchSize: 1, x: prefix };
  for (let i = 0; i < steps; i++) {
    const { trace, head } = runForward(st, batch, problem(batch.steps));
    const q = dims.q;
    const last = head!.O.subarray((batch.steps - 1) * q, batch.steps * q);
    out[i] = pickToken(last, temperature, rng);
    batch = { steps: 1, batchSize: 1, x: Int32Array.of(out[i]), h0: Float32Array.from(trace.hT) };
    if (trace.cT) batch.c0 = Float32Array.from(trace.cT);
  }
  return out;
}

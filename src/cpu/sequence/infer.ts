// Forward only on the CPU: engine.forward (the forward part of a gradient call,
// the same kernels in the same order, so its loss is the number gradients()
// reports) and engine.generate (a host loop of one-step forward passes).
import type { Batch, ForwardResult } from '../../types.js';
import type { ForwardCall, GenerateCall } from '../../validate-forward.js';
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
 * The next token from logits o [q]: the argmax at temperature 0 (the first on ties), else a draw from
 * softmax(o / temperature) with one rng() per token. The logits are taken as float32, as every
 * backend returns them, so that greedy decoding gives the same text on each; sampling is computed
 * in float32 with the operations of kernels/pick_token.wgsl, one by one (expF32 below, not
 * Math.exp), so that the device decides as this reference does from the same logits.
 *   z_c = o_c * fround(1/temperature), m = max z, p_c = expF32(z_c - m), S = p_0 + p_1 + ... (in order),
 *   id = the first c with u S - p_0 - ... - p_c < 0 (each step rounded), u = drawU(rng)
 */
export function pickToken(o: ArrayLike<number>, temperature: number, rng: Rng): number {
  const q = o.length;
  const f = Math.fround;
  let best = 0;
  for (let c = 1; c < q; c++) if (f(o[c]) > f(o[best])) best = c;
  if (temperature === 0) return best;
  const inv = f(1 / temperature);
  const m = f(f(o[best]) * inv); // the largest z: multiplying by inv > 0 keeps the order
  const p = Array.from({ length: q }, (_, c) => expF32(f(f(f(o[c]) * inv) - m)));
  let sum = 0;
  for (let c = 0; c < q; c++) sum = f(sum + p[c]);
  let left = f(drawU(rng) * sum);
  for (let c = 0; c < q; c++) {
    left = f(left - p[c]);
    if (left < 0) return c;
  }
  return q - 1;
}

/** A token's uniform draw, on 24 bits: exact in float32, so the device reads the value the reference uses. */
export function drawU(rng: Rng): number {
  return Math.floor(rng() * 16777216) / 16777216;
}

/**
 * exp(x) for x <= 0 in float32, from +, -, *, floor and a power of two only (each exact or
 * correctly rounded in float32, here and in WGSL), as expF32 in kernels/pick_token.wgsl:
 * x = k ln2 + r (Cody-Waite, ln2 = C1 + C2 with k C1 exact), exp(r) by its Taylor polynomial to r^7
 * (|r| <= ln2/2: relative error about 2e-7), times 2^k. 0 below -87 (exp is then under 2^-125).
 */
export function expF32(x: number): number {
  const f = Math.fround;
  if (x < -87) return 0;
  // the constants as float32 (their bits in the kernel: 0x3fb8aa3b, 0xb95e8083, 0x39500d01, ...)
  const k = Math.floor(f(f(x * f(1.44269504)) + 0.5));
  const r = f(f(x - f(k * 0.693359375)) - f(k * f(-2.1219444e-4)));
  let p = f(1 / 5040);
  for (const c of [1 / 720, 1 / 120, 1 / 24, 1 / 6, 1 / 2, 1, 1]) p = f(f(p * r) + f(c));
  return f(p * 2 ** k);
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

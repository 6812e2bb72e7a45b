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
 * backend returns them, so that greedy decoding gives the same text on each.
 */
export function pickToken(o: ArrayLike<number>, temperature: number, rng: Rng): number {
  const q = o.length;
  if (temperature === 0) {
    let best = 0;
    for (let c = 1; c < q; c++) if (Math.fround(o[c]) > Math.fround(o[best])) best = c;
    return best;
  }
  const z = Array.from({ length: q }, (_, c) => Math.fround(o[c]) / temperature);
  const m = Math.max(...z);
  const p = z.map((v) => Math.exp(v - m));
  let u = rng() * p.reduce((a, b) => a + b, 0);
  for (let c = 0; c < q; c++) {
    u -= p[c];
    if (u < 0) return c;
  }
  return q - 1;
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

// The layer walk on the 'wasm' backend: a SequenceModel (GRU, LSTM, rnn cells,
// stacks, both directions) and an RnnModel as one case of it (one rnn layer and
// a head, on its own flat layout: src/params.ts sequenceLayoutOfRnn):
// gradients, forward and generate, all through runSequenceCall (seq-call.ts);
// the trainers' step is trainer.ts. Validation and the flat parameter layouts
// are the CPU reference's own (src/validate-sequence.ts, src/validate-forward.ts,
// src/sequence-params.ts, src/params.ts), so every engine refuses and accepts the same calls.
import type { AnyModel, Batch, ForwardOptions, ForwardResult, GenerateOptions, SequenceGradients, SequenceModel } from '../types.js';
import { packSequence, sequenceLayout, type SequenceLayout } from '../sequence-params.js';
import { isSequenceModel } from '../sequence-model.js';
import { packParams, sequenceLayoutOfRnn } from '../params.js';
import type { SequenceProblem } from '../validate-sequence.js';
import { validateForwardCall, validateGenerateCall, type ForwardCall } from '../validate-forward.js';
import { pickToken } from '../cpu/sequence/infer.js';
import { makeRng } from '../rng.js';
import { runSequenceCall } from './seq-call.js';
import type { WasmPool } from './pool.js';

/**
 * engine.gradients of a SequenceModel (validated by the caller), on its parameters laid out as `layout` says (an
 * RnnModel's rnnAsSequence model passes its own layout and packParams).
 */
export function sequenceGradients(
  pool: WasmPool,
  model: SequenceModel,
  batch: Batch,
  p: SequenceProblem,
  layout: SequenceLayout = sequenceLayout(model),
  params: Float32Array = packSequence(model, layout),
): SequenceGradients {
  const r = runSequenceCall(pool, p, params, layout, batch);
  const { T, B, h, L, dirs, G, q } = p;
  const K = L * dirs;
  const Gh = G * h;
  const grad = (at: number, n: number) => r.read('QP_GRADS', n, at);
  const result: SequenceGradients = {
    loss: r.loss,
    gradNorm: r.gradNorm,
    clipped: r.clipScale !== 0,
    nonFinite: r.nonFinite,
    layers: layout.layers.map((s) => {
      const g: SequenceGradients['layers'][number] = { dWx: grad(s.Wx, Gh * s.nIn), dWh: grad(s.Wh, Gh * h) };
      if (s.bx >= 0) g.dbx = grad(s.bx, Gh);
      if (s.bh >= 0) g.dbh = grad(s.bh, Gh);
      return g;
    }),
    dh0: r.read('QP_DH0', K * B * h),
    hT: r.read('QP_HT', K * B * h),
  };
  if (layout.head) {
    result.head = { dW: grad(layout.head.W, q * dirs * h) };
    if (layout.head.b >= 0) result.head.db = grad(layout.head.b, q);
  }
  if (p.cell === 'lstm') {
    result.dc0 = r.read('QP_DC0', K * B * h);
    result.cT = r.read('QP_CT', K * B * h);
  }
  if (p.inputGradient) result.dx = r.read('QP_DX', T * B * p.d);
  if (p.gradNormPerStep) result.gradNormPerStep = r.stepNorms();
  if (p.truncation.kind === 'randomized' && r.xi) result.xi = r.xi;
  return result;
}

/** engine.forward on flat parameters (a trainer's too): the forward part of a gradient call (the same kernels), nothing kept for a backward. */
export function forwardOnFlat(pool: WasmPool, call: ForwardCall, params: Float32Array, layout: SequenceLayout, batch: Batch): ForwardResult {
  const p = call.problem;
  const { T, B, h, q, L, dirs } = p;
  const K = L * dirs;
  const r = runSequenceCall(pool, p, params, layout, batch, undefined, { O: call.outputs.O });
  const out: ForwardResult = { hT: r.read('QP_HT', K * B * h) };
  if (p.cell === 'lstm') out.cT = r.read('QP_CT', K * B * h);
  if (call.withLoss) out.loss = r.loss;
  if (call.outputs.O) out.O = r.read('QP_O', T * B * q);
  if (call.outputs.Y) out.Y = r.read('QP_YS', T * B * dirs * h, (L - 1) * T * B * dirs * h);
  return out;
}

/** A checked model's parameters in one flat vector and where each tensor lies: an RnnModel keeps its own layout. */
function flatOf(model: AnyModel): { params: Float32Array; layout: SequenceLayout } {
  if (isSequenceModel(model)) {
    const layout = sequenceLayout(model);
    return { params: packSequence(model, layout), layout };
  }
  return { params: packParams(model), layout: sequenceLayoutOfRnn(model) };
}

/** engine.forward of any model (validated here). */
export function sequenceForward(pool: WasmPool, model: AnyModel, batch: Batch, options?: ForwardOptions): ForwardResult {
  const call = validateForwardCall(model, batch, options);
  const { params, layout } = flatOf(model);
  return forwardOnFlat(pool, call, params, layout, batch);
}

/** The prefix from zero state, then each prediction fed back in, one-step forward calls (as the CPU reference). */
export function generateOnFlat(pool: WasmPool, model: AnyModel, params: Float32Array, layout: SequenceLayout, options: GenerateOptions): Int32Array {
  const { prefix, steps, temperature, seed } = validateGenerateCall(model, options);
  const rng = makeRng(seed);
  const out = new Int32Array(steps);
  let batch: Batch = { steps: prefix.length, batchSize: 1, x: prefix };
  for (let i = 0; i < steps; i++) {
    const call = validateForwardCall(model, batch, { outputs: ['O'] });
    const r = forwardOnFlat(pool, call, params, layout, batch);
    const q = call.problem.q;
    out[i] = pickToken(r.O!.subarray((batch.steps - 1) * q, batch.steps * q), temperature, rng);
    batch = { steps: 1, batchSize: 1, x: Int32Array.of(out[i]), h0: r.hT };
    if (r.cT) batch.c0 = r.cT;
  }
  return out;
}

/** engine.generate of any model (validated here). */
export function sequenceGenerate(pool: WasmPool, model: AnyModel, options: GenerateOptions): Int32Array {
  validateGenerateCall(model, options);
  const { params, layout } = flatOf(model);
  return generateOnFlat(pool, model, params, layout, options);
}

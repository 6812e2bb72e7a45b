// The layer walk on the 'wasm' backend: a SequenceModel (GRU, LSTM, rnn cells,
// stacks, both directions) and an RnnModel as one case of it (one rnn layer and
// a head, on its own flat layout: src/params.ts sequenceLayoutOfRnn):
// gradients, forward, generate and the SequenceModel's trainer, all through
// runSequenceCall (seq-call.ts). Validation, truncation draws, the flat
// parameter layout and the trainer's bookkeeping are the CPU reference's own
// (src/validate-sequence.ts, src/truncation.ts, src/sequence-params.ts,
// src/cpu/sequence/trainer.ts), so every engine refuses and accepts the same calls.
import type { AnyModel, Batch, ForwardOptions, ForwardResult, GenerateOptions, SequenceGradients, SequenceModel, StepOptions, StepResult, TrainerOptions, Trainer } from '../types.js';
import { BpttInputError } from '../errors.js';
import { packSequence, sequenceLayout, unpackSequence, type SequenceLayout } from '../sequence-params.js';
import { isSequenceModel } from '../sequence-model.js';
import { packParams, sequenceLayoutOfRnn } from '../params.js';
import { sequenceProblem, validateSequenceBatch, validateSequenceTrainerOptions, type SequenceDims, type SequenceProblem } from '../validate-sequence.js';
import { validateForwardCall, validateGenerateCall, type ForwardCall } from '../validate-forward.js';
import { validateStepOptions, validateTruncation } from '../validate.js';
import { truncationForStep } from '../truncation.js';
import { assertUsable, markDisposed } from '../lifecycle.js';
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

/** engine.forward on flat parameters: the forward part of a gradient call (the same kernels), nothing kept for a backward. */
function forwardOnFlat(pool: WasmPool, call: ForwardCall, params: Float32Array, layout: SequenceLayout, batch: Batch): ForwardResult {
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
function generateOnFlat(pool: WasmPool, model: AnyModel, params: Float32Array, layout: SequenceLayout, options: GenerateOptions): Int32Array {
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

/**
 * The trainer: parameters and Adam moments in flat Float32Arrays between steps, exactly as the CPU trainer keeps
 * them; forward and generate run on those parameters without unpacking them. The model and the options are
 * snapshotted at creation.
 */
export function createWasmSequenceTrainer(pool: WasmPool, model: SequenceModel, options: TrainerOptions, onDispose: () => void): Trainer<SequenceModel> {
  const opts = validateSequenceTrainerOptions(model, options);
  const dims: SequenceDims = opts.dims;
  const layout: SequenceLayout = sequenceLayout(model);
  const params = packSequence(model, layout);
  const like = unpackSequence(model, params, layout);
  const n = params.length;
  const adam = opts.optimizer.kind === 'adam';
  const m = adam ? new Float32Array(n) : undefined;
  const v = adam ? new Float32Array(n) : undefined;
  let applied = 0;
  // the carried final states of every layer and direction ([L*dirs, B, h]), each sequence's from its own end
  let carried: { h: Float32Array; c: Float32Array | null; B: number } | null = null;
  let draws = 0; // step() calls that passed validation: step k draws randomized xi from seed + k
  const self: Trainer<SequenceModel> = {
    backend: 'wasm',
    async step(batch: Batch, stepOptionsGiven?: StepOptions): Promise<StepResult> {
      assertUsable(self, 'trainer');
      const stepOptions = validateStepOptions(stepOptionsGiven);
      const shape = validateSequenceBatch(batch, dims, opts.loss, opts.checkFinite === true);
      const truncation = validateTruncation(opts.truncation, shape.T, 'options.truncation');
      const useCarried = opts.carryState === true && carried !== null;
      if (useCarried && carried!.B !== shape.B && batch.h0 === undefined) {
        throw new BpttInputError('batch.batchSize', `${carried!.B} (the batch size of the carried state; call resetState() to change it)`, `${shape.B}`);
      }
      const p = sequenceProblem(dims, shape, { loss: opts.loss, truncation: truncationForStep(truncation, draws++), clipNorm: opts.clipNorm });
      const h0 = batch.h0 ?? (useCarried ? carried!.h : undefined);
      const c0 = batch.c0 ?? (useCarried && carried!.c ? carried!.c : undefined);
      const r = runSequenceCall(pool, p, params, layout, { ...batch, h0, c0 }, { optimizer: opts.optimizer, step: applied, m, v });
      if (!r.nonFinite) {
        applied++;
        // Only a step that was applied advances the carried state: a skipped step leaves the trainer as it was.
        if (opts.carryState) {
          const size = dims.L * dims.dirs * shape.B * dims.h;
          carried = { h: r.read('QP_HT', size), c: dims.cell === 'lstm' ? r.read('QP_CT', size) : null, B: shape.B };
        }
      }
      const out: StepResult = { loss: r.loss, skipped: r.nonFinite, step: applied };
      if (stepOptions.readGradNorm) out.gradNorm = r.gradNorm;
      return out;
    },
    async read(): Promise<SequenceModel> {
      assertUsable(self, 'trainer');
      return unpackSequence(like, params, layout);
    },
    resetState(): void {
      carried = null;
    },
    async forward(batch: Batch, o?: ForwardOptions): Promise<ForwardResult> {
      assertUsable(self, 'trainer');
      return forwardOnFlat(pool, validateForwardCall(like, batch, o), params, layout, batch);
    },
    async generate(o: GenerateOptions): Promise<Int32Array> {
      assertUsable(self, 'trainer');
      return generateOnFlat(pool, like, params, layout, o);
    },
    dispose(): void {
      markDisposed(self);
      onDispose();
    },
  };
  return self;
}

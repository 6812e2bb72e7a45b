// The CPU trainers: the parameters live in one flat Float32Array between steps,
// as they do in one GPU buffer; SGD and Adam from src/cpu/optimizer.ts. A step
// is one pass of the layer walk on that vector, read through a layout: the
// SequenceModel trainer's (sequence-params.ts), or the RnnModel trainer's
// vanilla [Whx|Whh|Wqh|bh|bq] (src/cpu/trainer.ts, as the WebGPU trainers do).
import type { Batch, OptimizerOptions, SequenceModel, StepOptions, StepResult, StepTrainer, TrainerOptions } from '../../types.js';
import { type BatchCheck, type CarriedState, prepareHostStep } from '../../trainer-step.js';
import { packSequence, sequenceLayout, unpackSequence, type SequenceLayout } from '../../sequence-params.js';
import { validateSequenceBatch, validateSequenceTrainerOptions, type SequenceDims } from '../../validate-sequence.js';
import { assertUsable, markDisposed } from '../../lifecycle.js';
import { applyUpdate, makeOptimizerState, type OptimizerState } from '../optimizer.js';
import { sequencePass } from './gradients.js';

/** What a CPU trainer keeps between steps. */
export interface CpuTrainerState {
  params: Float32Array; // the flat parameters, in the trainer's layout
  optimizer: OptimizerState;
  carried: CarriedState | null; // each sequence's final states from its own end
  draws: number; // step() calls that passed validation: step k draws randomized xi from seed + k
}

export function createCpuTrainerState(flat: Float32Array, optimizer: OptimizerOptions): CpuTrainerState {
  return { params: flat, optimizer: makeOptimizerState(optimizer, flat.length), carried: null, draws: 0 };
}


/** One training step of the layer walk on own.params, read through `layout`. */
export function cpuSequenceTrainerStep(
  dims: SequenceDims,
  layout: SequenceLayout,
  opts: TrainerOptions,
  own: CpuTrainerState,
  batch: Batch,
  stepOptionsGiven: StepOptions | undefined,
  checkBatch: BatchCheck,
): StepResult {
  const { stepOptions, shape, p, h0, c0 } = prepareHostStep(dims, opts, own, batch, stepOptionsGiven, checkBatch);
  const pass = sequencePass(layout, Float64Array.from(own.params), { ...batch, h0, c0 }, p);
  const nonFinite = pass.nonFinite;
  if (opts.carryState && !nonFinite) {
    // Only a step that was applied advances the carried state: a skipped step leaves the trainer as it was.
    own.carried = { h: Float32Array.from(pass.trace.hT), c: pass.trace.cT ? Float32Array.from(pass.trace.cT) : null, B: shape.B };
  }
  const out: StepResult = { loss: pass.loss, skipped: nonFinite, step: own.optimizer.step };
  if (stepOptions.readGradNorm) out.gradNorm = pass.gradNorm;
  if (nonFinite) return out;
  // the update uses the float32 gradients engine.gradients returns
  const grad = Float64Array.from(Float32Array.from(pass.grad));
  const p64 = Float64Array.from(own.params);
  applyUpdate(p64, grad, opts.optimizer, own.optimizer);
  own.params.set(p64);
  out.step = own.optimizer.step;
  return out;
}

export function createCpuSequenceTrainer(model: SequenceModel, options: TrainerOptions): StepTrainer<SequenceModel> {
  const opts = validateSequenceTrainerOptions(model, options);
  const { dims } = opts;
  const layout = sequenceLayout(model);
  const like = unpackSequence(model, packSequence(model, layout), layout);
  const own = createCpuTrainerState(packSequence(model, layout), opts.optimizer);
  const checkBatch: BatchCheck = (batch) => validateSequenceBatch(batch, dims, opts.loss, opts.checkFinite === true);
  const self = {
    backend: 'cpu' as const,
    async step(batch: Batch, stepOptions?: StepOptions): Promise<StepResult> {
      assertUsable(self, 'trainer');
      return cpuSequenceTrainerStep(dims, layout, opts, own, batch, stepOptions, checkBatch);
    },
    async read(): Promise<SequenceModel> {
      assertUsable(self, 'trainer');
      return unpackSequence(like, own.params, layout);
    },
    resetState(): void {
      own.carried = null;
    },
    dispose(): void {
      markDisposed(self);
    },
  };
  return self;
}

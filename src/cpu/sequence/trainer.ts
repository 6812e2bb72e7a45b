// The CPU trainer of a SequenceModel: the parameters live in one flat
// Float32Array in the layout of sequence-params.ts between steps, as they will
// in one GPU buffer; SGD and Adam from src/cpu/optimizer.ts.
import type { Batch, SequenceModel, StepOptions, StepResult, StepTrainer, TrainerOptions } from '../../types.js';
import { BpttInputError } from '../../errors.js';
import { packSequence, sequenceLayout, unpackSequence } from '../../sequence-params.js';
import { sequenceProblem, validateSequenceBatch, validateSequenceTrainerOptions, type SequenceProblem } from '../../validate-sequence.js';
import { validateStepOptions, validateTruncation } from '../../validate.js';
import { truncationForStep } from '../../truncation.js';
import { assertUsable, markDisposed } from '../../lifecycle.js';
import { applyUpdate, makeOptimizerState } from '../optimizer.js';
import { sequencePass } from './gradients.js';

export function createCpuSequenceTrainer(model: SequenceModel, options: TrainerOptions): StepTrainer<SequenceModel> {
  const opts = validateSequenceTrainerOptions(model, options);
  const { dims } = opts;
  const layout = sequenceLayout(model);
  const like = unpackSequence(model, packSequence(model, layout), layout);
  const params = packSequence(model, layout);
  const optimizer = makeOptimizerState(opts.optimizer, layout.total);
  // the carried final states of every layer and direction ([L*dirs, B, h]), each sequence's from its own end
  let carried: { h: Float32Array; c: Float32Array | null; B: number } | null = null;
  let draws = 0; // step() calls that passed validation: step k draws randomized xi from seed + k
  const self = {
    backend: 'cpu' as const,
    async step(batch: Batch, stepOptionsGiven?: StepOptions): Promise<StepResult> {
      assertUsable(self, 'trainer');
      const stepOptions = validateStepOptions(stepOptionsGiven);
      const shape = validateSequenceBatch(batch, dims, opts.loss, opts.checkFinite === true);
      const truncation = validateTruncation(opts.truncation, shape.T, 'options.truncation');
      const useCarried = opts.carryState === true && carried !== null;
      if (useCarried && carried!.B !== shape.B && batch.h0 === undefined) {
        throw new BpttInputError('batch.batchSize', `${carried!.B} (the batch size of the carried state; call resetState() to change it)`, `${shape.B}`);
      }
      const p: SequenceProblem = sequenceProblem(dims, shape, { loss: opts.loss, truncation: truncationForStep(truncation, draws++), clipNorm: opts.clipNorm });
      const h0 = batch.h0 ?? (useCarried ? carried!.h : undefined);
      const c0 = batch.c0 ?? (useCarried && carried!.c ? carried!.c : undefined);
      const pass = sequencePass(layout, Float64Array.from(params), { ...batch, h0, c0 }, p);
      // the update uses the float32 gradients engine.gradients returns
      const grad = Float64Array.from(Float32Array.from(pass.grad));
      const nonFinite = pass.nonFinite;
      if (opts.carryState && !nonFinite) {
        // Only a step that was applied advances the carried state: a skipped step leaves the trainer as it was.
        carried = { h: Float32Array.from(pass.trace.hT), c: pass.trace.cT ? Float32Array.from(pass.trace.cT) : null, B: shape.B };
      }
      const out: StepResult = { loss: pass.loss, skipped: nonFinite, step: optimizer.step };
      if (stepOptions.readGradNorm) out.gradNorm = pass.gradNorm;
      if (nonFinite) return out;
      const p64 = Float64Array.from(params);
      applyUpdate(p64, grad, opts.optimizer, optimizer);
      params.set(p64);
      out.step = optimizer.step;
      return out;
    },
    async read(): Promise<SequenceModel> {
      assertUsable(self, 'trainer');
      return unpackSequence(like, params, layout);
    },
    resetState(): void {
      carried = null;
    },
    dispose(): void {
      markDisposed(self);
    },
  };
  return self;
}

// The CPU trainer: the parameters live in one flat Float32Array between steps,
// exactly as they live in one GPU buffer in the WebGPU trainer.
import type { Batch, RnnModel, StepOptions, StepResult, StepTrainer, TrainerOptions } from '../types.js';
import { BpttInputError } from '../errors.js';
import { packParams, unpackParams, layoutOf } from '../params.js';
import { validateBatch, validateStepOptions, validateTrainerOptions, validateTruncation, validateModel } from '../validate.js';
import { truncationForStep } from '../truncation.js';
import { cpuRnnGradients } from './rnn-gradients.js';
import { applyUpdate, makeOptimizerState } from './optimizer.js';
import { assertUsable, markDisposed } from '../lifecycle.js';

export function createCpuTrainer(model: RnnModel, options: TrainerOptions): StepTrainer {
  const opts = validateTrainerOptions(model, options);
  const dims = validateModel(model);
  const shape = unpackParams(model, packParams(model));
  const params = packParams(model);
  const L = layoutOf(model);
  const state = makeOptimizerState(opts.optimizer, L.total);
  let carried: Float32Array | null = null;
  let carriedB = 0;
  let draws = 0; // step() calls that passed validation: step k draws randomized xi from seed + k
  const self = {
    backend: 'cpu' as const,
    async step(batch: Batch, stepOptionsGiven?: StepOptions): Promise<StepResult> {
      assertUsable(self, 'trainer');
      const stepOptions = validateStepOptions(stepOptionsGiven);
      const { T, B, tokens, lengths } = validateBatch(batch, dims, opts.loss, opts.checkFinite === true);
      const truncation = validateTruncation(opts.truncation, T, 'options.truncation');
      if (carried && carriedB !== B && batch.h0 === undefined) {
        throw new BpttInputError('batch.batchSize', `${carriedB} (the batch size of the carried state; call resetState() to change it)`, `${B}`);
      }
      const stepTruncation = truncationForStep(truncation, draws++);
      const current = unpackParams(shape, params);
      const h0 = batch.h0 ?? (opts.carryState && carried ? carried : undefined);
      const result = cpuRnnGradients(current, { ...batch, h0 }, {
        dims: { T, B, d: dims.d, h: dims.h, q: dims.q },
        tokens,
        hasBias: dims.hasBias,
        loss: opts.loss,
        truncation: stepTruncation,
        clipNorm: opts.clipNorm,
        inputGradient: false,
        gradNormPerStep: false,
        lengths,
      });
      if (opts.carryState && !result.nonFinite) {
        // Only a step that was applied advances the carried state: a skipped step leaves the trainer as it was.
        carried = result.hT;
        carriedB = B;
      }
      const out: StepResult = { loss: result.loss, skipped: result.nonFinite, step: state.step };
      if (stepOptions.readGradNorm) out.gradNorm = result.gradNorm;
      if (result.nonFinite) return out;
      const grad = new Float64Array(L.total);
      grad.set(result.dWhx, L.Whx);
      grad.set(result.dWhh, L.Whh);
      grad.set(result.dWqh, L.Wqh);
      if (result.dbh && result.dbq) {
        grad.set(result.dbh, L.bh);
        grad.set(result.dbq, L.bq);
      }
      const p64 = Float64Array.from(params);
      applyUpdate(p64, grad, opts.optimizer, state);
      params.set(p64);
      out.step = state.step;
      return out;
    },
    async read(): Promise<RnnModel> {
      assertUsable(self, 'trainer');
      return unpackParams(shape, params);
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

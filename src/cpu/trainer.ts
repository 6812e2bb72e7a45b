// The CPU trainer of an RnnModel: the CPU sequence trainer's step
// (src/cpu/sequence/trainer.ts) on the model's flat [Whx|Whh|Wqh|bh|bq]
// vector, read through sequenceLayoutOfRnn, as the WebGPU RnnModel trainer
// runs the layer walk on its vanilla buffers. Batches are checked as an
// RnnModel's (validateBatch), so every refusal names what it did before.
import type { Batch, RnnModel, StepOptions, StepResult, StepTrainer, TrainerOptions } from '../types.js';
import { packParams, sequenceLayoutOfRnn, unpackParams } from '../params.js';
import { validateBatch, validateModel, validateTrainerOptions } from '../validate.js';
import { modelAsSequence } from '../validate-forward.js';
import { assertUsable, markDisposed } from '../lifecycle.js';
import { createCpuTrainerState, cpuSequenceTrainerStep } from './sequence/trainer.js';
import type { BatchCheck } from '../trainer-step.js';

export function createCpuTrainer(model: RnnModel, options: TrainerOptions): StepTrainer {
  const opts = validateTrainerOptions(model, options);
  const rnnDims = validateModel(model);
  const shape = unpackParams(model, packParams(model)); // the shape, never the caller's arrays
  const { dims } = modelAsSequence(shape);
  const layout = sequenceLayoutOfRnn(shape);
  const own = createCpuTrainerState(packParams(shape), opts.optimizer);
  const checkBatch: BatchCheck = (batch) => validateBatch(batch, rnnDims, opts.loss, opts.checkFinite === true);
  const self = {
    backend: 'cpu' as const,
    async step(batch: Batch, stepOptions?: StepOptions): Promise<StepResult> {
      assertUsable(self, 'trainer');
      return cpuSequenceTrainerStep(dims, layout, opts, own, batch, stepOptions, checkBatch);
    },
    async read(): Promise<RnnModel> {
      assertUsable(self, 'trainer');
      return unpackParams(shape, own.params);
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

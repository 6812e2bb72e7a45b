// What the host trainers (CPU and wasm) do before their engine runs a step:
// check the step options and the batch (each trainer its own way, so that
// every refusal names what it always named), refuse a carried state of
// another batch size, draw the step's truncation, and pick the initial states
// (the batch's, or the carried ones). The WebGPU trainers keep their carried
// state on the device (src/gpu/sequence-trainer.ts).
import type { Batch, StepOptions, TrainerOptions } from './types.js';
import { BpttInputError } from './errors.js';
import { sequenceProblem, type SequenceDims, type SequenceProblem } from './validate-sequence.js';
import { validateStepOptions, validateTruncation } from './validate.js';
import { truncationForStep } from './truncation.js';

/** A batch's sizes, checked by the trainer's own validation (each names its arguments its own way). */
export type BatchCheck = (batch: Batch) => { T: number; B: number; tokens: boolean; lengths: Int32Array | null };

/** The final states of every layer and direction ([L*dirs, B, h]) a host trainer carries to its next step. */
export interface CarriedState {
  h: Float32Array;
  c: Float32Array | null;
  B: number;
}

/** What a host trainer keeps for this: the carried state and the draws (step k draws randomized xi from seed + k). */
export interface HostStepState {
  carried: CarriedState | null;
  draws: number; // step() calls that passed validation
}

/** The checked step: its options, sizes, problem (with this draw's truncation) and initial states. */
export function prepareHostStep(
  dims: SequenceDims,
  opts: TrainerOptions,
  own: HostStepState,
  batch: Batch,
  stepOptionsGiven: StepOptions | undefined,
  checkBatch: BatchCheck,
): { stepOptions: ReturnType<typeof validateStepOptions>; shape: ReturnType<BatchCheck>; p: SequenceProblem; h0: Float32Array | undefined; c0: Float32Array | undefined } {
  const stepOptions = validateStepOptions(stepOptionsGiven);
  const shape = checkBatch(batch);
  const truncation = validateTruncation(opts.truncation, shape.T, 'options.truncation');
  const carried = opts.carryState === true ? own.carried : null;
  if (carried && carried.B !== shape.B && batch.h0 === undefined) {
    throw new BpttInputError('batch.batchSize', `${carried.B} (the batch size of the carried state; call resetState() to change it)`, `${shape.B}`);
  }
  const p = sequenceProblem(dims, shape, { loss: opts.loss, truncation: truncationForStep(truncation, own.draws++), clipNorm: opts.clipNorm });
  return { stepOptions, shape, p, h0: batch.h0 ?? carried?.h, c0: batch.c0 ?? carried?.c ?? undefined };
}

// The WebGPU trainer of an RnnModel: parameters, optimizer state and the
// carried hidden state stay on the device between steps; a step reads back 32
// bytes (the loss and the flags of kernels/finalize.wgsl), nothing else. Every
// step is the layer walk's (sequence-trainer.ts: the chapter's kernels, or the
// rnn cell's with lengths) on the trainer's [Whx|Whh|Wqh|bh|bq] buffers, read
// through sequenceLayoutOfRnn; forward and generate run on them too, without
// reading the parameters back.
import type { Batch, ForwardOptions, ForwardResult, GenerateOptions, RnnModel, StepOptions, StepResult, StepTrainer, Trainer, TrainerOptions } from '../types.js';
import { layoutOf, packParams, sequenceLayoutOfRnn, unpackParams } from '../params.js';
import { validateBatch, validateModel, validateStepOptions } from '../validate.js';
import { validateForwardCall, validateGenerateCall, modelAsSequence } from '../validate-forward.js';
import { assertUsable, markDisposed } from '../lifecycle.js';
import type { GpuContext } from './context.js';
import { checkLimits } from './limits.js';
import { submitAndRead } from './call.js';
import { createTrainerState, releaseTrainerState, sequenceTrainerStep } from './sequence-trainer.js';
import { gpuSequenceForward } from './sequence-forward.js';
import { gpuGenerate } from './sequence-generate.js';

export function createGpuTrainer(
  ctx: GpuContext,
  limits: { maxBinding: number; maxBuffer: number },
  model: RnnModel,
  opts: TrainerOptions,
  onDispose: () => void,
): StepTrainer & Pick<Trainer, 'forward' | 'generate'> {
  ctx.assertAlive(); // a lost device: refuse now, not at the first step
  const dims = validateModel(model);
  const L = layoutOf(model);
  // The parameters (and Adam's moments, the same size) live in buffers of their own: refuse before allocating.
  checkLimits({ params: L.total }, limits, 'model', { 'trainer read': L.total });
  // Everything about the model is read now, once: a caller who changes model (activation included) later changes nothing here.
  const shapeModel = unpackParams(model, packParams(model));
  const pool = ctx.pool;
  // params, stats, moments, the carried h_T [B, h] and the counters
  const own = createTrainerState(ctx, packParams(model), opts);
  const { params } = own;
  // the layer walk's view of the same buffers: one rnn layer (Whx, Whh, bh as bx) and the head (Wqh, bq)
  const walk = { dims: modelAsSequence(shapeModel).dims, onDevice: { buffer: params, layout: sequenceLayoutOfRnn(shapeModel) } };

  const trainer: StepTrainer & Pick<Trainer, 'forward' | 'generate'> = {
    backend: 'webgpu',
    async step(batch: Batch, stepOptionsGiven?: StepOptions): Promise<StepResult> {
      assertUsable(trainer, 'trainer');
      ctx.assertAlive();
      const stepOptions = validateStepOptions(stepOptionsGiven);
      validateBatch(batch, dims, opts.loss, opts.checkFinite === true); // refused as an RnnModel's batch, naming its fields
      return sequenceTrainerStep(ctx, limits, walk.dims, walk.onDevice.layout, opts, own, batch, stepOptions);
    },
    /** engine.forward on the current parameters, from the trainer's buffer (no read-back of the parameters). */
    async forward(batch: Batch, options?: ForwardOptions): Promise<ForwardResult> {
      assertUsable(trainer, 'trainer');
      const call = validateForwardCall(shapeModel, batch, options);
      return gpuSequenceForward(ctx, limits, call, batch, walk.onDevice);
    },
    /** engine.generate on the current parameters, from the trainer's buffer. */
    async generate(options: GenerateOptions): Promise<Int32Array> {
      assertUsable(trainer, 'trainer');
      return gpuGenerate(ctx, limits, validateGenerateCall(shapeModel, options), walk.onDevice);
    },
    async read(): Promise<RnnModel> {
      assertUsable(trainer, 'trainer');
      ctx.assertAlive();
      const flat = await submitAndRead(ctx, 'trainer.read', 0, L.total, (rec, staging) => rec.copy(params, 0, staging, 0, L.total * 4));
      return unpackParams(shapeModel, flat.subarray(0, L.total));
    },
    resetState(): void {
      if (own.state) pool.release(own.state);
      own.state = null;
    },
    dispose(): void {
      if (!markOnce(trainer)) return;
      releaseTrainerState(ctx, own);
      onDispose();
    },
  };
  return trainer;
}

function markOnce(owner: object): boolean {
  try {
    assertUsable(owner, 'trainer');
  } catch {
    return false;
  }
  markDisposed(owner);
  return true;
}

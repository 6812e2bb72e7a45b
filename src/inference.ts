// engine.forward / engine.generate, and the same on a trainer's current
// parameters. On the CPU these are the float64 reference's forward pass (a CPU
// trainer's read() is a copy); the WebGPU trainers run theirs on the device
// (src/gpu/trainer.ts, sequence-trainer.ts).
import type { AnyModel, Batch, ForwardOptions, ForwardResult, GenerateOptions, StepTrainer, Trainer } from './types.js';
import { validateForwardCall, validateGenerateCall } from './validate-forward.js';
import { cpuForward, cpuGenerate } from './cpu/sequence/infer.js';
import { assertUsable } from './lifecycle.js';

export function forwardOnCpu(model: AnyModel, batch: Batch, options?: ForwardOptions): ForwardResult {
  return cpuForward(validateForwardCall(model, batch, options), batch);
}

export function generateOnCpu(model: AnyModel, options: GenerateOptions): Int32Array {
  return cpuGenerate(validateGenerateCall(model, options));
}

/** Gives a backend's trainer forward and generate on its current parameters (read() on the CPU is a copy, no transfer). */
export function withInference<M extends AnyModel>(trainer: StepTrainer<M>): Trainer<M> {
  return Object.assign(trainer, {
    async forward(batch: Batch, options?: ForwardOptions): Promise<ForwardResult> {
      assertUsable(trainer, 'trainer');
      return forwardOnCpu(await trainer.read(), batch, options);
    },
    async generate(options: GenerateOptions): Promise<Int32Array> {
      assertUsable(trainer, 'trainer');
      return generateOnCpu(await trainer.read(), options);
    },
  });
}

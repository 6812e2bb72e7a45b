/// <reference types="@webgpu/types" preserve="true" />
// webgpu-bptt: the public names. Shapes and layouts: shared/spec/MATH.md.
export { createEngine } from './engine.js';
export type { Engine, AdapterSummary, SelfCheckResult } from './engine.js';
export type { GemmTiming } from './gpu/bench-gemm.js';
export type { DeviceApi, LayerSpec, WeightBuffers, ForwardArgs, ForwardOutputs, BackwardArgs, BackwardOutputs } from './gpu/device-api.js';
export type { StackSpec, StackStash, StackForwardArgs, StackForwardOutputs, StackBackwardArgs, StackBackwardOutputs } from './gpu/stack-device-api.js';
export type {
  Activation,
  AnyModel,
  BackendName,
  Batch,
  CellKind,
  ForwardOptions,
  ForwardResult,
  GenerateOptions,
  SequenceGradients,
  SequenceHead,
  SequenceLayer,
  SequenceLayerGradients,
  SequenceModel,
  EngineOptions,
  EngineStats,
  GradientOptions,
  GradientResult,
  LossKind,
  OptimizerOptions,
  RnnModel,
  StepOptions,
  StepResult,
  Trainer,
  TrainerOptions,
  Truncation,
} from './types.js';
export { BpttInputError, BpttDeviceError } from './errors.js';
export { makeRng, uniformArray } from './rng.js';
export { truncationXi } from './truncation.js';
export { packParams, unpackParams, paramLayout } from './params.js';
export { fromTorch, toTorch, type TorchOptions } from './torch.js';

// The WebGPU backend (issue 3). Placeholder until the kernels land.
import type { Batch, EngineStats, GradientResult, RnnModel, Trainer, TrainerOptions } from '../types.js';
import type { Problem } from '../validate.js';
import type { AdapterSummary, SelfCheckResult } from '../engine.js';
import { BpttDeviceError } from '../errors.js';

export interface GpuBackend {
  readonly adapter: AdapterSummary;
  readonly device: GPUDevice;
  gradients(model: RnnModel, batch: Batch, problem: Problem): Promise<GradientResult>;
  trainer(model: RnnModel, options: TrainerOptions): Trainer;
  stats(): EngineStats;
  selfCheck(): Promise<SelfCheckResult>;
  dispose(): void;
}

export async function createGpuBackend(_options: { device?: GPUDevice; allowFallbackAdapter: boolean }): Promise<GpuBackend> {
  throw new BpttDeviceError('WebGPU backend not built yet');
}

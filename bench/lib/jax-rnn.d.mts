import type { Batch, RnnModel } from '../../src/index.js';
import type { Grads } from '../page/runner.js';
export declare function makeJaxRnn(
  jax: unknown,
  spec: { T: number; B: number; d: number; h: number; q: number; tokens: boolean; loss: string; learningRate: number },
  model: RnnModel,
  batch: Batch,
  device: 'wasm' | 'webgpu',
): { gradients(): Promise<Grads>; step(): Promise<void>; dispose(): void };

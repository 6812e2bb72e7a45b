import type { Batch, SequenceModel } from '../../src/index.js';
import type { Grads } from '../page/runner.js';
export declare function makeJaxStack(
  jax: unknown,
  spec: { T: number; B: number; d: number; h: number; q: number; tokens: boolean; loss: string; learningRate: number; cell: 'rnn' | 'gru' | 'lstm'; numLayers: number },
  model: SequenceModel,
  batch: Batch,
  device: 'wasm' | 'webgpu',
): { gradients(): Promise<Grads>; step(): Promise<void>; dispose(): void };

// What a case needs from each backend: the checked gradient call, a training
// step, and (for this library's WebGPU engine) its dispatch and memory counts.
import type { EngineStats } from '../../src/index.js';

/** Loss and parameter gradients, in the library's layouts (MATH.md). */
export interface Grads {
  loss: number;
  dWhx: Float32Array; // [h, d]
  dWhh: Float32Array; // [h, h]
  dWqh: Float32Array; // [q, h]
  dbh: Float32Array; // [h]
  dbq: Float32Array; // [q]
}

export interface CaseRunner {
  /** Makes this backend current (TensorFlow.js keeps one); not timed. */
  enter(): Promise<void>;
  /** Forward, loss and every parameter gradient, read back to the page. */
  gradients(): Promise<Grads>;
  /** One SGD training step; only the loss is read back. */
  step(): Promise<void>;
  stats?(): EngineStats;
  about?: string; // how it runs, for the report
  dispose(): void;
}

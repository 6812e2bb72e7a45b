// What a case needs from each backend: the checked gradient call, a training
// step, and (for this library's WebGPU engine) its dispatch and memory counts.
import type { EngineStats } from '../../src/index.js';

/**
 * Loss and parameter gradients, in the library's layouts (MATH.md): for an
 * RnnModel dWhx [h, d], dWhh [h, h], dWqh [q, h], dbh [h], dbq [q]; for a
 * stack the names of stackGradNames (l{k}.dWx [G*h, n_in], l{k}.dWh, l{k}.dbx,
 * l{k}.dbh, head.dW [q, h], head.db [q]).
 */
export type Grads = { loss: number } & { [name: string]: number | Float32Array };

export interface CaseRunner {
  /** Makes this backend current (TensorFlow.js keeps one); not timed. */
  enter(): Promise<void>;
  /** Forward, loss and every parameter gradient, read back to the page. */
  gradients(): Promise<Grads>;
  /** One SGD training step; only the loss is read back. */
  step(): Promise<void>;
  /** The forward-only call with the loss read back (this library's engines). */
  forward?(): Promise<void>;
  stats?(): EngineStats;
  about?: string; // how it runs, for the report
  dispose(): void;
}

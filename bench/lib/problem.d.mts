import type { Batch, RnnModel } from '../../src/index.js';
export declare function makeProblem<S extends { T: number; B: number; d: number; h: number; q: number; tokens: boolean; loss: string; seed: number }>(
  lib: { makeRng(seed: number): () => number; uniformArray(rng: () => number, n: number, scale?: number): Float32Array },
  spec: S,
): { spec: S; model: RnnModel; batch: Batch };

import type { Batch, RnnModel, SequenceModel } from '../../src/index.js';
type LibRng = { makeRng(seed: number): () => number; uniformArray(rng: () => number, n: number, scale?: number): Float32Array };
export declare function makeProblem<S extends { T: number; B: number; d: number; h: number; q: number; tokens: boolean; loss: string; seed: number }>(
  lib: LibRng,
  spec: S,
): { spec: S; model: RnnModel; batch: Batch };
export declare function makeStackProblem<S extends { T: number; B: number; d: number; h: number; q: number; tokens: boolean; loss: string; seed: number; cell: 'rnn' | 'gru' | 'lstm'; numLayers: number; lengths?: 'uniform' | 'full' }>(
  lib: LibRng,
  spec: S,
): { spec: S; model: SequenceModel; batch: Batch };
export declare function stackGradNames(numLayers: number): string[];

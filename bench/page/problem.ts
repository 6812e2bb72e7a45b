// A seeded model and batch for a case (bench/lib/problem.mjs, shared with the Node benchmark).
import type { Batch, RnnModel } from '../../src/index.js';
import type { RnnCaseSpec } from './types.js';
export { makeProblem } from '../lib/problem.mjs';

export interface Problem {
  spec: RnnCaseSpec;
  model: RnnModel;
  batch: Batch;
}

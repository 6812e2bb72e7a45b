// A seeded model and batch for a case (bench/lib/problem.mjs, shared with the Node benchmark).
import type { Batch, RnnModel, SequenceModel } from '../../src/index.js';
import type { RnnCaseSpec } from './types.js';
import { makeProblem as makeRnnProblem, makeStackProblem } from '../lib/problem.mjs';
export { stackGradNames } from '../lib/problem.mjs';

export interface Problem {
  spec: RnnCaseSpec;
  model: RnnModel;
  batch: Batch;
}

export interface StackProblem {
  spec: RnnCaseSpec & { cell: 'rnn' | 'gru' | 'lstm'; numLayers: number };
  model: SequenceModel;
  batch: Batch;
}

export type AnyProblem = Problem | StackProblem;

export const isStack = (p: AnyProblem): p is StackProblem => 'cell' in p.model;

type LibRng = Parameters<typeof makeRnnProblem>[0];

/** The case's seeded model and batch: a stack when the spec names a cell. */
export function makeProblem(lib: LibRng, spec: RnnCaseSpec): AnyProblem {
  if (spec.cell) return makeStackProblem(lib, { ...spec, cell: spec.cell, numLayers: spec.numLayers ?? 1 });
  return makeRnnProblem(lib, spec);
}

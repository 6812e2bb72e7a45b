// The SequenceModel GPU tables of gpu-sequence.test.ts (odd sizes, every
// truncation), as gpu-variants.test.ts runs them for every kernel variant, and
// the comparison of one call with the CPU engine, per element. (The same rows
// as in gpu-sequence.test.ts, which imports them from here.)
import { expect } from 'vitest';
import { createEngine, type Engine } from '../src/index.js';
import type { GradientOptions, SequenceGradients, Truncation } from '../src/types.js';
import { expectCloseToCpu, GPU_TOL } from './gpu-setup.js';
import { randomSequenceProblem, type SeqSpec } from './sequence-reference.js';

export function expectSequenceClose(where: string, got: SequenceGradients, want: SequenceGradients, tol = GPU_TOL): void {
  expect(got.layers.length).toBe(want.layers.length);
  got.layers.forEach((g, k) => {
    for (const key of ['dWx', 'dWh', 'dbx', 'dbh'] as const) {
      expect(g[key] === undefined, `${where}: layers[${k}].${key} present on one side only`).toBe(want.layers[k][key] === undefined);
      if (want.layers[k][key]) expectCloseToCpu(where, `layers[${k}].${key}`, g[key]!, want.layers[k][key]!, tol);
    }
  });
  expect(got.head === undefined).toBe(want.head === undefined);
  if (want.head) {
    expectCloseToCpu(where, 'head.dW', got.head!.dW, want.head.dW, tol);
    expect(got.head!.db === undefined).toBe(want.head.db === undefined);
    if (want.head.db) expectCloseToCpu(where, 'head.db', got.head!.db!, want.head.db, tol);
  }
  for (const key of ['dh0', 'hT', 'dc0', 'cT', 'dx', 'gradNormPerStep'] as const) {
    expect(got[key] === undefined, `${where}: ${key} present on one side only`).toBe(want[key] === undefined);
    if (want[key]) expectCloseToCpu(where, key, got[key]!, want[key]!, tol);
  }
  if (Number.isNaN(want.loss)) expect(got.loss).toBeNaN();
  else expectCloseToCpu(where, 'loss', [got.loss], [want.loss], { rtol: tol.rtol, atolRel: 0 });
  expectCloseToCpu(where, 'gradNorm', [got.gradNorm], [want.gradNorm], { rtol: tol.rtol, atolRel: 0 });
  expect(got.clipped, `${where}: clipped`).toBe(want.clipped);
  expect(got.nonFinite).toBe(false);
}

/** One gradient call on `gpu` against the CPU engine (the float64 reference), every output per element, and one submit. */
export async function checkSequence(gpu: Engine, spec: SeqSpec, truncation: Truncation, extra: Partial<GradientOptions> = {}, lengths?: Int32Array): Promise<void> {
  const { model, batch } = randomSequenceProblem(spec);
  if (lengths) batch.lengths = lengths;
  const loss = spec.loss ?? (spec.q > 0 ? 'cross-entropy' : 'none');
  const options: GradientOptions = { loss, truncation, gradNormPerStep: true, inputGradient: !spec.tokens, ...extra };
  const got = await gpu.gradients(model, batch, options);
  cpu ??= await createEngine({ backend: 'cpu' });
  const want = await cpu.gradients(model, batch, options);
  const where = `${spec.cell} L=${spec.L} ${spec.bi ? 'bi' : 'uni'} T=${spec.T} B=${spec.B} h=${spec.h} ${truncation.kind}${lengths ? ' lengths' : ''}`;
  expectSequenceClose(where, got, want);
  expect(got.xi).toEqual(want.xi);
  if (gpu.backend === 'webgpu') expect(gpu.stats().submits).toBe(1);
}
let cpu: Engine | undefined;

// A covering table: every cell, 1 and 2 layers, both directions, every xi
// truncation, biases or not, head or not (dY), tokens and values, each loss,
// clipping; odd sizes h = 33, B = 35.
export const chunked: Truncation = { kind: 'chunked', steps: 2 };
export const randomized: Truncation = { kind: 'randomized', keepProbability: 0.6, seed: 5 };
export const explicitXi: Truncation = { kind: 'randomized', xi: Float32Array.from([1, 0.5, 0, 2, 1]) };
export const full: Truncation = { kind: 'full' };
export const odd = { T: 5, B: 35, d: 7, h: 33 };
export const COVERING_TABLE: Array<[SeqSpec, Truncation, Partial<GradientOptions>]> = [
  [{ cell: 'lstm', L: 1, bi: false, ...odd, q: 9, tokens: true, seed: 21 }, full, {}],
  [{ cell: 'lstm', L: 2, bi: true, ...odd, q: 9, states: true, seed: 22 }, chunked, {}],
  [{ cell: 'lstm', L: 2, bi: false, ...odd, q: 0, bias: false, states: true, seed: 23 }, randomized, {}],
  [{ cell: 'lstm', L: 1, bi: true, ...odd, q: 6, loss: 'mse', tokens: true, seed: 24 }, explicitXi, { clipNorm: 0.01 }],
  [{ cell: 'gru', L: 1, bi: false, ...odd, q: 9, bias: false, states: true, seed: 31 }, chunked, {}],
  [{ cell: 'gru', L: 2, bi: true, ...odd, q: 9, tokens: true, seed: 32 }, full, {}],
  [{ cell: 'gru', L: 2, bi: false, ...odd, q: 4, loss: 'none', states: true, seed: 33 }, explicitXi, {}],
  [{ cell: 'gru', L: 1, bi: true, ...odd, q: 0, seed: 34 }, randomized, { clipNorm: 0.01 }],
  [{ cell: 'rnn', L: 2, bi: true, ...odd, q: 9, activation: 'relu', states: true, seed: 41 }, randomized, {}],
  [{ cell: 'rnn', L: 1, bi: false, ...odd, q: 5, loss: 'mse', bias: false, seed: 42 }, chunked, {}],
  [{ cell: 'rnn', L: 2, bi: false, ...odd, q: 9, tokens: true, activation: 'identity', seed: 43 }, full, { clipNorm: 0.01 }],
  [{ cell: 'rnn', L: 1, bi: true, ...odd, q: 0, bias: false, states: true, seed: 44 }, explicitXi, {}],
];

/** Different lengths (packed-sequence semantics): sequence 0 has T steps, sequence 1 one, the others spread. */
export const lengthsOf = (B: number, T: number, seed: number) => Int32Array.from({ length: B }, (_, b) => (b === 0 ? T : b === 1 ? 1 : 1 + ((b * 7 + seed) % T)));
export const LENGTHS_ROWS: Array<[SeqSpec, Truncation, Partial<GradientOptions>]> = [
  [{ cell: 'lstm', L: 2, bi: true, ...odd, q: 9, states: true, seed: 61 }, chunked, {}],
  [{ cell: 'lstm', L: 1, bi: false, ...odd, q: 0, states: true, seed: 62 }, explicitXi, { clipNorm: 0.01 }],
  [{ cell: 'gru', L: 2, bi: true, ...odd, q: 4, loss: 'mse', tokens: true, states: true, seed: 63 }, randomized, {}],
  [{ cell: 'gru', L: 1, bi: false, ...odd, q: 5, loss: 'none', seed: 64 }, full, {}],
  [{ cell: 'rnn', L: 2, bi: true, ...odd, q: 0, states: true, seed: 65 }, explicitXi, {}],
  [{ cell: 'rnn', L: 1, bi: false, ...odd, q: 9, tokens: true, activation: 'relu', seed: 66 }, full, {}],
];

/** window(tau) rows: one direction; tau > T is full. */
export const WINDOW_ROWS: Array<[SeqSpec, number, Partial<GradientOptions>]> = [
  [{ cell: 'lstm', L: 2, bi: false, ...odd, q: 9, states: true, seed: 25 }, 2, {}],
  [{ cell: 'lstm', L: 1, bi: false, ...odd, q: 0, bias: false, states: true, seed: 26 }, 3, { clipNorm: 0.01 }],
  [{ cell: 'gru', L: 2, bi: false, ...odd, q: 9, tokens: true, states: true, seed: 35 }, 3, {}],
  [{ cell: 'gru', L: 1, bi: false, ...odd, q: 4, loss: 'mse', seed: 36 }, 1, {}],
  [{ cell: 'rnn', L: 2, bi: false, ...odd, q: 0, states: true, seed: 45 }, 2, {}],
  [{ cell: 'rnn', L: 1, bi: false, ...odd, q: 9, tokens: true, seed: 46 }, 9, {}], // tau > T: full
];

// SequenceModel gradients on the WebGPU engine against the float64 reference:
// rnn, gru, lstm x (1, 2 layers) x (one, both directions) x truncations, with
// and without biases and head, tokens and values, at odd sizes, and one case
// at the benchmark's h = 256, B = 32; the dispatch count of the formula in
// src/gpu/sequence-encode.ts, and one submit per call.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../src/index.js';
import type { GradientOptions, SequenceGradients, Truncation } from '../src/types.js';
import { truncationXi } from '../src/truncation.js';
import { gpuEngine, expectCloseToCpu, printWorst, GPU_TOL } from './gpu-setup.js';
import { randomSequenceProblem, referenceSequenceGradients, type SeqSpec } from './sequence-reference.js';

let gpu: Engine;
beforeAll(async () => {
  gpu = await gpuEngine();
});
afterAll(() => {
  gpu?.dispose();
  printWorst('gpu-sequence.test.ts');
});

function expectSequenceClose(where: string, got: SequenceGradients, want: SequenceGradients, tol = GPU_TOL): void {
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

async function check(spec: SeqSpec, truncation: Truncation, extra: Partial<GradientOptions> = {}): Promise<void> {
  const { model, batch } = randomSequenceProblem(spec);
  const loss = spec.loss ?? (spec.q > 0 ? 'cross-entropy' : 'none');
  const options: GradientOptions = { loss, truncation, gradNormPerStep: true, inputGradient: !spec.tokens, ...extra };
  const got = await gpu.gradients(model, batch, options);
  const xi = truncationXi(truncation, spec.T)!;
  const want = referenceSequenceGradients(model, batch, { loss, xi, inputGradient: options.inputGradient, clipNorm: options.clipNorm });
  if (!options.gradNormPerStep) delete want.gradNormPerStep;
  if (truncation.kind === 'randomized') want.xi = xi;
  const where = `${spec.cell} L=${spec.L} ${spec.bi ? 'bi' : 'uni'} T=${spec.T} B=${spec.B} h=${spec.h} ${truncation.kind}`;
  expectSequenceClose(where, got, want);
  expect(got.xi).toEqual(want.xi);
  expect(gpu.stats().submits).toBe(1);
}

describe('small cases', () => {
  for (const cell of ['rnn', 'gru', 'lstm'] as const) {
    it(`${cell}: one layer, one direction, full`, async () => {
      await check({ cell, L: 1, bi: false, T: 3, B: 2, d: 3, h: 4, q: 5, states: true, seed: 1 }, { kind: 'full' });
    });
    it(`${cell}: two layers, both directions, full`, async () => {
      await check({ cell, L: 2, bi: true, T: 4, B: 3, d: 3, h: 5, q: 4, states: true, seed: 2 }, { kind: 'full' });
    });
  }
});

// An RnnModel run through the SequenceModel path (one 'rnn' layer whose single
// bias is bx, and a head) equals the vanilla reference of src/cpu/gradients.ts
// exactly: the same float32 results, bit for bit, for every activation, loss,
// truncation, bias choice, tokens and values. The gradient norm sums the same
// squares in another order (the flat layouts differ), so it agrees to 1e-14.
import { describe, expect, it } from 'vitest';
import type { LossKind, Truncation } from '../src/types.js';
import { cpuGradients } from '../src/cpu/gradients.js';
import { cpuSequenceGradients } from '../src/cpu/sequence/gradients.js';
import { rnnAsSequence } from '../src/sequence-model.js';
import { validateGradientCall } from '../src/validate.js';
import { sequenceProblemOfRnn } from '../src/validate-sequence.js';
import { randomProblem } from './helpers.js';

const TRUNCATIONS: Truncation[] = [
  { kind: 'full' },
  { kind: 'chunked', steps: 2 },
  { kind: 'randomized', keepProbability: 0.6, seed: 5 },
  { kind: 'window', steps: 3 },
];

const CASES: Array<{ activation: 'tanh' | 'relu' | 'identity'; loss: LossKind; bias: boolean; tokens: boolean; clipNorm?: number }> = [
  { activation: 'tanh', loss: 'cross-entropy', bias: true, tokens: false },
  { activation: 'relu', loss: 'mse', bias: false, tokens: true },
  { activation: 'identity', loss: 'none', bias: true, tokens: true },
  { activation: 'tanh', loss: 'mse', bias: true, tokens: false, clipNorm: 0.01 },
];

/** Both paths on one call: every output equal (NaN where NaN), the norm to 1e-14 or both not finite. */
function expectSame(model: ReturnType<typeof randomProblem>['model'], batch: ReturnType<typeof randomProblem>['batch'], options: Parameters<typeof validateGradientCall>[2]): void {
  const problem = validateGradientCall(model, batch, options);
  const old = cpuGradients(model, batch, problem);
  const neu = cpuSequenceGradients(rnnAsSequence(model), batch, sequenceProblemOfRnn(model.activation, problem, null));
  expect(neu.layers[0].dWx).toEqual(old.dWhx);
  expect(neu.layers[0].dWh).toEqual(old.dWhh);
  expect(neu.head!.dW).toEqual(old.dWqh);
  expect(neu.layers[0].dbx).toEqual(old.dbh);
  expect(neu.layers[0].dbh).toBeUndefined();
  expect(neu.head!.db).toEqual(old.dbq);
  expect(neu.dh0).toEqual(old.dh0);
  expect(neu.hT).toEqual(old.hT);
  expect(neu.dx).toEqual(old.dx);
  expect(neu.gradNormPerStep).toEqual(old.gradNormPerStep);
  expect(neu.xi).toEqual(old.xi);
  expect(neu.loss).toEqual(old.loss);
  expect(neu.clipped).toBe(old.clipped);
  expect(neu.nonFinite).toBe(old.nonFinite);
  if (Number.isFinite(old.gradNorm)) expect(Math.abs(neu.gradNorm - old.gradNorm)).toBeLessThanOrEqual(1e-14 * old.gradNorm);
  else expect(neu.gradNorm).toEqual(old.gradNorm);
}

describe('non-finite and float32-range semantics are the vanilla reference\'s', () => {
  const base = { T: 6, B: 2, d: 4, h: 5, q: 3, h0: true, dhT: true } as const;
  const cases: Array<[string, (m: ReturnType<typeof randomProblem>) => void]> = [
    ['a NaN recurrent weight', (p) => (p.model.Whh[7] = NaN)],
    ['an infinite input', (p) => ((p.batch.x as Float32Array)[9] = Infinity)],
    ['weights that overflow float32 in the forward pass', (p) => p.model.Whx.forEach((_, i) => (p.model.Whx[i] = 1e37))],
    ['an upstream gradient that overflows the carry', (p) => p.batch.dO!.forEach((_, i) => (p.batch.dO![i] = 3e38))],
  ];
  for (const [name, spoil] of cases) {
    for (const truncation of TRUNCATIONS) {
      it(`${name}, ${truncation.kind}`, () => {
        const p = randomProblem({ ...base, activation: 'identity', loss: 'none', seed: 17 });
        spoil(p);
        expectSame(p.model, p.batch, { loss: 'none', truncation, inputGradient: true, gradNormPerStep: true, clipNorm: 1 });
      });
    }
  }
});

describe('RnnModel through the SequenceModel path equals the vanilla reference', () => {
  for (const c of CASES) {
    for (const truncation of TRUNCATIONS) {
      it(`${c.activation} ${c.loss} bias ${c.bias} ${c.tokens ? 'tokens' : 'values'} clip ${c.clipNorm ?? '-'} ${truncation.kind}`, () => {
        const { model, batch } = randomProblem({ T: 7, B: 3, d: 5, h: 6, q: 4, ...c, h0: true, dhT: true, seed: 7 });
        const options = { loss: c.loss, truncation, clipNorm: c.clipNorm, inputGradient: !c.tokens, gradNormPerStep: true };
        const problem = validateGradientCall(model, batch, options);
        const old = cpuGradients(model, batch, problem);
        const neu = cpuSequenceGradients(rnnAsSequence(model), batch, sequenceProblemOfRnn(model.activation, problem, null));
        expect(neu.layers[0].dWx).toEqual(old.dWhx);
        expect(neu.layers[0].dWh).toEqual(old.dWhh);
        expect(neu.head!.dW).toEqual(old.dWqh);
        expect(neu.layers[0].dbx).toEqual(old.dbh);
        expect(neu.layers[0].dbh).toBeUndefined();
        expect(neu.head!.db).toEqual(old.dbq);
        expect(neu.dh0).toEqual(old.dh0);
        expect(neu.hT).toEqual(old.hT);
        expect(neu.dx).toEqual(old.dx);
        expect(neu.gradNormPerStep).toEqual(old.gradNormPerStep);
        expect(neu.xi).toEqual(old.xi);
        if (c.loss === 'none') expect(neu.loss).toBeNaN();
        else expect(neu.loss).toBe(old.loss);
        expect(neu.clipped).toBe(old.clipped);
        expect(neu.nonFinite).toBe(old.nonFinite);
        expect(Math.abs(neu.gradNorm - old.gradNorm)).toBeLessThanOrEqual(1e-14 * old.gradNorm);
      });
    }
  }
});

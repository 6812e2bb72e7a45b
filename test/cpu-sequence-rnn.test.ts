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

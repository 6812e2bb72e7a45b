// The float64 reference of the GPU sequence tests, checked by central finite
// differences on every parameter, dh0/dc0 and dx (full truncation, mse and
// cross-entropy), so the oracle of gpu-sequence.test.ts is itself verified.
// Truncation is checked the same way: with xi = 0 at step t the gradient is
// that of a forward pass whose state into step t is a constant.
import { describe, expect, it } from 'vitest';
import { createEngine } from '../src/index.js';
import { truncationXi } from '../src/truncation.js';
import type { Batch, SequenceModel, Truncation } from '../src/types.js';
import { expectClose, randomProblem } from './helpers.js';
import { randomSequenceProblem, referenceSequenceGradients, referenceWindowGradients, type SeqSpec } from './sequence-reference.js';

function lossOf(model: SequenceModel, batch: Batch): number {
  return referenceSequenceGradients(model, batch, { loss: 'mse', xi: new Float32Array(batch.steps).fill(1), stateTerms: true }).loss;
}

/** Central differences in float64 by perturbing one element of a Float32Array (f64 copies keep the step exact). */
function fd(arr: Float32Array, i: number, f: () => number): number {
  const eps = 1e-3;
  const v = arr[i];
  arr[i] = v + eps;
  const hi = arr[i]; // the float32 values actually used
  const up = f();
  arr[i] = v - eps;
  const lo = arr[i];
  const down = f();
  arr[i] = v;
  return (up - down) / (hi - lo);
}

describe('the float64 sequence reference against finite differences', () => {
  for (const cell of ['rnn', 'gru', 'lstm'] as const) {
    for (const bi of [false, true]) {
      it(`${cell} L=2 ${bi ? 'bi' : 'uni'}: every parameter, dh0, dc0, dx`, () => {
        const spec: SeqSpec = { cell, L: 2, bi, T: 3, B: 2, d: 3, h: 3, q: 2, loss: 'mse', states: true, seed: 11 };
        const { model, batch } = randomSequenceProblem(spec);
        const g = referenceSequenceGradients(model, batch, { loss: 'mse', xi: new Float32Array(3).fill(1), inputGradient: true });
        const f = () => lossOf(model, batch);
        let worst = 0;
        const cmp = (name: string, got: number, want: number) => {
          const err = Math.abs(got - want) / (1e-6 + 1e-3 * Math.abs(want));
          worst = Math.max(worst, err);
          expect(err, `${name}: analytic ${got} vs numeric ${want}`).toBeLessThan(1);
        };
        model.layers.forEach((p, k) => {
          for (const key of ['Wx', 'Wh', 'bx', 'bh'] as const) {
            const a = p[key]!;
            const d = g.layers[k][`d${key}` as 'dWx'];
            for (let i = 0; i < a.length; i++) cmp(`layers[${k}].d${key}[${i}]`, d![i], fd(a, i, f));
          }
        });
        for (let i = 0; i < model.head!.W.length; i++) cmp(`head.dW[${i}]`, g.head!.dW[i], fd(model.head!.W, i, f));
        for (let i = 0; i < batch.h0!.length; i++) cmp(`dh0[${i}]`, g.dh0[i], fd(batch.h0!, i, f));
        if (cell === 'lstm') for (let i = 0; i < batch.c0!.length; i++) cmp(`dc0[${i}]`, g.dc0![i], fd(batch.c0!, i, f));
        for (let i = 0; i < batch.x.length; i++) cmp(`dx[${i}]`, g.dx![i], fd(batch.x as Float32Array, i, f));
      });
    }
  }
});

describe('the reference on a one-layer rnn equals the RnnModel CPU engine', () => {
  const truncations: Truncation[] = [{ kind: 'full' }, { kind: 'chunked', steps: 2 }, { kind: 'window', steps: 2 }, { kind: 'window', steps: 3 }];
  it.each(truncations.map((t) => [`${t.kind} ${'steps' in t ? t.steps : ''}`, t] as const))('%s', async (_name, truncation) => {
    const { model: rnn, batch } = randomProblem({ T: 6, B: 3, d: 4, h: 5, q: 3, bias: false, h0: true, dhT: true, seed: 7 });
    const seq: SequenceModel = { cell: 'rnn', inputSize: 4, hiddenSize: 5, layers: [{ Wx: rnn.Whx, Wh: rnn.Whh }], head: { outputSize: 3, W: rnn.Wqh } };
    const engine = await createEngine({ backend: 'cpu' });
    const want = await engine.gradients(rnn, batch, { loss: 'cross-entropy', truncation, inputGradient: true, gradNormPerStep: true });
    const got =
      truncation.kind === 'window'
        ? referenceWindowGradients(seq, batch, { loss: 'cross-entropy', tau: truncation.steps, inputGradient: true })
        : referenceSequenceGradients(seq, batch, { loss: 'cross-entropy', xi: truncationXi(truncation, 6)!, inputGradient: true });
    const tol = { rtol: 1e-5, atol: 1e-7 };
    expectClose('dWhx', got.layers[0].dWx, want.dWhx, tol);
    expectClose('dWhh', got.layers[0].dWh, want.dWhh, tol);
    expectClose('dWqh', got.head!.dW, want.dWqh, tol);
    expectClose('dh0', got.dh0, want.dh0, tol);
    expectClose('dx', got.dx!, want.dx!, tol);
    expectClose('gradNormPerStep', got.gradNormPerStep!, want.gradNormPerStep!, tol);
    engine.dispose();
  });
});

describe("the reference equals the CPU engine's SequenceModel gradients", () => {
  const cases: Array<[SeqSpec, Truncation]> = [
    [{ cell: 'lstm', L: 2, bi: true, T: 4, B: 3, d: 3, h: 4, q: 3, states: true, seed: 3 }, { kind: 'chunked', steps: 2 }],
    [{ cell: 'gru', L: 2, bi: false, T: 5, B: 2, d: 3, h: 4, q: 0, states: true, seed: 4 }, { kind: 'window', steps: 2 }],
    [{ cell: 'rnn', L: 2, bi: true, T: 4, B: 2, d: 3, h: 4, q: 3, tokens: true, activation: 'relu', seed: 5 }, { kind: 'randomized', xi: Float32Array.from([1, 0, 2, 0.5]) }],
  ];
  it.each(cases.map((c) => [`${c[0].cell} ${c[1].kind}`, ...c] as const))('%s', async (_n, spec, truncation) => {
    const { model, batch } = randomSequenceProblem(spec);
    const loss = spec.q ? 'cross-entropy' : 'none';
    const engine = await createEngine({ backend: 'cpu' });
    const want = await engine.gradients(model, batch, { loss, truncation, gradNormPerStep: true, inputGradient: !spec.tokens });
    const got =
      truncation.kind === 'window'
        ? referenceWindowGradients(model, batch, { loss, tau: truncation.steps, inputGradient: !spec.tokens })
        : referenceSequenceGradients(model, batch, { loss, xi: truncationXi(truncation, spec.T)!, inputGradient: !spec.tokens });
    const tol = { rtol: 1e-5, atol: 1e-7 };
    got.layers.forEach((g, k) => {
      expectClose(`layers[${k}].dWx`, g.dWx, want.layers[k].dWx, tol);
      expectClose(`layers[${k}].dWh`, g.dWh, want.layers[k].dWh, tol);
    });
    for (const key of ['dh0', 'hT', 'dc0', 'cT', 'dx', 'gradNormPerStep'] as const) {
      expect(got[key] === undefined, key).toBe(want[key] === undefined);
      if (want[key]) expectClose(key, got[key]!, want[key]!, tol);
    }
    engine.dispose();
  });
});

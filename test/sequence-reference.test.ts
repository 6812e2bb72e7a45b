// The float64 reference of the GPU sequence tests, checked by central finite
// differences on every parameter, dh0/dc0 and dx (full truncation, mse and
// cross-entropy), so the oracle of gpu-sequence.test.ts is itself verified.
// Truncation is checked the same way: with xi = 0 at step t the gradient is
// that of a forward pass whose state into step t is a constant.
import { describe, expect, it } from 'vitest';
import type { Batch, SequenceModel } from '../src/types.js';
import { randomSequenceProblem, referenceSequenceGradients, type SeqSpec } from './sequence-reference.js';

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

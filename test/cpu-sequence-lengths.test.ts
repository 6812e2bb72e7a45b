// Packed sequences (batch.lengths): the float64 reference with lengths equals
// the same computation done by slicing each sequence to its own length and
// running it alone (B = 1, T = n_b), then adding the per-sequence gradients.
// loss 'none' (dO, or dY without head) keeps the per-row weights of the two the
// same; the sums run in another order, so they agree to 1e-12 relative, not bit
// for bit. Every cell, both directions, two layers, every truncation.
import { describe, expect, it } from 'vitest';
import type { Batch, CellKind, SequenceModel, Truncation } from '../src/types.js';
import { sequencePass, flat64 } from '../src/cpu/sequence/gradients.js';
import { sequenceLayout } from '../src/sequence-params.js';
import { validateSequenceCall } from '../src/validate-sequence.js';
import { expectClose } from './helpers.js';
import { randomSequenceProblem } from './cpu-sequence-helpers.js';

const T = 6;
const B = 3;
const LENGTHS = [6, 2, 4];
const h = 3;

/** Rows of sequence b, t < n, of a [T, B, w] tensor, as a [n, 1, w] one. */
function slice(a: ArrayLike<number>, b: number, n: number, w: number): Float32Array {
  const out = new Float32Array(n * w);
  for (let t = 0; t < n; t++) for (let j = 0; j < w; j++) out[t * w + j] = a[(t * B + b) * w + j];
  return out;
}

/** Sequence b's [K, 1, h] part of a [K, B, h] state tensor. */
function sliceState(a: ArrayLike<number>, b: number, K: number): Float32Array {
  const out = new Float32Array(K * h);
  for (let k = 0; k < K; k++) for (let j = 0; j < h; j++) out[k * h + j] = a[(k * B + b) * h + j];
  return out;
}

function run(model: SequenceModel, batch: Batch, truncation: Truncation, inputGradient: boolean) {
  const p = validateSequenceCall(model, batch, { loss: 'none', truncation, inputGradient, gradNormPerStep: true });
  const layout = sequenceLayout(model);
  return sequencePass(layout, flat64(model, layout), batch, p);
}

const TRUNCATIONS: Truncation[] = [
  { kind: 'full' },
  { kind: 'chunked', steps: 2 },
  { kind: 'randomized', xi: Float32Array.from([1.5, 0.5, 0, 2, 1, 0.25]) },
  { kind: 'window', steps: 2 },
];

describe('lengths: the batch equals each sequence sliced and run alone', () => {
  for (const cell of ['rnn', 'gru', 'lstm'] as CellKind[]) {
    for (const bidirectional of [false, true]) {
      for (const truncation of TRUNCATIONS) {
        if (bidirectional && truncation.kind === 'window') continue;
        for (const head of [true, false]) {
          it(`${cell} ${bidirectional ? 'bidirectional' : 'forward'} ${truncation.kind} ${head ? 'head, dO' : 'no head, dY'}`, () => {
            const { model, batch } = randomSequenceProblem({ cell, T, B, d: 4, h, q: head ? 3 : undefined, L: 2, bidirectional, loss: 'none', lengths: LENGTHS, states: true, seed: 41 });
            const dirs = bidirectional ? 2 : 1;
            const K = 2 * dirs;
            const all = run(model, batch, truncation, true);
            const sum = new Float64Array(all.grad.length);
            const norms = new Float64Array(K * T);
            for (let b = 0; b < B; b++) {
              const n = LENGTHS[b];
              const one: Batch = { steps: n, batchSize: 1, x: slice(batch.x, b, n, 4) };
              if (head) one.dO = slice(batch.dO!, b, n, 3);
              else one.dY = slice(batch.dY!, b, n, dirs * h);
              for (const key of ['h0', 'c0', 'dhT', 'dcT'] as const) if (batch[key]) one[key] = sliceState(batch[key]!, b, K);
              const tr: Truncation = truncation.kind === 'randomized' ? { kind: 'randomized', xi: (truncation as { xi: Float32Array }).xi.slice(0, n) } : truncation;
              const alone = run(model, one, tr, true);
              for (let i = 0; i < sum.length; i++) sum[i] += alone.grad[i];
              for (let k = 0; k < K; k++) for (let t = 0; t < n; t++) norms[k * T + t] += alone.norms[k * n + t];
              const tol = { rtol: 1e-12, atol: 1e-15 };
              expectClose(`hT of ${b}`, sliceState(all.trace.hT, b, K), Float32Array.from(alone.trace.hT), { rtol: 1e-7, atol: 0 });
              expectClose(`hT of ${b} (f64)`, Array.from({ length: K * h }, (_, i) => all.trace.hT[(Math.floor(i / h) * B + b) * h + (i % h)]), alone.trace.hT, tol);
              expectClose(`dh0 of ${b}`, Array.from({ length: K * h }, (_, i) => all.dh0[(Math.floor(i / h) * B + b) * h + (i % h)]), alone.dh0, tol);
              if (cell === 'lstm') {
                expectClose(`cT of ${b}`, Array.from({ length: K * h }, (_, i) => all.trace.cT![(Math.floor(i / h) * B + b) * h + (i % h)]), alone.trace.cT!, tol);
                expectClose(`dc0 of ${b}`, Array.from({ length: K * h }, (_, i) => all.dc0![(Math.floor(i / h) * B + b) * h + (i % h)]), alone.dc0!, tol);
              }
              const dx = Array.from({ length: T * 4 }, (_, i) => all.dx![(Math.floor(i / 4) * B + b) * 4 + (i % 4)]);
              expectClose(`dx of ${b}`, dx.slice(0, n * 4), alone.dx!, tol);
              expect(dx.slice(n * 4).every((v) => v === 0), `dx of ${b} past its end`).toBe(true);
              // outputs past the end are zero
              const Y = all.trace.Y[1];
              for (let t = n; t < T; t++) for (let j = 0; j < dirs * h; j++) expect(Y[(t * B + b) * dirs * h + j]).toBe(0);
            }
            expectClose('parameter gradients', all.grad, sum, { rtol: 1e-12, atol: 1e-15 });
            expectClose('per-step norms', all.norms, norms, { rtol: 1e-12, atol: 1e-15 });
          });
        }
      }
    }
  }
});

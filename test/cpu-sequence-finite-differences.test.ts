// Central finite differences against the CPU reference of a SequenceModel, in
// float64, on every element of every output: each layer's dWx, dWh, dbx, dbh,
// the head's dW, db, dx, dh0, dc0, and ||dL/dh_t|| (gradNormPerStep) from
// shifts of h_t itself; the loss, hT and cT against the independent forward.
//
// The covering table: every cell x (1, 2 layers) x (one, both directions) x
// every truncation (full, chunked(2), randomized with an explicit xi, and
// window(2) for one direction), 42 cases. The other choices rotate over the
// cases by index so that each appears with every cell: biases or none, head
// (cross-entropy, mse, 'none' with dO) or none (dY), tokens or values, lengths
// or none. Every case has h0/c0 and dhT/dcT.
//
// The objective (test/cpu-sequence-helpers.ts) is written per sequence from
// MATH.md, independently of src/cpu/sequence. Tolerance per element:
// |ref - fd| <= 2e-9 + 2e-6 |fd| (eps 1e-4: truncation error ~1e-8 relative,
// the reference returns float32, 6e-8 relative).
import { beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../src/index.js';
import type { CellKind, LossKind, Truncation } from '../src/types.js';
import { expectClose, type Tolerance } from './helpers.js';
import { finiteDifference } from './cpu-helpers.js';
import { baseline, forwardOutputs, objective, randomSequenceProblem, type Objective } from './cpu-sequence-helpers.js';

const EPS = 1e-4;
const FD_TOL: Tolerance = { rtol: 2e-6, atol: 2e-9 };
const T = 5;
const B = 2;

let engine: Engine;
beforeAll(async () => {
  engine = await createEngine({ backend: 'cpu' });
});

const TRUNCATIONS: Truncation[] = [
  { kind: 'full' },
  { kind: 'chunked', steps: 2 },
  { kind: 'randomized', xi: Float32Array.from([2.5, 1, 0, 1.25, 0.5]) },
  { kind: 'window', steps: 2 },
];

interface Variant {
  bias: boolean;
  headBias?: boolean; // default: as bias
  head: LossKind | null; // the loss with a head, or no head (dY)
  tokens: boolean;
  lengths: number[] | undefined;
}

// rotated by case index: 6 variants cover biases x head kinds x tokens x lengths
const VARIANTS: Variant[] = [
  { bias: true, head: 'cross-entropy', tokens: true, lengths: [5, 3] },
  { bias: false, head: null, tokens: false, lengths: undefined },
  { bias: true, head: 'mse', tokens: false, lengths: [2, 5] },
  { bias: false, head: 'cross-entropy', tokens: false, lengths: undefined },
  { bias: true, head: 'none', tokens: true, lengths: [4, 1] },
  { bias: true, head: null, tokens: false, lengths: [3, 5] },
];

async function check(cell: CellKind, L: number, bidirectional: boolean, truncation: Truncation, v: Variant, seed: number): Promise<number> {
  const { model, batch } = randomSequenceProblem({
    cell,
    T,
    B,
    d: 3,
    h: 3,
    q: v.head ? 3 : undefined,
    L,
    bidirectional,
    bias: v.bias,
    headBias: v.headBias,
    loss: v.head ?? 'none',
    tokens: v.tokens,
    lengths: v.lengths,
    states: true,
    seed,
  });
  const loss: LossKind = v.head ?? 'none';
  const res = await engine.gradients(model, batch, { loss, truncation, inputGradient: !v.tokens, gradNormPerStep: true });
  const dirs = bidirectional ? 2 : 1;
  const h = model.hiddenSize;
  const K = L * dirs;

  // forward values
  const fwd = forwardOutputs(model, batch);
  expectClose('hT', res.hT, fwd.hT, { rtol: 1e-6, atol: 1e-7 });
  if (cell === 'lstm') expectClose('cT', res.cT!, fwd.cT, { rtol: 1e-6, atol: 1e-7 });
  else expect(res.cT).toBeUndefined();
  if (loss === 'none') expect(res.loss).toBeNaN();
  else expectClose('loss', [res.loss], [objective(model, { ...batch, dhT: undefined, dcT: undefined }, { loss }).value], { rtol: 1e-12, atol: 0 });

  const hShift = new Float64Array(K * T * B * h);
  const o: Objective = { loss, hShift };
  if (truncation.kind === 'window') o.tau = truncation.steps;
  else if (truncation.kind === 'chunked') o.xi = Float64Array.from({ length: T }, (_, i) => (i > 0 && i % truncation.steps === 0 ? 0 : 1));
  else if (truncation.kind === 'randomized') o.xi = Float64Array.from((truncation as { xi: Float32Array }).xi);
  // sg: the baseline states, taken before any perturbation
  if (o.xi || o.tau) o.sg = baseline(model, batch);
  const evaluate = () => objective(model, batch, o);

  let elements = 0;
  const compare = (name: string, got: ArrayLike<number> | undefined, arr: Float32Array | Float64Array) => {
    expect(got, name).toBeDefined();
    const fd = finiteDifference(arr, evaluate, EPS);
    expectClose(name, got!, fd.grad, FD_TOL);
    elements += fd.grad.length;
  };
  model.layers.forEach((layer, k) => {
    compare(`layers[${k}].dWx`, res.layers[k].dWx, layer.Wx);
    compare(`layers[${k}].dWh`, res.layers[k].dWh, layer.Wh);
    if (v.bias) {
      compare(`layers[${k}].dbx`, res.layers[k].dbx, layer.bx!);
      compare(`layers[${k}].dbh`, res.layers[k].dbh, layer.bh!);
    } else {
      expect(res.layers[k].dbx).toBeUndefined();
      expect(res.layers[k].dbh).toBeUndefined();
    }
  });
  if (model.head) {
    compare('head.dW', res.head!.dW, model.head.W);
    if (model.head.b) compare('head.db', res.head!.db, model.head.b);
    else expect(res.head!.db).toBeUndefined();
  } else {
    expect(res.head).toBeUndefined();
  }
  if (!v.tokens) compare('dx', res.dx, batch.x as Float32Array);
  else expect(res.dx).toBeUndefined();
  compare('dh0', res.dh0, batch.h0!);
  if (cell === 'lstm') compare('dc0', res.dc0, batch.c0!);
  else expect(res.dc0).toBeUndefined();

  // ||dL/dh_t|| per layer-direction and t, from shifts of h_t
  const dH = finiteDifference(hShift, evaluate, EPS).grad;
  elements += dH.length;
  const want = new Float64Array(K * T);
  for (let i = 0; i < K * T; i++) {
    let s = 0;
    for (let e = 0; e < B * h; e++) s += dH[i * B * h + e] ** 2;
    want[i] = Math.sqrt(s);
  }
  expectClose('gradNormPerStep', res.gradNormPerStep!, want, FD_TOL);
  return elements;
}

describe('SequenceModel gradients equal finite differences on every element', () => {
  let index = 0;
  for (const cell of ['rnn', 'gru', 'lstm'] as CellKind[]) {
    for (const L of [1, 2]) {
      for (const bidirectional of [false, true]) {
        for (const truncation of TRUNCATIONS) {
          if (bidirectional && truncation.kind === 'window') continue;
          const v = VARIANTS[index % VARIANTS.length];
          const seed = 1000 + index++;
          const name = `${cell} L=${L} ${bidirectional ? 'bidirectional' : 'forward'} ${truncation.kind} bias=${v.bias} ${v.head ? `head ${v.head}` : 'no head (dY)'} ${v.tokens ? 'tokens' : 'values'} lengths=${v.lengths ?? '-'}`;
          it(name, async () => {
            const n = await check(cell, L, bidirectional, truncation, v, seed);
            expect(n).toBeGreaterThan(50);
          });
        }
      }
    }
  }
});

describe('the cases a covering table could miss', () => {
  it('gru and lstm with every variant, two layers, one direction, full truncation', async () => {
    let i = 0;
    for (const cell of ['gru', 'lstm'] as CellKind[]) for (const v of VARIANTS) await check(cell, 2, false, { kind: 'full' }, v, 3000 + i++);
  });
  it('a head bias without layer biases, and layer biases with a head without bias', async () => {
    await check('lstm', 2, true, { kind: 'chunked', steps: 2 }, { bias: false, headBias: true, head: 'cross-entropy', tokens: false, lengths: [4, 5] }, 3100);
    await check('gru', 1, false, { kind: 'window', steps: 3 }, { bias: true, headBias: false, head: 'mse', tokens: true, lengths: undefined }, 3101);
  });
  it('window(tau >= T) is full truncation', async () => {
    const { model, batch } = randomSequenceProblem({ cell: 'lstm', T, B, d: 3, h: 3, q: 3, L: 2, states: true, lengths: [5, 2], seed: 77 });
    const full = await engine.gradients(model, batch, { loss: 'cross-entropy' });
    const win = await engine.gradients(model, batch, { loss: 'cross-entropy', truncation: { kind: 'window', steps: T + 3 } });
    expect(win.layers).toEqual(full.layers);
    expect(win.dh0).toEqual(full.dh0);
    expect(win.dc0).toEqual(full.dc0);
  });
});


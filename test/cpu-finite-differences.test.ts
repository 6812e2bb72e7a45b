// Central finite differences against the CPU reference, for every activation,
// loss, bias choice and truncation strategy of MATH.md.
//
// The objective differentiated is J = L + sum(dhT * h_T) (L = sum(dO * o) for
// loss 'none'), computed by the independent float64 forward passes of
// cpu-helpers.ts; truncation is expressed there with a detached baseline
// trajectory sg, so that dJ/dtheta is exactly the truncated gradient. Every
// element of every output is checked: dWhx, dWhh, dWqh, dbh, dbq, dx, dh0, and
// ||dH_t|| (gradNormPerStep) from differences with respect to h_t itself.
//
// Tolerance, per element: |ref - fd| <= FD_TOL.atol + FD_TOL.rtol * |fd|.
// With eps = 1e-4 the float64 central difference is accurate to about
// eps^2 * |J'''| ~ 1e-8 and roundoff ~1e-12; the reference returns float32
// (relative 6e-8). The worst ratio measured over the whole file is about 0.11
// (an error of 2e-7 relative), so a wrong factor anywhere fails by far.
import { beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../src/index.js';
import type { Activation, Batch, GradientResult, LossKind, RnnModel, Truncation } from '../src/types.js';
import { expectClose, randomProblem, type Tolerance } from './helpers.js';
import {
  dropSkipped,
  finiteDifference,
  forward64,
  objective64,
  outputGrad64,
  windowObjective64,
  type FiniteDifference,
  type ForwardOptions,
} from './cpu-helpers.js';

const EPS = 1e-4;
const FD_TOL: Tolerance = { rtol: 2e-6, atol: 2e-9 };
// Brute-force window(tau) from sub-sequence calls: float32 h0 and dO per call.
const BRUTE_TOL: Tolerance = { rtol: 1e-5, atol: 1e-8 };

let engine: Engine;
beforeAll(async () => {
  engine = await createEngine({ backend: 'cpu' });
});

interface TruncationCase {
  name: string;
  truncation: Truncation;
}

// For T = 5: chunked cuts at t = 3, 5; the explicit xi has values other than 0 and 1
// everywhere, xi_1 = 2.5 included (it scales dh0).
const TRUNCATIONS: TruncationCase[] = [
  { name: 'full', truncation: { kind: 'full' } },
  { name: 'chunked(2)', truncation: { kind: 'chunked', steps: 2 } },
  { name: 'randomized(xi)', truncation: { kind: 'randomized', xi: Float32Array.from([2.5, 1, 0, 1.25, 0]) } },
  { name: 'randomized(0.5, seed 11)', truncation: { kind: 'randomized', keepProbability: 0.5, seed: 11 } },
  { name: 'window(2)', truncation: { kind: 'window', steps: 2 } },
];

/** xi_1..xi_T the objective must use: computed here from MATH.md, not by src/truncation.ts. */
function xiFor(truncation: Truncation, T: number, result: GradientResult): Float64Array | undefined {
  switch (truncation.kind) {
    case 'full':
    case 'window':
      return undefined;
    case 'chunked': {
      const xi = new Float64Array(T).fill(1);
      for (let t = 2; t <= T; t++) if ((t - 1) % truncation.steps === 0) xi[t - 1] = 0;
      return xi;
    }
    case 'randomized': {
      if ('xi' in truncation) return Float64Array.from(truncation.xi);
      // the draws are checked in cpu-identities; here the gradient must match the xi it reports
      expect(result.xi, 'result.xi').toBeDefined();
      return Float64Array.from(result.xi!);
    }
  }
}

interface Checked {
  elements: number;
  skipped: number;
}

/**
 * Finite differences of every output of one gradient call. Returns how many
 * elements were compared and how many were skipped at relu kinks.
 */
async function checkAgainstFiniteDifferences(model: RnnModel, batch: Batch, loss: LossKind, truncation: Truncation): Promise<Checked> {
  const tokens = batch.x instanceof Int32Array;
  const res = await engine.gradients(model, batch, { loss, truncation, inputGradient: !tokens, gradNormPerStep: true });
  const T = batch.steps;
  const B = batch.batchSize;
  const h = model.hiddenSize;
  const base = forward64(model, batch);
  const xi = xiFor(truncation, T, res);
  const hShift = new Float64Array((T + 1) * B * h);
  const opts: ForwardOptions & { sg: Float64Array } = { xi, sg: base.H, basePre: base.A, hShift };
  const evaluate =
    truncation.kind === 'window'
      ? () => windowObjective64(model, batch, loss, truncation.steps, opts)
      : () => objective64(model, batch, loss, opts);

  // the forward values: loss and hT
  if (loss === 'none') expect(res.loss).toBeNaN();
  else expectClose('loss', [res.loss], [objective64(model, { ...batch, dhT: undefined }, loss).value], { rtol: 1e-12, atol: 0 });
  expectClose('hT', res.hT, base.H.subarray(T * B * h), { rtol: 1e-6, atol: 1e-7 });

  let elements = 0;
  let skipped = 0;
  const compare = (name: string, got: ArrayLike<number> | undefined, fd: FiniteDifference) => {
    expect(got, name).toBeDefined();
    const [g, w] = dropSkipped(got!, fd.grad);
    expectClose(name, g, w, FD_TOL);
    elements += fd.grad.length;
    skipped += fd.skipped;
  };
  compare('dWhx', res.dWhx, finiteDifference(model.Whx, evaluate, EPS));
  compare('dWhh', res.dWhh, finiteDifference(model.Whh, evaluate, EPS));
  compare('dWqh', res.dWqh, finiteDifference(model.Wqh, evaluate, EPS));
  if (model.bh && model.bq) {
    compare('dbh', res.dbh, finiteDifference(model.bh, evaluate, EPS));
    compare('dbq', res.dbq, finiteDifference(model.bq, evaluate, EPS));
  } else {
    expect(res.dbh).toBeUndefined();
    expect(res.dbq).toBeUndefined();
  }
  if (!tokens) compare('dx', res.dx, finiteDifference(batch.x as Float32Array, evaluate, EPS));
  else expect(res.dx).toBeUndefined();
  compare('dh0', res.dh0, finiteDifference(batch.h0!, evaluate, EPS));

  // ||dH_t||: dJ/dh_t from shifts of h_t itself, then the Frobenius norm over the batch per t
  const dH = finiteDifference(hShift.subarray(B * h), evaluate, EPS);
  skipped += dH.skipped;
  elements += dH.grad.length;
  const want = new Float64Array(T);
  for (let t = 0; t < T; t++) {
    let s = 0;
    for (let e = 0; e < B * h; e++) s += dH.grad[t * B * h + e] ** 2;
    want[t] = Math.sqrt(s); // NaN if an element was skipped: dropped below
  }
  expect(res.gradNormPerStep?.length).toBe(T);
  const [g, w] = dropSkipped(res.gradNormPerStep!, want);
  expectClose('gradNormPerStep', g, w, FD_TOL);
  return { elements, skipped };
}

/** relu must see both branches, and finite differences may skip only a few elements at kinks. */
function expectMeaningfulRelu(model: RnnModel, batch: Batch, checked: Checked): void {
  const { A } = forward64(model, batch);
  const active = A.filter((a) => a > 0).length / A.length;
  expect(active, 'fraction of active relu units').toBeGreaterThan(0.2);
  expect(active, 'fraction of active relu units').toBeLessThan(0.8);
  expect(checked.skipped, `elements skipped at relu kinks, of ${checked.elements}`).toBeLessThanOrEqual(0.05 * checked.elements);
}

const ACTIVATIONS: Activation[] = ['identity', 'tanh', 'relu'];
const LOSSES: LossKind[] = ['cross-entropy', 'mse', 'none'];

describe('finite differences, odd sizes T=5 B=3 d=4 h=7 q=5, h0 and dhT given', () => {
  for (const activation of ACTIVATIONS) {
    for (const loss of LOSSES) {
      for (const bias of [true, false]) {
        describe(`${activation}, ${loss}, ${bias ? 'biases' : 'no biases'}`, () => {
          it.each(TRUNCATIONS)('$name', async ({ truncation }) => {
            const { model, batch } = randomProblem({ T: 5, B: 3, d: 4, h: 7, q: 5, activation, loss, bias, h0: true, dhT: true, seed: 3 });
            const checked = await checkAgainstFiniteDifferences(model, batch, loss, truncation);
            expect(checked.elements).toBe(model.Whx.length + model.Whh.length + model.Wqh.length + (bias ? 12 : 0) + 60 + 21 + 105);
            if (activation === 'relu') expectMeaningfulRelu(model, batch, checked);
            else expect(checked.skipped).toBe(0);
          });
        });
      }
    }
  }
});

describe('finite differences, token ids', () => {
  it.each(TRUNCATIONS)('tanh, cross-entropy, $name', async ({ truncation }) => {
    const { model, batch } = randomProblem({ T: 5, B: 3, d: 6, h: 7, q: 5, tokens: true, h0: true, dhT: true, seed: 5 });
    const checked = await checkAgainstFiniteDifferences(model, batch, 'cross-entropy', truncation);
    expect(checked.skipped).toBe(0);
  });
});

describe('finite differences, edge sizes (T, B, h of 1)', () => {
  const sizes = [
    { T: 1, B: 1, d: 1, h: 1, q: 2 },
    { T: 3, B: 1, d: 2, h: 1, q: 2 },
    { T: 2, B: 2, d: 1, h: 3, q: 1 },
  ];
  const truncations: Truncation[] = [{ kind: 'full' }, { kind: 'chunked', steps: 1 }, { kind: 'window', steps: 1 }, { kind: 'randomized', xi: new Float32Array([0.5, 0, 4]) }];
  for (const size of sizes) {
    it.each(truncations.map((truncation) => ({ truncation, kind: truncation.kind })))(`T=${size.T} B=${size.B} d=${size.d} h=${size.h} q=${size.q}, mse, $kind`, async ({ truncation }) => {
      const t = truncation.kind === 'randomized' ? { kind: 'randomized' as const, xi: (truncation as { xi: Float32Array }).xi.slice(0, size.T) } : truncation;
      const { model, batch } = randomProblem({ ...size, activation: 'tanh', loss: 'mse', h0: true, dhT: true, seed: 13 });
      const checked = await checkAgainstFiniteDifferences(model, batch, 'mse', t);
      expect(checked.skipped).toBe(0);
    });
  }
});

describe('finite differences, a larger round size T=16 B=4 d=8 h=16 q=8', () => {
  const cases: { activation: Activation; truncation: Truncation }[] = [
    { activation: 'tanh', truncation: { kind: 'full' } },
    { activation: 'tanh', truncation: { kind: 'chunked', steps: 5 } },
    { activation: 'tanh', truncation: { kind: 'window', steps: 4 } },
    { activation: 'relu', truncation: { kind: 'randomized', keepProbability: 0.7, seed: 2 } },
  ];
  it.each(cases)('$activation, cross-entropy, $truncation.kind', async ({ activation, truncation }) => {
    const { model, batch } = randomProblem({ T: 16, B: 4, d: 8, h: 16, q: 8, activation, h0: true, dhT: true, seed: 9 });
    const checked = await checkAgainstFiniteDifferences(model, batch, 'cross-entropy', truncation);
    if (activation === 'relu') expectMeaningfulRelu(model, batch, checked);
    else expect(checked.skipped).toBe(0);
  });
});

/**
 * window(tau) by brute force from the reference itself: for each loss term l_s, a
 * call with loss 'none' on steps s-tau+1..s (1..s when s <= tau) whose dO is
 * nonzero only at step s, from h0 = h_{s-tau} (batch.h0 when s <= tau), with
 * batch.dhT for s = T. The per-term gradients are summed; dh0 collects only
 * from the calls that start at h_0.
 */
async function windowBruteForce(model: RnnModel, batch: Batch, loss: LossKind, tau: number) {
  const T = batch.steps;
  const B = batch.batchSize;
  const { d, h, q } = { d: model.inputSize, h: model.hiddenSize, q: model.outputSize };
  const tokens = batch.x instanceof Int32Array;
  const xw = tokens ? 1 : d; // elements of x per row
  const { H, O } = forward64(model, batch);
  const dO = Float32Array.from(outputGrad64(model, batch, loss, O));
  const sum = {
    dWhx: new Float64Array(h * d),
    dWhh: new Float64Array(h * h),
    dWqh: new Float64Array(q * h),
    dbh: new Float64Array(h),
    dbq: new Float64Array(q),
    dx: new Float64Array(T * B * d),
    dh0: new Float64Array(B * h),
  };
  const add = (to: Float64Array, from: ArrayLike<number> | undefined, offset = 0) => {
    if (from) for (let i = 0; i < from.length; i++) to[offset + i] += from[i];
  };
  for (let s = 1; s <= T; s++) {
    const r0 = Math.max(0, s - tau);
    const steps = s - r0;
    const subDO = new Float32Array(steps * B * q);
    subDO.set(dO.subarray((s - 1) * B * q, s * B * q), (steps - 1) * B * q);
    const x = batch.x.slice(r0 * B * xw, s * B * xw);
    const sub: Batch = {
      steps,
      batchSize: B,
      x,
      dO: subDO,
      h0: r0 === 0 ? batch.h0 : Float32Array.from(H.subarray(r0 * B * h, (r0 + 1) * B * h)),
      dhT: s === T ? batch.dhT : undefined,
    };
    const r = await engine.gradients(model, sub, { loss: 'none', inputGradient: !tokens });
    add(sum.dWhx, r.dWhx);
    add(sum.dWhh, r.dWhh);
    add(sum.dWqh, r.dWqh);
    add(sum.dbh, r.dbh);
    add(sum.dbq, r.dbq);
    add(sum.dx, r.dx, r0 * B * d);
    if (r0 === 0) add(sum.dh0, r.dh0);
  }
  return sum;
}

describe('window(tau) equals the sum of per-term gradients of restarted forward passes', () => {
  const cases = [
    { activation: 'tanh' as Activation, loss: 'cross-entropy' as LossKind, tau: 1 },
    { activation: 'tanh' as Activation, loss: 'cross-entropy' as LossKind, tau: 3 },
    { activation: 'relu' as Activation, loss: 'mse' as LossKind, tau: 2 },
    { activation: 'identity' as Activation, loss: 'none' as LossKind, tau: 4 },
  ];
  it.each(cases)('$activation, $loss, window($tau), T=7 B=3 d=4 h=7 q=5', async ({ activation, loss, tau }) => {
    const { model, batch } = randomProblem({ T: 7, B: 3, d: 4, h: 7, q: 5, activation, loss, h0: true, dhT: true, seed: 21 });
    const res = await engine.gradients(model, batch, { loss, truncation: { kind: 'window', steps: tau }, inputGradient: true });
    const want = await windowBruteForce(model, batch, loss, tau);
    expectClose('dWhx', res.dWhx, want.dWhx, BRUTE_TOL);
    expectClose('dWhh', res.dWhh, want.dWhh, BRUTE_TOL);
    expectClose('dWqh', res.dWqh, want.dWqh, BRUTE_TOL);
    expectClose('dbh', res.dbh!, want.dbh, BRUTE_TOL);
    expectClose('dbq', res.dbq!, want.dbq, BRUTE_TOL);
    expectClose('dx', res.dx!, want.dx, BRUTE_TOL);
    expectClose('dh0', res.dh0, want.dh0, BRUTE_TOL);
    // the window really cuts paths: the full gradient differs
    const full = await engine.gradients(model, batch, { loss });
    expect(Math.max(...full.dWhh.map((v, i) => Math.abs(v - res.dWhh[i])))).toBeGreaterThan(1e-4 * Math.max(...full.dWhh.map(Math.abs)));
  });
});

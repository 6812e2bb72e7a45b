// The CPU layer walk runs the rnn recipe's own steps, the chapter's functions
// of src/cpu/kernels.ts (rnnForwardStep, rnnBackwardStep with its dh0 step,
// windowBackwardStep), exactly where runsChapterKernels says the GPU runs the
// chapter's kernels, and the cell steps (sequenceForwardStep, ...) everywhere
// else; the two give the same gradients. Observed through pass-through spies
// on both kernel modules, and compared: an RnnModel (the chapter's path) against
// the same call with lengths all equal to T (the cell path), per element to
// 1e-12 relative, for every activation, loss, truncation, bias choice, tokens
// and values, and for the non-finite and float32-range cases.
import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { Batch, GradientOptions, GradientResult, LossKind, RnnModel, SequenceGradients, SequenceModel, Truncation } from '../src/types.js';
import * as chapterKernels from '../src/cpu/kernels.js';
import * as cellKernels from '../src/cpu/sequence/kernels.js';
import { cpuRnnGradients } from '../src/cpu/rnn-gradients.js';
import { cpuSequenceGradients } from '../src/cpu/sequence/gradients.js';
import { cpuForward } from '../src/cpu/sequence/infer.js';
import { createCpuTrainer } from '../src/cpu/trainer.js';
import { createCpuSequenceTrainer } from '../src/cpu/sequence/trainer.js';
import { layerSteps } from '../src/cpu/sequence/recipe.js';
import { chapterCaseOf, rnnAsSequence, runsChapterKernels } from '../src/sequence-model.js';
import { sequenceLayout } from '../src/sequence-params.js';
import { validateGradientCall } from '../src/validate.js';
import { validateSequenceCall } from '../src/validate-sequence.js';
import { validateForwardCall } from '../src/validate-forward.js';
import { expectClose, randomProblem } from './helpers.js';
import { randomSequenceProblem } from './cpu-sequence-helpers.js';

vi.mock('../src/cpu/kernels.js', async (importOriginal) => {
  const m = await importOriginal<typeof import('../src/cpu/kernels.js')>();
  return { ...m, rnnForwardStep: vi.fn(m.rnnForwardStep), rnnBackwardStep: vi.fn(m.rnnBackwardStep), windowBackwardStep: vi.fn(m.windowBackwardStep) };
});
vi.mock('../src/cpu/sequence/kernels.js', async (importOriginal) => {
  const m = await importOriginal<typeof import('../src/cpu/sequence/kernels.js')>();
  return {
    ...m,
    sequenceForwardStep: vi.fn(m.sequenceForwardStep),
    sequenceBackwardStep: vi.fn(m.sequenceBackwardStep),
    sequenceWindowBackwardStep: vi.fn(m.sequenceWindowBackwardStep),
  };
});

const TRUNCATIONS: Truncation[] = [
  { kind: 'full' },
  { kind: 'chunked', steps: 2 },
  { kind: 'randomized', keepProbability: 0.6, seed: 5 },
  { kind: 'window', steps: 3 },
];

/** How often each step function ran since the last reset. */
function calls() {
  const n = (f: unknown) => vi.mocked(f as (...a: unknown[]) => unknown).mock.calls.length;
  return {
    chapter: { forward: n(chapterKernels.rnnForwardStep), backward: n(chapterKernels.rnnBackwardStep), window: n(chapterKernels.windowBackwardStep) },
    cell: { forward: n(cellKernels.sequenceForwardStep), backward: n(cellKernels.sequenceBackwardStep), window: n(cellKernels.sequenceWindowBackwardStep) },
  };
}

/** The calls a gradient call of T steps makes on one path, none on the other (one layer: T per sweep, and the chapter's dh0 step). */
function expectedCalls(chapter: boolean, T: number, window: boolean) {
  const none = { forward: 0, backward: 0, window: 0 };
  if (chapter) return { chapter: { forward: T, backward: window ? 1 : T + 1, window: window ? T : 0 }, cell: none };
  return { chapter: none, cell: { forward: T, backward: window ? 0 : T, window: window ? T : 0 } };
}

beforeEach(() => vi.clearAllMocks());

/**
 * got and want per element: |got - want| <= 1e-12 (|want| + max |want|) where want is finite, the same
 * NaN or infinity where it is not (non-finite values are results too: both paths must make the same).
 */
function expectSame(name: string, got: ArrayLike<number>, want: ArrayLike<number>): void {
  expect(got.length, `${name}: length`).toBe(want.length);
  const finite = (a: ArrayLike<number>) => Array.from(a, (v, i) => (Number.isFinite(want[i]) ? v : 0));
  const nonFinite = (a: ArrayLike<number>) => Array.from(a, (v, i) => (Number.isFinite(want[i]) ? 0 : v));
  expect(nonFinite(got), `${name}: non-finite elements`).toEqual(nonFinite(want));
  const w = finite(want);
  const scale = Math.max(...w.map(Math.abs));
  expectClose(name, finite(got), w, { rtol: 1e-12, atol: 1e-12 * scale || Number.MIN_VALUE });
}

/** Every field of two RnnModel results. */
function expectSameRnn(got: GradientResult, want: GradientResult): void {
  for (const key of ['dWhx', 'dWhh', 'dWqh', 'dbh', 'dbq', 'dh0', 'hT', 'dx', 'gradNormPerStep', 'xi'] as const) {
    const w = want[key];
    if (w === undefined) expect(got[key], key).toBeUndefined();
    else expectSame(key, got[key]!, w);
  }
  expectSame('loss', [got.loss], [want.loss]);
  expectSame('gradNorm', [got.gradNorm], [want.gradNorm]);
  expect(got.clipped).toBe(want.clipped);
  expect(got.nonFinite).toBe(want.nonFinite);
}

/** An RnnModel call on the CPU reference, and the same with lengths all T (the cell steps). */
function bothPaths(model: RnnModel, batch: Batch, options: GradientOptions): { chapter: GradientResult; cell: GradientResult } {
  const T = batch.steps;
  vi.clearAllMocks();
  const chapter = cpuRnnGradients(model, batch, validateGradientCall(model, batch, options));
  expect(calls()).toEqual(expectedCalls(true, T, options.truncation?.kind === 'window'));
  vi.clearAllMocks();
  const padded = { ...batch, lengths: new Int32Array(batch.batchSize).fill(T) };
  const cell = cpuRnnGradients(model, padded, validateGradientCall(model, padded, options));
  expect(calls()).toEqual(expectedCalls(false, T, options.truncation?.kind === 'window'));
  return { chapter, cell };
}

const CASES: Array<{ activation: 'tanh' | 'relu' | 'identity'; loss: LossKind; bias: boolean; tokens: boolean; clipNorm?: number }> = [
  { activation: 'tanh', loss: 'cross-entropy', bias: true, tokens: false },
  { activation: 'relu', loss: 'mse', bias: false, tokens: true },
  { activation: 'identity', loss: 'none', bias: true, tokens: true },
  { activation: 'tanh', loss: 'mse', bias: true, tokens: false, clipNorm: 0.01 },
  { activation: 'relu', loss: 'cross-entropy', bias: false, tokens: false },
];

describe("an RnnModel runs the chapter's steps, and with lengths all T the cell steps, to the same gradients", () => {
  for (const c of CASES) {
    for (const truncation of TRUNCATIONS) {
      it(`${c.activation} ${c.loss} bias ${c.bias} ${c.tokens ? 'tokens' : 'values'} clip ${c.clipNorm ?? '-'} ${truncation.kind}`, () => {
        const { model, batch } = randomProblem({ T: 7, B: 3, d: 5, h: 9, q: 4, ...c, h0: true, dhT: true, seed: 7 });
        const { chapter, cell } = bothPaths(model, batch, { loss: c.loss, truncation, clipNorm: c.clipNorm, inputGradient: !c.tokens, gradNormPerStep: true });
        expectSameRnn(chapter, cell);
        if (c.loss === 'none') expect(chapter.loss).toBeNaN();
        if (c.clipNorm !== undefined) expect(chapter.clipped).toBe(true);
      });
    }
  }

  it('window(tau >= T) is full BPTT on both paths, and window(1) keeps only each step its own term', () => {
    const { model, batch } = randomProblem({ T: 5, B: 2, d: 3, h: 7, q: 3, h0: true, dhT: true, seed: 11 });
    const full = bothPaths(model, batch, { loss: 'cross-entropy', truncation: { kind: 'full' } });
    const long = bothPaths(model, batch, { loss: 'cross-entropy', truncation: { kind: 'window', steps: 9 } });
    expectSameRnn(long.chapter, full.chapter);
    expectSameRnn(long.cell, full.cell);
    const one = bothPaths(model, batch, { loss: 'cross-entropy', truncation: { kind: 'window', steps: 1 } });
    expectSameRnn(one.chapter, one.cell);
  });
});

describe("non-finite and float32-range semantics are the same on the chapter's steps and the cell steps", () => {
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
        const { chapter, cell } = bothPaths(p.model, p.batch, { loss: 'none', truncation, inputGradient: true, gradNormPerStep: true, clipNorm: 1 });
        expectSameRnn(chapter, cell);
      });
    }
  }
});

/** A one-layer rnn SequenceModel's gradients, the steps it ran checked against runsChapterKernels. */
function sequenceCall(model: SequenceModel, batch: Batch, options: GradientOptions): { result: SequenceGradients; chapter: boolean } {
  vi.clearAllMocks();
  const p = validateSequenceCall(model, batch, options);
  const layout = sequenceLayout(model);
  const chapter = runsChapterKernels(chapterCaseOf(p, layout));
  expect(layerSteps(p, layout).name).toBe(chapter ? 'chapter' : 'cell');
  const result = cpuSequenceGradients(model, batch, p);
  if (p.L === 1 && p.dirs === 1) expect(calls()).toEqual(expectedCalls(chapter, p.T, options.truncation?.kind === 'window'));
  else expect(calls().chapter).toEqual({ forward: 0, backward: 0, window: 0 });
  return { result, chapter };
}

describe('a SequenceModel takes the chapter\'s steps exactly when runsChapterKernels holds', () => {
  const spec = { T: 5, B: 3, d: 4, h: 7, q: 3, seed: 23 } as const;
  const SHAPES: Array<[string, Parameters<typeof randomSequenceProblem>[0], boolean]> = [
    ['one bias-free rnn layer and a bias-free head', { ...spec, cell: 'rnn', bias: false, headBias: false }, true],
    ['one bias-free rnn layer, relu, tokens, a bias-free head', { ...spec, cell: 'rnn', bias: false, headBias: false, activation: 'relu', tokens: true }, true],
    ['an rnn layer with bx and bh', { ...spec, cell: 'rnn', bias: true }, false],
    ['a bias-free rnn layer under a head with a bias', { ...spec, cell: 'rnn', bias: false, headBias: true }, false],
    ['a bias-free rnn layer without head', { ...spec, q: undefined, cell: 'rnn', bias: false }, false],
    ['two bias-free rnn layers', { ...spec, cell: 'rnn', bias: false, headBias: false, L: 2 }, false],
    ['a bias-free bidirectional rnn layer', { ...spec, cell: 'rnn', bias: false, headBias: false, bidirectional: true }, false],
    ['a bias-free gru layer', { ...spec, cell: 'gru', bias: false, headBias: false }, false],
    ['a bias-free lstm layer', { ...spec, cell: 'lstm', bias: false, headBias: false }, false],
  ];
  for (const [name, s, chapter] of SHAPES) {
    for (const truncation of s.bidirectional ? TRUNCATIONS.slice(0, 3) : TRUNCATIONS) {
      it(`${name}, ${truncation.kind}: ${chapter ? "the chapter's" : 'the cell'} steps`, () => {
        const { model, batch } = randomSequenceProblem({ ...s, states: true });
        const options: GradientOptions = { loss: s.q ? 'cross-entropy' : 'none', truncation, inputGradient: !s.tokens, gradNormPerStep: true };
        expect(sequenceCall(model, batch, options).chapter).toBe(chapter);
        // with lengths all T the cell steps run, to the same gradients
        const padded = { ...batch, lengths: new Int32Array(batch.batchSize).fill(batch.steps) };
        const a = sequenceCall(model, batch, options).result;
        const b = sequenceCall(model, padded, options);
        expect(b.chapter).toBe(false);
        const flat = (r: SequenceGradients) => [...r.layers.flatMap((l) => [...l.dWx, ...l.dWh, ...(l.dbx ?? []), ...(l.dbh ?? [])]), ...(r.head?.dW ?? []), ...(r.head?.db ?? []), ...r.dh0, ...r.hT, ...(r.dx ?? []), ...r.gradNormPerStep!, r.gradNorm];
        expectSame(name, flat(a), flat(b.result));
      });
    }
  }

  it("engine.forward's CPU pass of an RnnModel runs the chapter's forward step, with lengths the cell's", () => {
    const { model, batch } = randomProblem({ T: 6, B: 3, d: 5, h: 9, q: 4, h0: true, seed: 29 });
    const a = cpuForward(validateForwardCall(model, batch, { outputs: ['O', 'Y'] }), batch);
    expect(calls().chapter.forward).toBe(6);
    expect(calls().cell.forward).toBe(0);
    vi.clearAllMocks();
    const padded = { ...batch, lengths: new Int32Array(3).fill(6) };
    const b = cpuForward(validateForwardCall(model, padded, { outputs: ['O', 'Y'] }), padded);
    expect(calls().chapter.forward).toBe(0);
    expect(calls().cell.forward).toBe(6);
    for (const key of ['O', 'Y', 'hT', 'loss'] as const) expect(a[key], key).toEqual(b[key]);
  });

  it("the CPU RnnModel trainer steps through the walk (the chapter's steps; with lengths the cell's), as its SequenceModel's trainer, bit for bit", async () => {
    const { model, batch } = randomProblem({ T: 5, B: 3, d: 4, h: 7, q: 3, bias: false, seed: 31 });
    const options = { optimizer: { kind: 'adam' as const, learningRate: 0.05 }, loss: 'cross-entropy' as const, truncation: { kind: 'randomized' as const, keepProbability: 0.5, seed: 2 }, carryState: true, clipNorm: 0.5 };
    const rnn = createCpuTrainer(model, options);
    const seq = createCpuSequenceTrainer(rnnAsSequence(model), options);
    const padded = { ...batch, lengths: Int32Array.of(5, 5, 5) };
    for (const [k, b] of [batch, batch, padded, batch].entries()) {
      vi.clearAllMocks();
      const got = await rnn.step(b, { readGradNorm: true });
      expect(calls(), `step ${k}`).toEqual(expectedCalls(b.lengths === undefined, 5, false));
      expect(got, `step ${k}`).toEqual(await seq.step(b, { readGradNorm: true }));
    }
    const [a, s] = [await rnn.read(), await seq.read()];
    expect([a.Whx, a.Whh, a.Wqh]).toEqual([s.layers[0].Wx, s.layers[0].Wh, s.head!.W]);
  });
});

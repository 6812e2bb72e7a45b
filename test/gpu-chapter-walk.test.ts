// An RnnModel is one case of the layer walk (issue 10): every call of it records
// the walk of src/gpu/sequence-encode.ts, and the rnn recipe records its own
// step kernels, the chapter's, exactly where runsChapterKernels says so (one rnn
// layer in one direction, no lengths, a head, one bias per product), the cell
// kernels everywhere else. Checked here by the kernels each call dispatched
// (GpuContext.kernelCounts), and by the results: against the CPU reference, and
// the chapter's kernels against the cell kernels on the same model.
import { describe, expect, it } from 'vitest';
import type { Engine } from '../src/index.js';
import type { GpuContext } from '../src/gpu/context.js';
import { runsChapterKernels, type ChapterCase } from '../src/sequence-model.js';
import type { GradientOptions, Truncation } from '../src/types.js';
import { GPU_TOL, bufferOf, expectSameAsCpu, gpuAndCpuEngines } from './gpu-setup.js';
import { randomProblem } from './helpers.js';
import { checkSequence } from './gpu-sequence-cases.js';

const CHAPTER = { forward: 'rnn_forward_step', backward: 'rnn_backward_step', window: 'window_backward_step' };
const CELL = { forward: 'cell_forward_tile4', backward: 'cell_backward_tile4', window: 'cell_window_backward_tile4' };

const engines = gpuAndCpuEngines();

/** Dispatches per kernel file of the engine's last submit. */
function kernels(engine: Engine): Record<string, number> {
  const context = (engine as unknown as { impl: { context: GpuContext } }).impl.context;
  return Object.fromEntries(context.kernelCounts);
}

/** The step kernels of the last call: which family, and how many of each. */
function steps(engine: Engine): { chapter: number; cell: number; counts: Record<string, number> } {
  const counts = kernels(engine);
  const of = (names: string[]) => Object.entries(counts).filter(([k]) => names.some((n) => k.startsWith(n))).reduce((a, [, n]) => a + n, 0);
  return { chapter: of(['rnn_', 'window_backward']), cell: of(['cell_']), counts };
}

describe('runsChapterKernels: the one rule', () => {
  const base: ChapterCase = { cell: 'rnn', L: 1, dirs: 1, hasHead: true, lengths: null, inputBias: true, recurrentBias: false, headBias: true };
  it("holds for the chapter's model (an RnnModel, with or without biases) and nothing else", () => {
    expect(runsChapterKernels(base)).toBe(true);
    expect(runsChapterKernels({ ...base, inputBias: false, headBias: false })).toBe(true);
    const not: Partial<ChapterCase>[] = [
      { cell: 'gru' },
      { cell: 'lstm' },
      { L: 2 },
      { dirs: 2 },
      { hasHead: false },
      { lengths: Int32Array.from([1, 2]) },
      { recurrentBias: true }, // a SequenceModel's pair bx, bh
      { inputBias: false }, // a head bias without a layer bias
      { headBias: false },
    ];
    for (const change of not) expect(runsChapterKernels({ ...base, ...change }), JSON.stringify(change)).toBe(false);
  });
});

describe("an RnnModel's calls record the walk with the chapter's kernels", () => {
  const spec = { T: 6, B: 35, d: 7, h: 33, q: 9, h0: true, dhT: true, seed: 301 };

  it.each([
    ['full', { kind: 'full' }],
    ['randomized', { kind: 'randomized', keepProbability: 0.6, seed: 2 }],
    ['window(3)', { kind: 'window', steps: 3 }],
  ] as [string, Truncation][])('gradients, %s: T forward steps, T + 1 backward (dh0 the last), no cell kernel; equal to the CPU', async (_, truncation) => {
    const { model, batch } = randomProblem({ ...spec, loss: 'cross-entropy' });
    const options: GradientOptions = { loss: 'cross-entropy', truncation, inputGradient: true, gradNormPerStep: true };
    const got = await engines.gpu.gradients(model, batch, options);
    const s = steps(engines.gpu);
    expect(s.cell).toBe(0);
    expect(s.counts[CHAPTER.forward]).toBe(spec.T);
    if (truncation.kind === 'window') {
      expect(s.counts[CHAPTER.window]).toBe(spec.T);
      expect(s.counts[CHAPTER.backward]).toBe(1);
    } else {
      expect(s.counts[CHAPTER.backward]).toBe(spec.T + 1);
    }
    expectSameAsCpu(`chapter ${truncation.kind}`, got, await engines.cpu.gradients(model, batch, options));
  });

  it('with lengths the same RnnModel runs the cell kernels (CELL = rnn), on the same walk', async () => {
    const { model, batch } = randomProblem({ ...spec, loss: 'cross-entropy' });
    batch.lengths = Int32Array.from({ length: spec.B }, (_, b) => 1 + (b % spec.T));
    const options: GradientOptions = { loss: 'cross-entropy', gradNormPerStep: true };
    const got = await engines.gpu.gradients(model, batch, options);
    const s = steps(engines.gpu);
    expect(s.chapter).toBe(0);
    expect(s.counts[CELL.forward]).toBe(spec.T);
    expect(s.counts[CELL.backward]).toBe(spec.T + 1);
    expectSameAsCpu('cell kernels, lengths', got, await engines.cpu.gradients(model, batch, options));
  });

  it("the chapter's kernels and the cell kernels give the same gradients for the same model (lengths all T), odd and round sizes", async () => {
    for (const size of [{ T: 5, B: 35, d: 7, h: 33 }, { T: 4, B: 32, d: 16, h: 64 }]) {
      const { model, batch } = randomProblem({ ...size, q: 9, h0: true, tokens: false, seed: 302 });
      const options: GradientOptions = { loss: 'cross-entropy', inputGradient: true, gradNormPerStep: true };
      const chapter = await engines.gpu.gradients(model, batch, options);
      expect(steps(engines.gpu).cell).toBe(0);
      const cell = await engines.gpu.gradients(model, { ...batch, lengths: new Int32Array(size.B).fill(size.T) }, options);
      expect(steps(engines.gpu).chapter).toBe(0);
      expectSameAsCpu(`chapter against cell kernels, h=${size.h} B=${size.B}`, chapter, cell, GPU_TOL);
    }
  });

  it('the trainer, forward and engine.gpu.forward/backward record the chapter kernels too', async () => {
    const { model, batch } = randomProblem({ ...spec, loss: 'cross-entropy', tokens: true, d: 11 });
    const t = engines.gpu.trainer(model, { optimizer: { kind: 'adam', learningRate: 0.01 }, loss: 'cross-entropy', carryState: true });
    await t.step({ ...batch, h0: undefined, dhT: undefined });
    let s = steps(engines.gpu);
    expect([s.cell, s.counts[CHAPTER.forward], s.counts[CHAPTER.backward]]).toEqual([0, spec.T, spec.T + 1]);
    await t.forward({ ...batch, h0: undefined, dhT: undefined });
    s = steps(engines.gpu);
    expect([s.cell, s.counts[CHAPTER.forward], s.counts[CHAPTER.backward] ?? 0]).toEqual([0, spec.T, 0]);
    t.dispose();

    await engines.gpu.forward(model, { ...batch, dhT: undefined }, { outputs: ['O'] });
    s = steps(engines.gpu);
    expect([s.cell, s.counts[CHAPTER.forward]]).toEqual([0, spec.T]);

    const { model: m, batch: b } = randomProblem({ ...spec, loss: 'none' });
    const device = engines.gpu.device!;
    const weights = { Whx: bufferOf(device, m.Whx), Whh: bufferOf(device, m.Whh), Wqh: bufferOf(device, m.Wqh), bh: bufferOf(device, m.bh!), bq: bufferOf(device, m.bq!) };
    const layer = { inputSize: spec.d, hiddenSize: spec.h, outputSize: spec.q, activation: 'tanh' as const, bias: true };
    const x = bufferOf(device, b.x as Float32Array);
    const fwd = await engines.gpu.gpu.forward({ layer, steps: spec.T, batchSize: spec.B, weights, x });
    s = steps(engines.gpu);
    expect([s.cell, s.counts[CHAPTER.forward]]).toEqual([0, spec.T]);
    const dO = bufferOf(device, b.dO!);
    const bwd = await engines.gpu.gpu.backward({ layer, steps: spec.T, batchSize: spec.B, weights, x, H: fwd.H, dO, truncation: { kind: 'window', steps: 2 } });
    s = steps(engines.gpu);
    expect([s.cell, s.counts[CHAPTER.window], s.counts[CHAPTER.backward]]).toEqual([0, spec.T, 1]);
    for (const buffer of [...Object.values(weights), x, dO, ...Object.values(fwd), ...Object.values(bwd)]) buffer?.destroy();
  });
});

describe("a SequenceModel of the chapter's shape takes the chapter's kernels; any other the cell kernels", () => {
  it('one rnn layer, one direction, no biases: the chapter kernels; with biases (bx and bh): the cell kernels; both equal the CPU', async () => {
    const spec = { cell: 'rnn' as const, L: 1, bi: false, T: 5, B: 35, d: 7, h: 33, q: 9, states: true, seed: 303 };
    await checkSequence(engines.gpu, { ...spec, bias: false, headBias: false }, { kind: 'chunked', steps: 2 });
    expect(steps(engines.gpu).cell).toBe(0);
    expect(steps(engines.gpu).counts[CHAPTER.forward]).toBe(spec.T);
    await checkSequence(engines.gpu, spec, { kind: 'chunked', steps: 2 });
    expect(steps(engines.gpu).chapter).toBe(0);
    await checkSequence(engines.gpu, { ...spec, bias: false, headBias: false, L: 2 }, { kind: 'full' });
    expect(steps(engines.gpu).chapter).toBe(0);
  });
});

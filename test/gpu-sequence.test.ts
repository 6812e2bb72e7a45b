// SequenceModel gradients on the WebGPU engine against the float64 CPU reference (engine 'cpu'):
// rnn, gru, lstm x (1, 2 layers) x (one, both directions) x truncations, with
// and without biases and head, tokens and values, at odd sizes, and one case
// at the benchmark's h = 256, B = 32; the dispatch count of the formula in
// src/gpu/sequence-encode.ts, and one submit per call.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../src/index.js';
import { sequenceLayout } from '../src/sequence-params.js';
import { validateSequenceModel } from '../src/validate-sequence.js';
import { planSequence, sequenceDispatches } from '../src/gpu/sequence-encode.js';
import type { GradientOptions, Truncation } from '../src/types.js';
import { gpuEngine, expectSameAsCpu, printWorst } from './gpu-setup.js';
import { randomProblem } from './helpers.js';
import { randomSequenceProblem, type SeqSpec } from './sequence-reference.js';
import { COVERING_TABLE, LENGTHS_ROWS, WINDOW_ROWS, checkSequence, full, lengthsOf } from './gpu-sequence-cases.js';
import { BpttInputError } from '../src/errors.js';

let gpu: Engine;
let cpu: Engine;
beforeAll(async () => {
  gpu = await gpuEngine();
  cpu = await createEngine({ backend: 'cpu' });
});
afterAll(() => {
  gpu?.dispose();
  cpu?.dispose();
  printWorst('gpu-sequence.test.ts');
});


describe('small cases', () => {
  for (const cell of ['rnn', 'gru', 'lstm'] as const) {
    it(`${cell}: one layer, one direction, full`, async () => {
      await checkSequence(gpu, { cell, L: 1, bi: false, T: 3, B: 2, d: 3, h: 4, q: 5, states: true, seed: 1 }, { kind: 'full' });
    });
    it(`${cell}: two layers, both directions, full`, async () => {
      await checkSequence(gpu, { cell, L: 2, bi: true, T: 4, B: 3, d: 3, h: 5, q: 4, states: true, seed: 2 }, { kind: 'full' });
    });
  }
});

// A covering table: every cell, 1 and 2 layers, both directions, every xi
// truncation, biases or not, head or not (dY), tokens and values, each loss,
// clipping; odd sizes h = 33, B = 35.

describe('odd sizes (h = 33, B = 35): a covering table', () => {
  it.each(COVERING_TABLE.map((row, i) => [i, `${row[0].cell} L=${row[0].L} ${row[0].bi ? 'bi' : 'uni'} ${row[1].kind}${'xi' in row[1] ? ' (xi)' : ''} ${row[0].q ? (row[0].loss ?? 'cross-entropy') : 'dY'}${row[0].tokens ? ' tokens' : ''}${row[0].bias === false ? ' no bias' : ''}${row[2].clipNorm ? ' clipped' : ''}`] as const))(
    '%i: %s',
    async (i) => {
      const [spec, truncation, extra] = COVERING_TABLE[i];
      await checkSequence(gpu, spec, truncation, extra);
    },
  );
});

describe('window(tau): one direction, slots that keep their age down the stack', () => {
  const rows = WINDOW_ROWS;
  it.each(rows.map((r, i) => [i, `${r[0].cell} L=${r[0].L} tau=${r[1]}`] as const))('%i: %s', async (i) => {
    const [spec, tau, extra] = rows[i];
    await checkSequence(gpu, spec, { kind: 'window', steps: tau }, extra);
  });
  it('with both directions it is refused, naming options.truncation, and the engine stays usable', async () => {
    const spec: SeqSpec = { cell: 'gru', L: 1, bi: true, T: 3, B: 2, d: 3, h: 4, q: 3, seed: 47 };
    const { model, batch } = randomSequenceProblem(spec);
    const call = gpu.gradients(model, batch, { loss: 'cross-entropy', truncation: { kind: 'window', steps: 2 } });
    await expect(call).rejects.toThrow(BpttInputError);
    await expect(call).rejects.toMatchObject({ argument: 'options.truncation' });
    await checkSequence(gpu, spec, { kind: 'full' });
  });
});

describe('sequences of different lengths (packed-sequence semantics)', () => {
  const rows = LENGTHS_ROWS;
  it.each(rows.map((r, i) => [i, `${r[0].cell} L=${r[0].L} ${r[0].bi ? 'bi' : 'uni'} ${r[1].kind} ${r[0].q ? (r[0].loss ?? 'cross-entropy') : 'dY'}`] as const))('%i: %s', async (i) => {
    const [spec, truncation, extra] = rows[i];
    await checkSequence(gpu, spec, truncation, extra, lengthsOf(spec.B, spec.T, i));
  });
  // window(tau) with lengths: each sequence's sweep starts at its own end (the window rows, every cell, 1 and 2 layers)
  it.each(WINDOW_ROWS.map((r, i) => [i, `${r[0].cell} L=${r[0].L} tau=${r[1]}`] as const))('window %i: %s', async (i) => {
    const [spec, tau, extra] = WINDOW_ROWS[i];
    await checkSequence(gpu, spec, { kind: 'window', steps: tau }, extra, lengthsOf(spec.B, spec.T, 20 + i));
  });
  it('window at a round size: lstm, 2 layers, T = 8, B = 32, h = 32, tau = 3, dhT and dcT', async () => {
    const spec: SeqSpec = { cell: 'lstm', L: 2, bi: false, T: 8, B: 32, d: 16, h: 32, q: 8, states: true, seed: 67 };
    await checkSequence(gpu, spec, { kind: 'window', steps: 3 }, { clipNorm: 0.05 }, lengthsOf(spec.B, spec.T, 3));
  });
  it('window with both directions stays refused with lengths, naming options.truncation', async () => {
    const spec: SeqSpec = { cell: 'gru', L: 1, bi: true, T: 3, B: 2, d: 3, h: 4, q: 3, seed: 68 };
    const { model, batch } = randomSequenceProblem(spec);
    batch.lengths = Int32Array.from([3, 2]);
    await expect(gpu.gradients(model, batch, { loss: 'cross-entropy', truncation: { kind: 'window', steps: 2 } })).rejects.toMatchObject({ argument: 'options.truncation' });
    await checkSequence(gpu, { ...spec, bi: false }, { kind: 'window', steps: 2 }, {}, Int32Array.from([3, 2]));
  });
});

describe("the benchmark's size", () => {
  it('lstm, 2 layers, h = 256, B = 32, tokens over 28, T = 4', async () => {
    await checkSequence(gpu, { cell: 'lstm', L: 2, bi: false, T: 4, B: 32, d: 28, h: 256, q: 28, tokens: true, seed: 51 }, full, { gradNormPerStep: true });
  });
});

describe('dispatches and submits', () => {
  it('one submit, and exactly the dispatches of the formula 2LT + L + K(3 + 2 bias) + (L-1) dirs + head + 2 (+ clip) (+ dirs dx)', async () => {
    const seen: string[] = [];
    for (const cell of ['rnn', 'gru', 'lstm'] as const) {
      for (const [L, bi, T] of [[1, false, 1], [2, true, 6], [3, false, 9], [2, false, 16]] as const) {
        for (const [q, bias, clip, tokens] of [[5, true, true, false], [0, false, false, true]] as const) {
          const spec: SeqSpec = { cell, L, bi, T, B: 3, d: 4, h: 5, q, bias, tokens, seed: 60 + T };
          const { model, batch } = randomSequenceProblem(spec);
          // the same count under window(tau) (one direction): the second row of each layout uses it
          const truncation: Truncation = !bi && !q ? { kind: 'window', steps: 2 } : { kind: 'chunked', steps: 2 };
          const options: GradientOptions = { loss: q ? 'cross-entropy' : 'none', clipNorm: clip ? 0.5 : undefined, inputGradient: !tokens, truncation };
          await gpu.gradients(model, batch, options);
          const { dispatches, submits } = gpu.stats();
          const dirs = bi ? 2 : 1;
          const K = L * dirs;
          const head = q ? 3 + 1 + (bias ? 1 : 0) : 0;
          const formula = 2 * L * T + L + K * (3 + 2 * (bias ? 1 : 0)) + (L - 1) * dirs + head + 2 + (clip ? 1 : 0) + (tokens ? 0 : dirs);
          const shape = planSequence(validateSequenceModel(model), { T, B: 3, activation: 'tanh', tokens, loss: options.loss, xi: new Float32Array(T) }, sequenceLayout(model));
          expect(sequenceDispatches(shape, { dx: !tokens, clip })).toBe(formula);
          seen.push(`  ${cell} L=${L} ${bi ? 'bi ' : 'uni'} T=${String(T).padStart(2)} ${q ? 'head' : 'dY  '} ${truncation.kind.padEnd(7)}: ${dispatches} dispatches, ${submits} submit`);
          expect(dispatches).toBe(formula);
          expect(submits).toBe(1);
        }
      }
    }
    console.log(`dispatches per SequenceModel gradient call:\n${seen.join('\n')}`);
  });

  it('with lengths: + 2 masks with a loss (O and the row losses), + 1 without (the given dO or dY)', async () => {
    for (const q of [5, 0]) {
      const spec: SeqSpec = { cell: 'lstm', L: 2, bi: true, T: 6, B: 3, d: 4, h: 5, q, seed: 70 };
      const { model, batch } = randomSequenceProblem(spec);
      batch.lengths = Int32Array.from([6, 2, 4]);
      await gpu.gradients(model, batch, { loss: q ? 'cross-entropy' : 'none' });
      const base = 2 * 2 * 6 + 2 + 4 * 5 + 2 + (q ? 5 : 0) + 2;
      expect(gpu.stats().dispatches).toBe(base + (q ? 2 : 1));
      expect(gpu.stats().submits).toBe(1);
    }
  });
});

describe('an RnnModel with lengths on WebGPU', () => {
  it('runs as its one-layer sequence and equals the CPU reference (every output)', async () => {
    const { model, batch } = randomProblem({ T: 6, B: 35, d: 7, h: 33, q: 5, h0: true, dhT: true, seed: 141 });
    batch.lengths = Int32Array.from({ length: 35 }, (_, b) => 1 + ((b * 5) % 6));
    const options: GradientOptions = { loss: 'cross-entropy', truncation: { kind: 'chunked', steps: 2 }, inputGradient: true, gradNormPerStep: true, clipNorm: 0.05 };
    const got = await gpu.gradients(model, batch, options);
    const want = await cpu.gradients(model, batch, options);
    expectSameAsCpu('rnn model with lengths', got, want);
    expect(gpu.stats().submits).toBe(1);
  });
});

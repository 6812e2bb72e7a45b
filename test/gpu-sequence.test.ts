// SequenceModel gradients on the WebGPU engine against the float64 reference:
// rnn, gru, lstm x (1, 2 layers) x (one, both directions) x truncations, with
// and without biases and head, tokens and values, at odd sizes, and one case
// at the benchmark's h = 256, B = 32; the dispatch count of the formula in
// src/gpu/sequence-encode.ts, and one submit per call.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../src/index.js';
import { sequenceDims, sequenceLayout } from '../src/sequence-layout.js';
import { planSequence, sequenceDispatches } from '../src/gpu/sequence-encode.js';
import type { GradientOptions, Truncation } from '../src/types.js';
import { gpuEngine, printWorst } from './gpu-setup.js';
import { randomSequenceProblem, type SeqSpec } from './sequence-reference.js';
import { COVERING_TABLE, WINDOW_ROWS, checkSequence, full } from './gpu-sequence-cases.js';
import { BpttInputError } from '../src/errors.js';

let gpu: Engine;
beforeAll(async () => {
  gpu = await gpuEngine();
});
afterAll(() => {
  gpu?.dispose();
  printWorst('gpu-sequence.test.ts');
});

const check = (spec: SeqSpec, truncation: Truncation, extra: Partial<GradientOptions> = {}) => checkSequence(gpu, spec, truncation, extra);
const table = COVERING_TABLE;

describe('small cases', () => {
  for (const cell of ['rnn', 'gru', 'lstm'] as const) {
    it(`${cell}: one layer, one direction, full`, async () => {
      await check({ cell, L: 1, bi: false, T: 3, B: 2, d: 3, h: 4, q: 5, states: true, seed: 1 }, { kind: 'full' });
    });
    it(`${cell}: two layers, both directions, full`, async () => {
      await check({ cell, L: 2, bi: true, T: 4, B: 3, d: 3, h: 5, q: 4, states: true, seed: 2 }, { kind: 'full' });
    });
  }
});

describe('odd sizes (h = 33, B = 35): a covering table', () => {
  it.each(table.map((row, i) => [i, `${row[0].cell} L=${row[0].L} ${row[0].bi ? 'bi' : 'uni'} ${row[1].kind}${'xi' in row[1] ? ' (xi)' : ''} ${row[0].q ? (row[0].loss ?? 'cross-entropy') : 'dY'}${row[0].tokens ? ' tokens' : ''}${row[0].bias === false ? ' no bias' : ''}${row[2].clipNorm ? ' clipped' : ''}`] as const))(
    '%i: %s',
    async (i) => {
      const [spec, truncation, extra] = table[i];
      await check(spec, truncation, extra);
    },
  );
});

describe('window(tau): one direction, slots that keep their age down the stack', () => {
  const rows = WINDOW_ROWS;
  it.each(rows.map((r, i) => [i, `${r[0].cell} L=${r[0].L} tau=${r[1]}`] as const))('%i: %s', async (i) => {
    const [spec, tau, extra] = rows[i];
    await check(spec, { kind: 'window', steps: tau }, extra);
  });
  it('with both directions it is refused, naming options.truncation, and the engine stays usable', async () => {
    const spec: SeqSpec = { cell: 'gru', L: 1, bi: true, T: 3, B: 2, d: 3, h: 4, q: 3, seed: 47 };
    const { model, batch } = randomSequenceProblem(spec);
    const call = gpu.gradients(model, batch, { loss: 'cross-entropy', truncation: { kind: 'window', steps: 2 } });
    await expect(call).rejects.toThrow(BpttInputError);
    await expect(call).rejects.toMatchObject({ argument: 'options.truncation' });
    await check(spec, { kind: 'full' });
  });
});

describe("the benchmark's size", () => {
  it('lstm, 2 layers, h = 256, B = 32, tokens over 28, T = 4', async () => {
    await check({ cell: 'lstm', L: 2, bi: false, T: 4, B: 32, d: 28, h: 256, q: 28, tokens: true, seed: 51 }, full, { gradNormPerStep: true });
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
          const shape = planSequence(sequenceDims(model), { T, B: 3, activation: 'tanh', tokens, loss: options.loss, xi: new Float32Array(T) }, sequenceLayout(sequenceDims(model)));
          expect(sequenceDispatches(shape, { dx: !tokens, clip })).toBe(formula);
          seen.push(`  ${cell} L=${L} ${bi ? 'bi ' : 'uni'} T=${String(T).padStart(2)} ${q ? 'head' : 'dY  '} ${truncation.kind.padEnd(7)}: ${dispatches} dispatches, ${submits} submit`);
          expect(dispatches).toBe(formula);
          expect(submits).toBe(1);
        }
      }
    }
    console.log(`dispatches per SequenceModel gradient call:\n${seen.join('\n')}`);
  });
});

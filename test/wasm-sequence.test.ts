// SequenceModel gradients on the 'wasm' engine, 1 and 2 threads, against the
// float64 CPU reference: the WebGPU tables of gpu-sequence-cases.ts (every
// cell, 1 and 2 layers, both directions, every truncation, biases or not, head
// or not, tokens and values, lengths, at odd sizes h = 33, B = 35), sizes that
// straddle the SIMD width (h = 5..9), window with lengths (as the CPU
// reference), the benchmark's size, and determinism: the same
// bits run after run and for 1, 2 and 3 threads (every product sums each element
// in one fixed order, src/wasm/c/gemm.c, and the loss and norms add per-row and
// per-block partial sums in one order).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../src/index.js';
import type { Batch, GradientOptions, SequenceGradients, SequenceModel } from '../src/types.js';
import { packSequence } from '../src/sequence-params.js';
import { printWorst } from './gpu-setup.js';
import { randomSequenceProblem, type SeqSpec } from './sequence-reference.js';
import { COVERING_TABLE, LENGTHS_ROWS, WINDOW_ROWS, checkSequence, expectSequenceClose, full, lengthsOf, randomized, chunked } from './gpu-sequence-cases.js';
import { WASM_THREADS, wasmEngine } from './wasm-setup.js';

const engines = new Map<number, Engine>();
beforeAll(async () => {
  for (const n of WASM_THREADS) engines.set(n, await wasmEngine(n)());
});
afterAll(() => {
  for (const e of engines.values()) e.dispose();
  printWorst('wasm-sequence.test.ts');
});

const label = (spec: SeqSpec, kind: string) => `${spec.cell} L=${spec.L} ${spec.bi ? 'bi' : 'uni'} ${kind} ${spec.q ? (spec.loss ?? 'cross-entropy') : 'dY'}${spec.tokens ? ' tokens' : ''}${spec.bias === false ? ' no bias' : ''}`;

for (const threads of WASM_THREADS) {
  describe(`wasm, ${threads} thread(s)`, () => {
    const wasm = () => engines.get(threads)!;
    it.each(COVERING_TABLE.map((row, i) => [i, label(row[0], row[1].kind)] as const))('covering table %i: %s', async (i) => {
      const [spec, truncation, extra] = COVERING_TABLE[i];
      await checkSequence(wasm(), spec, truncation, extra);
    });
    it.each(WINDOW_ROWS.map((r, i) => [i, `${r[0].cell} L=${r[0].L} tau=${r[1]}`] as const))('window %i: %s', async (i) => {
      const [spec, tau, extra] = WINDOW_ROWS[i];
      await checkSequence(wasm(), spec, { kind: 'window', steps: tau }, extra);
    });
    it.each(LENGTHS_ROWS.map((r, i) => [i, label(r[0], r[1].kind)] as const))('lengths %i: %s', async (i) => {
      const [spec, truncation, extra] = LENGTHS_ROWS[i];
      await checkSequence(wasm(), spec, truncation, extra, lengthsOf(spec.B, spec.T, i));
    });
    it('window with lengths (as by the CPU reference)', async () => {
      const spec: SeqSpec = { cell: 'lstm', L: 2, bi: false, T: 6, B: 7, d: 5, h: 9, q: 4, states: true, seed: 68 };
      await checkSequence(wasm(), spec, { kind: 'window', steps: 3 }, {}, lengthsOf(7, 6, 3));
      await checkSequence(wasm(), { ...spec, cell: 'gru', q: 0, seed: 69 }, { kind: 'window', steps: 2 }, {}, lengthsOf(7, 6, 4));
    });
    it('hidden sizes around the SIMD width (h = 5..9), every cell', async () => {
      for (const h of [5, 6, 7, 8, 9]) {
        for (const cell of ['rnn', 'gru', 'lstm'] as const) {
          await checkSequence(wasm(), { cell, L: 2, bi: h % 2 === 1, T: 4, B: 3 + h, d: h - 1, h, q: h + 1, states: true, seed: 100 + h }, h % 3 === 0 ? chunked : full);
        }
      }
    });
  });
}

describe("the benchmark's size, 2 threads", () => {
  it('lstm, 2 layers, h = 256, B = 32, tokens over 28, T = 4', async () => {
    await checkSequence(engines.get(2)!, { cell: 'lstm', L: 2, bi: false, T: 4, B: 32, d: 28, h: 256, q: 28, tokens: true, seed: 51 }, full);
  });
});

/** Every output's bits, the loss and the norms included. */
function bits(g: SequenceGradients): number[] {
  const parts: Float32Array[] = [];
  for (const l of g.layers) parts.push(l.dWx, l.dWh, ...(l.dbx ? [l.dbx, l.dbh!] : []));
  if (g.head) parts.push(g.head.dW, ...(g.head.db ? [g.head.db] : []));
  parts.push(g.dh0, g.hT, ...(g.dc0 ? [g.dc0, g.cT!] : []), ...(g.dx ? [g.dx] : []), g.gradNormPerStep!);
  const of = (p: Float32Array) => Array.from(new Int32Array(p.buffer, p.byteOffset, p.length));
  return [g.loss, g.gradNorm, ...parts.flatMap(of)];
}

describe('determinism', () => {
  it('the same bits run after run, and with 1, 2 and 3 threads (the loss and the norms too: their partial sums are per row and block, added in one order)', async () => {
    const three = await wasmEngine(3)();
    const cases: Array<[SeqSpec, GradientOptions]> = [
      [{ cell: 'lstm', L: 2, bi: true, T: 5, B: 35, d: 7, h: 33, q: 9, states: true, seed: 201 }, { loss: 'cross-entropy', truncation: randomized, inputGradient: true, gradNormPerStep: true }],
      [{ cell: 'gru', L: 2, bi: false, T: 6, B: 9, d: 5, h: 20, q: 0, states: true, seed: 202 }, { loss: 'none', truncation: { kind: 'window', steps: 3 }, inputGradient: true, gradNormPerStep: true }],
    ];
    for (const [spec, options] of cases) {
      const { model, batch } = randomSequenceProblem(spec);
      const one = bits(await engines.get(1)!.gradients(model, batch, options));
      expect(bits(await engines.get(1)!.gradients(model, batch, options))).toEqual(one);
      const two = bits(await engines.get(2)!.gradients(model, batch, options));
      expect(bits(await engines.get(2)!.gradients(model, batch, options))).toEqual(two);
      expect(two).toEqual(one);
      expect(bits(await three.gradients(model, batch, options))).toEqual(one);
    }
    three.dispose();
  });
});

describe('forward and generate on wasm', () => {
  it('greedy generate is a host loop of one-step engine.forward calls on the same engine (lstm, 2 layers)', async () => {
    const V = 11;
    const { model } = randomSequenceProblem({ cell: 'lstm', L: 2, bi: false, T: 1, B: 1, d: V, h: 16, q: V, tokens: true, seed: 211 });
    for (const w of [model.head!.W]) for (let i = 0; i < w.length; i++) w[i] *= 4; // greedy picks far from ties
    const prefix = Int32Array.of(3, 1, 4);
    for (const threads of WASM_THREADS) {
      const wasm = engines.get(threads)!;
      const got = await wasm.generate(model, { prefix, steps: 20 });
      const loop: number[] = [];
      let r = await wasm.forward(model, { steps: prefix.length, batchSize: 1, x: prefix }, { outputs: ['O'] });
      let last = r.O!.subarray((prefix.length - 1) * V);
      for (let i = 0; i < 20; i++) {
        let best = 0;
        for (let c = 1; c < V; c++) if (last[c] > last[best]) best = c;
        loop.push(best);
        r = await wasm.forward(model, { steps: 1, batchSize: 1, x: Int32Array.of(best), h0: r.hT, c0: r.cT }, { outputs: ['O'] });
        last = r.O!;
      }
      expect(Array.from(got), `${threads} thread(s)`).toEqual(loop);
    }
  });

  it('forward stores nothing for a backward: its loss, hT and cT are those of gradients() bit for bit, with lengths and both directions', async () => {
    const spec: SeqSpec = { cell: 'lstm', L: 2, bi: true, T: 6, B: 9, d: 5, h: 13, q: 7, states: true, seed: 212 };
    const { model, batch } = randomSequenceProblem(spec);
    batch.lengths = lengthsOf(spec.B, spec.T, 2);
    for (const threads of WASM_THREADS) {
      const wasm = engines.get(threads)!;
      const f = await wasm.forward(model, { ...batch, dhT: undefined, dcT: undefined }, { outputs: ['O', 'Y'] });
      const g = await wasm.gradients(model, batch, { loss: 'cross-entropy' });
      expect(f.loss).toBe(g.loss);
      expect(f.hT).toEqual(g.hT);
      expect(f.cT).toEqual(g.cT);
    }
  });
});

describe('non-finite values on wasm, as the reference (README, non-finite values)', () => {
  const cpu = createEngine({ backend: 'cpu' });
  /** NaN where the reference has NaN, the same infinities, the finite values within the GPU tolerance. */
  function expectSameNonFinite(where: string, got: Float32Array, want: Float32Array): void {
    for (let i = 0; i < want.length; i++) {
      if (Number.isFinite(want[i])) expect(Math.abs(got[i] - want[i]), `${where}[${i}]`).toBeLessThanOrEqual(1e-4 + 2e-3 * Math.abs(want[i]));
      else expect(got[i], `${where}[${i}]`).toBe(want[i]);
    }
  }
  const cases: Array<[string, SeqSpec, (m: SequenceModel, b: Batch) => void]> = [
    ['lstm, an infinite x: gates saturate (tanh(Inf) = 1, sigma(-Inf) = 0)', { cell: 'lstm', L: 2, bi: true, T: 4, B: 3, d: 5, h: 6, q: 4, seed: 221 }, (_m, b) => ((b.x as Float32Array)[7] = Infinity)],
    ['gru, a NaN in h0: sigma(NaN) = NaN reaches hT and the gradients', { cell: 'gru', L: 1, bi: false, T: 3, B: 2, d: 3, h: 5, q: 3, states: true, seed: 222 }, (_m, b) => (b.h0![2] = NaN)],
    ['rnn relu, a NaN in x: relu(NaN) = 0 in h, NaN in the gradients', { cell: 'rnn', L: 1, bi: false, T: 3, B: 2, d: 3, h: 5, q: 3, activation: 'relu', seed: 223 }, (_m, b) => ((b.x as Float32Array)[1] = NaN)],
    ['gru, Wh of 1e30: saturated gates, finite gradients as the reference', { cell: 'gru', L: 1, bi: false, T: 3, B: 2, d: 3, h: 4, q: 3, seed: 224 }, (m) => m.layers[0].Wh.fill(1e30)],
  ];
  it.each(cases)('%s', async (_name, spec, spoil) => {
    const { model, batch } = randomSequenceProblem(spec);
    spoil(model, batch);
    const options: GradientOptions = { loss: 'cross-entropy' };
    const want = await (await cpu).gradients(model, batch, options);
    for (const threads of WASM_THREADS) {
      const got = await engines.get(threads)!.gradients(model, batch, options);
      expect(got.nonFinite).toBe(want.nonFinite);
      expect(got.clipped).toBe(false);
      expect(Number.isNaN(got.gradNorm)).toBe(Number.isNaN(want.gradNorm));
      expect(Number.isFinite(got.gradNorm)).toBe(Number.isFinite(want.gradNorm));
      if (!want.nonFinite) expectSequenceClose(_name, got, want);
      expectSameNonFinite('hT', got.hT, want.hT);
      if (want.cT) expectSameNonFinite('cT', got.cT!, want.cT);
      // a trainer skips the step: parameters unchanged
      const trainer = engines.get(threads)!.trainer(model, { optimizer: { kind: 'adam', learningRate: 0.1 }, loss: 'cross-entropy' });
      const r = await trainer.step(batch);
      expect(r.skipped).toBe(want.nonFinite);
      if (want.nonFinite) expect(packSequence(await trainer.read())).toEqual(packSequence(model));
      trainer.dispose();
    }
  });
});

describe('memory', () => {
  it('a steady training loop does not grow the WebAssembly memory (the arena is laid out per call and only grows)', async () => {
    const spec: SeqSpec = { cell: 'lstm', L: 2, bi: true, T: 7, B: 5, d: 6, h: 12, q: 4, tokens: true, seed: 231 };
    const { model, batch } = randomSequenceProblem(spec);
    for (const threads of WASM_THREADS) {
      const wasm = engines.get(threads)!;
      const trainer = wasm.trainer(model, { optimizer: { kind: 'adam', learningRate: 0.01 }, loss: 'cross-entropy', carryState: true });
      for (let i = 0; i < 2; i++) await trainer.step(batch);
      const bytes = wasm.stats().liveBytes;
      for (let i = 0; i < 5; i++) await trainer.step(batch);
      await trainer.forward(batch);
      expect(wasm.stats().liveBytes).toBe(bytes);
      trainer.dispose();
    }
  });
});

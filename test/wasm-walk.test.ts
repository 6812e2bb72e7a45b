// An RnnModel on the 'wasm' engine is one case of the layer walk (seq_run):
// without biases its rnnAsSequence model is a SequenceModel the public API
// takes, and the two give the same bits, gradients, trainer steps and forward
// calls alike, on 1 and 2 threads; engine.lastSteps() says which steps the
// layers ran: the chapter's own (seq_chapter.c) exactly where runsChapterKernels
// holds, the cells' (seq_step.c, seq_sweep.c) elsewhere, an RnnModel with
// lengths included. That every one of these results is right is the business of
// the CPU comparisons (wasm-engine, wasm-gradients, wasm-trainer, wasm-sequence).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../src/index.js';
import type { Batch, GradientOptions, GradientResult, RnnModel, SequenceGradients, SequenceModel, Truncation } from '../src/types.js';
import type { WasmEngine } from '../src/wasm/engine.js';
import { rnnAsSequence } from '../src/sequence-model.js';
import { randomProblem, type ProblemSpec } from './helpers.js';
import { WASM_THREADS, wasmEngine } from './wasm-setup.js';

const engines = new Map<number, WasmEngine>();
beforeAll(async () => {
  for (const n of WASM_THREADS) engines.set(n, (await wasmEngine(n)()) as WasmEngine);
});
afterAll(() => {
  for (const e of engines.values()) e.dispose();
});

const bitsOf = (a: Float32Array | undefined) => (a ? Array.from(new Int32Array(a.buffer, a.byteOffset, a.length)) : undefined);

function expectSameBits(where: string, r: GradientResult, s: SequenceGradients): void {
  const pairs: [string, Float32Array | undefined, Float32Array | undefined][] = [
    ['dWhx', r.dWhx, s.layers[0].dWx],
    ['dWhh', r.dWhh, s.layers[0].dWh],
    ['dWqh', r.dWqh, s.head?.dW],
    ['dh0', r.dh0, s.dh0],
    ['hT', r.hT, s.hT],
    ['dx', r.dx, s.dx],
    ['gradNormPerStep', r.gradNormPerStep, s.gradNormPerStep],
    ['xi', r.xi, s.xi],
  ];
  for (const [name, a, b] of pairs) expect(bitsOf(a), `${where}: ${name}`).toEqual(bitsOf(b));
  expect(Object.is(r.loss, s.loss), `${where}: loss`).toBe(true);
  expect(r.gradNorm, `${where}: gradNorm`).toBe(s.gradNorm);
  expect(r.clipped, `${where}: clipped`).toBe(s.clipped);
}

const truncations: Truncation[] = [
  { kind: 'full' },
  { kind: 'chunked', steps: 2 },
  { kind: 'randomized', keepProbability: 0.5, seed: 5 },
  { kind: 'window', steps: 3 },
];

// odd and round sizes, both sides of the SIMD width and of the 4 x 8 register tile
const sizes: ProblemSpec[] = [
  { T: 5, B: 3, d: 4, h: 5, q: 3, activation: 'tanh', loss: 'cross-entropy', tokens: true },
  { T: 4, B: 9, d: 7, h: 17, q: 6, activation: 'relu', loss: 'mse', h0: true, dhT: true },
  { T: 6, B: 8, d: 8, h: 16, q: 8, activation: 'identity', loss: 'none', h0: true },
  { T: 3, B: 35, d: 5, h: 33, q: 9, activation: 'tanh', loss: 'mse', dhT: true },
];

function noBias(spec: ProblemSpec, seed: number): { model: RnnModel; batch: Batch; seq: SequenceModel } {
  const { model, batch } = randomProblem({ ...spec, bias: false, seed });
  return { model, batch, seq: rnnAsSequence(model) };
}

for (const threads of WASM_THREADS) {
  describe(`wasm, ${threads} thread(s)`, () => {
    const wasm = () => engines.get(threads)!;

    it.each(sizes.map((s, i) => [i, `T=${s.T} B=${s.B} d=${s.d} h=${s.h} q=${s.q} ${s.activation} ${s.loss}${s.tokens ? ' tokens' : ''}`] as const))(
      'gradients %i (%s): an RnnModel without biases and its rnnAsSequence SequenceModel give the same bits under every truncation, both on the chapter steps',
      async (i) => {
        const spec = sizes[i];
        for (const [k, truncation] of truncations.entries()) {
          const { model, batch, seq } = noBias(spec, 10 * i + k + 1);
          const options: GradientOptions = { loss: spec.loss!, truncation, clipNorm: k === 1 ? 0.05 : undefined, inputGradient: !spec.tokens, gradNormPerStep: true };
          const r = await wasm().gradients(model, batch, options);
          expect(wasm().lastSteps(), 'RnnModel').toBe('chapter');
          const s = await wasm().gradients(seq, batch, options);
          expect(wasm().lastSteps(), 'SequenceModel').toBe('chapter');
          expectSameBits(`${truncation.kind}`, r, s);
        }
      },
    );

    it('the trainer: SGD with clipping and Adam with carried state, the same parameters bit for bit after each step', async () => {
      const { model, seq } = noBias(sizes[1], 40);
      for (const optimizer of [{ kind: 'sgd' as const, learningRate: 0.1 }, { kind: 'adam' as const, learningRate: 0.01 }]) {
        const options = { optimizer, loss: 'mse' as const, clipNorm: 0.5, carryState: optimizer.kind === 'adam', truncation: { kind: 'chunked' as const, steps: 3 } };
        const a = wasm().trainer(model, options);
        const b = wasm().trainer(seq, options);
        for (let step = 0; step < 3; step++) {
          const { batch } = randomProblem({ ...sizes[1], bias: false, h0: false, seed: 50 + step });
          const ra = await a.step(batch, { readGradNorm: true });
          const rb = await b.step(batch, { readGradNorm: true });
          expect(Object.is(ra.loss, rb.loss), `${optimizer.kind} step ${step}: loss`).toBe(true);
          expect(ra.gradNorm).toBe(rb.gradNorm);
          const ma = await a.read();
          const mb = await b.read();
          expect(bitsOf(ma.Whx)).toEqual(bitsOf(mb.layers[0].Wx));
          expect(bitsOf(ma.Whh)).toEqual(bitsOf(mb.layers[0].Wh));
          expect(bitsOf(ma.Wqh)).toEqual(bitsOf(mb.head!.W));
        }
        a.dispose();
        b.dispose();
      }
    });

    it('forward: O, Y, hT and the loss, the same bits', async () => {
      const { model, batch, seq } = noBias({ ...sizes[0], h0: true }, 60);
      const a = await wasm().forward(model, batch, { outputs: ['O', 'Y'] });
      expect(wasm().lastSteps()).toBe('chapter');
      const b = await wasm().forward(seq, batch, { outputs: ['O', 'Y'] });
      for (const key of ['O', 'Y', 'hT'] as const) expect(bitsOf(a[key]), key).toEqual(bitsOf(b[key]));
      expect(Object.is(a.loss, b.loss)).toBe(true);
      // generate feeds each prediction back in: a vocabulary of q = d
      const vocab = noBias({ ...sizes[0], q: sizes[0].d }, 61);
      const ga = await wasm().generate(vocab.model, { prefix: Int32Array.of(1, 2), steps: 5, temperature: 0.7, seed: 3 });
      expect(wasm().lastSteps()).toBe('chapter');
      expect(Array.from(ga)).toEqual(Array.from(await wasm().generate(vocab.seq, { prefix: Int32Array.of(1, 2), steps: 5, temperature: 0.7, seed: 3 })));
    });

    it('which steps run: the chapter\'s for an RnnModel with biases too, the cells\' with lengths and for a SequenceModel outside the rule', async () => {
      const { model, batch } = randomProblem({ ...sizes[1], bias: true, seed: 70 });
      await wasm().gradients(model, batch, { loss: 'mse' });
      expect(wasm().lastSteps(), 'RnnModel with biases').toBe('chapter');
      const trainer = wasm().trainer(model, { optimizer: { kind: 'sgd', learningRate: 0.1 }, loss: 'mse' });
      await trainer.step(batch);
      expect(wasm().lastSteps(), 'its trainer').toBe('chapter');
      trainer.dispose();
      const lengths = Int32Array.from({ length: batch.batchSize }, (_, b) => 1 + (b % batch.steps));
      await wasm().gradients(model, { ...batch, lengths }, { loss: 'mse' });
      expect(wasm().lastSteps(), 'RnnModel with lengths').toBe('cells');
      await wasm().forward(model, { ...batch, lengths });
      expect(wasm().lastSteps(), 'its forward').toBe('cells');
      // biases come in pairs on a SequenceModel: bx and bh on the rnn layer is not the chapter's one bias per product
      const seq: SequenceModel = { ...rnnAsSequence(model), layers: [{ Wx: model.Whx, Wh: model.Whh, bx: model.bh, bh: new Float32Array(model.hiddenSize) }] };
      await wasm().gradients(seq, batch, { loss: 'mse' });
      expect(wasm().lastSteps(), 'SequenceModel with bx and bh').toBe('cells');
      const { h0: _h0, dhT: _dhT, ...stateless } = batch; // [B, h]: one layer's
      const h = model.hiddenSize;
      const second = { Wx: new Float32Array(h * h), Wh: new Float32Array(h * h), bx: new Float32Array(h), bh: new Float32Array(h) };
      await wasm().gradients({ ...seq, numLayers: 2, layers: [seq.layers[0], second] }, stateless, { loss: 'mse' });
      expect(wasm().lastSteps(), 'two rnn layers').toBe('cells');
    });
  });
}

describe('an RnnModel with biases against the same function as a SequenceModel (bx = bh, bh = 0): the chapter steps and the cells agree closely', () => {
  it('gradients of every tensor within float32 rounding', async () => {
    const wasm: Engine = engines.get(1)!;
    const { model, batch } = randomProblem({ ...sizes[3], bias: true, seed: 80 });
    const seq: SequenceModel = { ...rnnAsSequence(model), layers: [{ Wx: model.Whx, Wh: model.Whh, bx: model.bh, bh: new Float32Array(model.hiddenSize) }] };
    const r = await wasm.gradients(model, batch, { loss: 'mse' });
    const s = await wasm.gradients(seq, batch, { loss: 'mse' });
    const close = (name: string, a: Float32Array, b: Float32Array) => {
      const max = Math.max(...Array.from(b, Math.abs));
      for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - b[i]), `${name}[${i}]`).toBeLessThanOrEqual(1e-5 * max + 1e-4 * Math.abs(b[i]));
    };
    close('dWhx', r.dWhx, s.layers[0].dWx);
    close('dWhh', r.dWhh, s.layers[0].dWh);
    close('dbh', r.dbh!, s.layers[0].dbx!);
    close('dbh = dbh of the layer', r.dbh!, s.layers[0].dbh!);
    close('dWqh', r.dWqh, s.head!.dW);
    close('dbq', r.dbq!, s.head!.db!);
    expect(Math.abs(r.loss - s.loss)).toBeLessThanOrEqual(1e-6 * Math.abs(s.loss));
  });
});

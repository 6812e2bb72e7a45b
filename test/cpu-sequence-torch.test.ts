// The CPU reference against PyTorch (float64), from the fixtures that
// scripts/torch-fixtures.py writes with Debian's python3-torch: nn.RNN, nn.GRU
// and nn.LSTM with num_layers=2, bidirectional=True and an nn.Linear head (GRU
// and LSTM through pack_padded_sequence), and chunked, explicit-xi and window
// truncation through written-out cells. The models are loaded with fromTorch
// and the gradients named back with toTorch, so the weight layout is checked too.
// Tolerance per element: |got - torch| <= 1e-6 |torch| + 1e-7 max|torch| (the
// reference rounds its float64 results to float32).
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createEngine, fromTorch, toTorch, type Engine } from '../src/index.js';
import type { Batch, CellKind, LossKind, SequenceModel, Truncation } from '../src/types.js';
import { expectClose } from './helpers.js';

interface Fixture {
  name: string;
  cell: CellKind;
  numLayers: number;
  bidirectional: boolean;
  T: number;
  B: number;
  loss: LossKind;
  truncation: Truncation & { xi?: number[] };
  stateDict: Record<string, number[]>;
  x: number[];
  tokens: boolean;
  y: number[];
  lengths?: number[];
  h0?: number[];
  c0?: number[];
  dhT?: number[];
  dcT?: number[];
  expected: { loss: number; grads: Record<string, number[]>; hT: number[]; cT?: number[]; dh0: number[]; dc0?: number[]; dx?: number[] };
}

const DIR = join(__dirname, 'fixtures');
const FIXTURES: Fixture[] = readdirSync(DIR)
  .filter((f) => f.startsWith('torch-') && f.endsWith('.json'))
  .map((f) => JSON.parse(readFileSync(join(DIR, f), 'utf8')) as Fixture);

let engine: Engine;
beforeAll(async () => {
  engine = await createEngine({ backend: 'cpu' });
});

function close(name: string, got: ArrayLike<number> | undefined, want: number[]): void {
  expect(got, name).toBeDefined();
  const scale = want.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  expectClose(name, got!, want, { rtol: 1e-6, atol: 1e-7 * scale + 1e-12 });
}

describe('the CPU reference equals PyTorch', () => {
  it('finds the fixtures', () => {
    expect(FIXTURES.map((f) => f.name).sort()).toEqual(['gru-chunked', 'gru-packed', 'gru-window', 'lstm-packed', 'lstm-window', 'lstm-xi', 'rnn', 'rnn-xi']);
  });
  for (const f of FIXTURES) {
    it(`${f.name}: ${f.cell}, ${f.numLayers} layers, ${f.bidirectional ? 'bidirectional' : 'one direction'}, ${f.truncation.kind}${f.lengths ? ', lengths' : ''}`, async () => {
      const dict = Object.fromEntries(Object.entries(f.stateDict).map(([k, v]) => [k, Float32Array.from(v)]));
      const model: SequenceModel = fromTorch(dict, { cell: f.cell, numLayers: f.numLayers, bidirectional: f.bidirectional });
      const batch: Batch = {
        steps: f.T,
        batchSize: f.B,
        x: f.tokens ? Int32Array.from(f.x) : Float32Array.from(f.x),
        y: f.loss === 'cross-entropy' ? Int32Array.from(f.y) : Float32Array.from(f.y),
      };
      if (f.lengths) batch.lengths = Int32Array.from(f.lengths);
      for (const key of ['h0', 'c0', 'dhT', 'dcT'] as const) if (f[key]) batch[key] = Float32Array.from(f[key]!);
      const truncation: Truncation = f.truncation.kind === 'randomized' ? { kind: 'randomized', xi: Float32Array.from(f.truncation.xi!) } : f.truncation;
      const g = await engine.gradients(model, batch, { loss: f.loss, truncation, inputGradient: !f.tokens });
      expect(g.loss).toBeCloseTo(f.expected.loss, 12);
      // the gradients as a SequenceModel, named by toTorch
      const asModel: SequenceModel = {
        ...model,
        layers: g.layers.map((l) => ({ Wx: l.dWx, Wh: l.dWh, bx: l.dbx, bh: l.dbh })),
        head: { outputSize: model.head!.outputSize, W: g.head!.dW, b: g.head!.db },
      };
      const named = toTorch(asModel);
      expect(Object.keys(named).sort()).toEqual(Object.keys(f.expected.grads).sort());
      for (const [name, want] of Object.entries(f.expected.grads)) close(name, named[name], want);
      close('hT', g.hT, f.expected.hT);
      close('dh0', g.dh0, f.expected.dh0);
      if (f.cell === 'lstm') {
        close('cT', g.cT, f.expected.cT!);
        close('dc0', g.dc0, f.expected.dc0!);
      }
      if (!f.tokens) close('dx', g.dx, f.expected.dx!);
    });
  }
});

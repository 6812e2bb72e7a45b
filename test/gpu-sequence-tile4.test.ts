// The register-tiled step kernels (the 'tile4' default: cell_forward_tile4,
// cell_backward_tile4, cell_window_backward_tile4) at sizes that are not
// multiples of their 4x4 tile, and at the smallest ones (B = 1, h = 1: three of
// a tile's four rows and columns clamped), for every cell, against the
// float64 reference: both directions with lengths (padded rows inside a tile
// beside valid ones), window(tau), initial states and their gradients, and
// per-step norms (one partial per workgroup of 16 outputs per invocation).
import { afterAll, describe, it } from 'vitest';
import type { Engine } from '../src/index.js';
import { gpuEngine, printWorst } from './gpu-setup.js';
import type { SeqSpec } from './sequence-reference.js';
import { checkSequence, chunked, full } from './gpu-sequence-cases.js';

let gpu: Engine | undefined;
const engine = async () => (gpu ??= await gpuEngine());
afterAll(() => {
  gpu?.dispose();
  printWorst('gpu-sequence-tile4.test.ts');
});

const small = { T: 5, B: 5, d: 3, h: 7 };
describe('tile4 step kernels at B = 5, h = 7 and B = 1, h = 1', () => {
  for (const cell of ['rnn', 'gru', 'lstm'] as const) {
    it(`${cell}: 2 layers, both directions, lengths, states`, async () => {
      const spec: SeqSpec = { cell, L: 2, bi: true, ...small, q: 4, states: true, seed: 140 + cell.length };
      await checkSequence(await engine(), spec, chunked, {}, Int32Array.from([5, 1, 3, 4, 2]));
    });
    it(`${cell}: window(2), 2 layers, states, dY on the top layer`, async () => {
      const spec: SeqSpec = { cell, L: 2, bi: false, ...small, q: 0, states: true, seed: 150 + cell.length };
      await checkSequence(await engine(), spec, { kind: 'window', steps: 2 });
    });
    it(`${cell}: B = 1, h = 1, both directions; and window(3)`, async () => {
      const tiny = { T: 4, B: 1, d: 2, h: 1 };
      await checkSequence(await engine(), { cell, L: 1, bi: true, ...tiny, q: 3, states: true, seed: 160 + cell.length }, full);
      await checkSequence(await engine(), { cell, L: 1, bi: false, ...tiny, q: 3, states: true, seed: 170 + cell.length }, { kind: 'window', steps: 3 });
    });
  }
});

import { describe, it, expect } from 'vitest';
import { createEngine } from '../src/index.js';
import { randomProblem } from './helpers.js';

describe('cpu engine smoke', () => {
  it('computes gradients', async () => {
    const engine = await createEngine({ backend: 'cpu' });
    const { model, batch } = randomProblem({ T: 5, B: 3, d: 4, h: 6, q: 5 });
    const r = await engine.gradients(model, batch, { loss: 'cross-entropy' });
    expect(Number.isFinite(r.loss)).toBe(true);
    expect(r.dWhh.length).toBe(36);
  });
});

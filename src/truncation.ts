// The truncation factor xi_t of MATH.md: it scales the one path from h_{t-1}
// into h_t in the backward pass. xi[t-1] holds xi_t for t = 1..T.
import type { Truncation } from './types.js';
import { makeRng } from './rng.js';

/**
 * xi_1..xi_T for full, chunked and randomized truncation (window has no single
 * xi and returns null). chunked(tau): 0 at t = tau+1, 2tau+1, ...; randomized:
 * 0 with probability 1 - pi, else 1/pi, from makeRng(seed), one draw per t in order.
 */
export function truncationXi(truncation: Truncation, T: number): Float32Array | null {
  const xi = new Float32Array(T).fill(1);
  switch (truncation.kind) {
    case 'full':
      return xi;
    case 'window':
      return null;
    case 'chunked': {
      const tau = truncation.steps;
      for (let t = tau + 1; t <= T; t += tau) xi[t - 1] = 0;
      return xi;
    }
    case 'randomized': {
      // an explicit xi wins; xi: undefined (from a spread options object) falls back to the seed, as validate.ts accepts it
      if ('xi' in truncation && truncation.xi !== undefined) return Float32Array.from(truncation.xi);
      const { keepProbability: pi, seed } = truncation as { keepProbability: number; seed: number };
      const rng = makeRng(seed);
      for (let t = 0; t < T; t++) xi[t] = rng() < pi ? 1 / pi : 0;
      return xi;
    }
  }
}

/**
 * The truncation of a trainer's step k (k = 0, 1, ... counts the step() calls that
 * passed validation): a seeded randomized truncation draws a fresh xi each step,
 * from seed + k, so that E[xi_t] = 1 holds over training and not for one fixed
 * pattern. Step 0 uses the seed itself, as engine.gradients does. Every other
 * truncation is returned unchanged.
 */
export function truncationForStep(truncation: Truncation, k: number): Truncation {
  if (truncation.kind !== 'randomized' || ('xi' in truncation && truncation.xi !== undefined)) return truncation;
  const { keepProbability, seed } = truncation as { keepProbability: number; seed: number };
  return { kind: 'randomized', keepProbability, seed: seed + k };
}

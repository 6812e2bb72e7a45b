// The stats protocol between the kernels and the host is the WGSL struct
// Stats of kernels/lib/stats.wgsl, read by reflection: every kernel that binds
// `stats` includes it, so it has the same members at the same offsets, and the host's
// layout (src/gpu/stats.ts) is read from it by name. No GPU needed.
import { describe, expect, it } from 'vitest';
import { KERNEL_NAMES, kernel } from '../src/gpu/kernels.js';
import { statsLayout } from '../src/gpu/stats.js';

describe('the Stats struct', () => {
  const readers = KERNEL_NAMES.filter((n) => kernel(n).bindings.some((b) => b.name === 'stats'));

  it('is bound by finalize, the optimizers, clipping and the carried-state kernels', () => {
    expect(readers).toEqual(expect.arrayContaining(['finalize', 'sgd_update', 'adam_update', 'scale_gradients', 'carry_sequence_state']));
  });

  it.each(readers)('%s declares the same members at the same offsets as finalize', (name) => {
    const want = [...kernel('finalize').structs.get('stats')!.entries()];
    const got = kernel(name).structs.get('stats');
    expect(got, `${name}: stats is a struct`).toBeDefined();
    expect([...got!.entries()]).toEqual(want);
  });

  it('gives the host every scalar by name, before the per-step norms', () => {
    const S = statsLayout();
    const scalars = [S.loss, S.gradNorm, S.clipScale, S.clipScale2, S.clipScale3, S.nonFinite, S.clipped, S.step];
    expect(new Set(scalars).size).toBe(8);
    for (const i of scalars) expect(i).toBeLessThan(S.perStep);
    expect(S.fixed).toBe(S.perStep);
  });
});

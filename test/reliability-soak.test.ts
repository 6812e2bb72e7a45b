// Reliability, soak (issue 6): 2,000 gradient calls of varying shapes on one
// WebGPU engine with the buffer pool on. The device memory the engine holds
// stays bounded (reported: stats().liveBytes and peakBytes), a burst of
// concurrent calls does not leave its memory behind, sampled results stay
// right against the float64 CPU reference, and dispose() releases every buffer.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gpuEngine } from './gpu-setup.js';
import { createEngine, makeRng, type Engine } from '../src/index.js';
import type { GradientResult } from '../src/types.js';
import { BufferPool, POOL_MIN_FREE_BYTES } from '../src/gpu/buffers.js';
import { createGpuBackend } from '../src/gpu/backend.js';
import { GpuContext } from '../src/gpu/context.js';
import { validateGradientCall } from '../src/validate.js';
import { expectClose, randomProblem, type ProblemSpec } from './helpers.js';

const CALLS = 2000;
const IN_FLIGHT = 32; // calls awaited together: concurrency on one engine is part of the soak (and SwiftShader's throughput needs it)
const CHECK_EVERY = 97; // compare with the CPU reference this often
const TOL = { rtol: 2e-3, atol: 1e-5 };

function check(name: string, got: GradientResult, want: GradientResult): void {
  expectClose(`${name} loss`, [got.loss], [want.loss], TOL);
  for (const key of ['dWhx', 'dWhh', 'dWqh', 'dbh', 'dbq', 'dh0', 'hT'] as const) {
    if (want[key] || got[key]) expectClose(`${name} ${key}`, got[key]!, want[key]!, TOL);
  }
}

describe('soak: 2,000 gradient calls of varying shapes on one engine, then a burst', () => {
  let engine: Engine;
  let cpu: Engine;

  beforeAll(async () => {
    engine = await gpuEngine();
    cpu = await createEngine({ backend: 'cpu' });
  });

  afterAll(() => {
    engine?.dispose();
    cpu?.dispose();
  });

  it('memory held stays bounded and results stay right', async () => {
    const rng = makeRng(2026);
    const pick = (lo: number, hi: number) => lo + Math.floor(rng() * (hi - lo + 1));
    const start = performance.now();
    const samples: { call: number; liveBytes: number; liveBuffers: number; bindGroups: number; rss: number }[] = [];
    const context = (engine as unknown as { impl: { context: GpuContext } }).impl.context;
    let checked = 0;
    const shapes = new Set<string>();
    for (let call = 0; call < CALLS; call += IN_FLIGHT) {
      const batch: Promise<void>[] = [];
      for (let k = call; k < Math.min(CALLS, call + IN_FLIGHT); k++) {
        const spec: ProblemSpec = {
          T: pick(1, 4), B: pick(1, 6), d: pick(1, 8), h: pick(1, 8), q: pick(2, 6),
          bias: rng() < 0.5, h0: rng() < 0.5, seed: k + 1,
        };
        shapes.add(`${spec.T},${spec.B},${spec.d},${spec.h},${spec.q},${spec.bias}`);
        const { model, batch: b } = randomProblem(spec);
        const options = { loss: 'cross-entropy' as const };
        batch.push(
          engine.gradients(model, b, options).then(async (r) => {
            expect(r.nonFinite).toBe(false);
            if (k % CHECK_EVERY === 0) {
              check(`call ${k} ${JSON.stringify(spec)}`, r, await cpu.gradients(model, b, options));
              checked++;
            }
          }),
        );
      }
      await Promise.all(batch);
      const s = engine.stats();
      samples.push({ call: call + IN_FLIGHT, liveBytes: s.liveBytes, liveBuffers: s.liveBuffers, bindGroups: context.cachedBindGroups, rss: process.memoryUsage().rss });
    }
    const seconds = (performance.now() - start) / 1000;
    const end = engine.stats();
    const at = (n: number) => samples.find((s) => s.call >= n)!;
    const maxAfterHalf = Math.max(...samples.filter((s) => s.call > CALLS / 2).map((s) => s.liveBytes));
    console.log(
      `[soak] ${CALLS} calls, ${shapes.size} distinct shapes, ${IN_FLIGHT} in flight, ${seconds.toFixed(1)} s (${((seconds * 1000) / CALLS).toFixed(1)} ms/call); ` +
        `${checked} checked against the CPU reference; device memory held: ` +
        `after 250 calls ${at(250).liveBytes} B in ${at(250).liveBuffers} buffers, after 1000 ${at(1000).liveBytes} B, ` +
        `at the end ${end.liveBytes} B in ${end.liveBuffers} buffers, peak ${end.peakBytes} B; ` +
        `bind groups cached: at most ${Math.max(...samples.map((s) => s.bindGroups))} (bound ${GpuContext.MAX_BIND_GROUPS}); ` +
        `process memory after 250 calls ${(at(250).rss / 2 ** 20).toFixed(0)} MiB, at the end ${(samples.at(-1)!.rss / 2 ** 20).toFixed(0)} MiB`,
    );
    // Every cache is bounded (issue 9: the bind-group cache grew to ~23,000 groups, +60 MB, over this run):
    // the bound is reached early and never exceeded.
    expect(Math.max(...samples.map((s) => s.bindGroups))).toBeLessThanOrEqual(GpuContext.MAX_BIND_GROUPS);
    expect(at(1000).bindGroups, 'the run makes more distinct groups than the bound, so the bound is what holds').toBe(GpuContext.MAX_BIND_GROUPS);
    expect(shapes.size).toBeGreaterThan(1000);
    expect(checked).toBeGreaterThanOrEqual(Math.floor(CALLS / CHECK_EVERY));
    // Bounded: the second half of the run holds about what the first half reached (a few
    // late size classes at most), and far less than the pool's free-memory floor.
    const maxFirstHalf = Math.max(...samples.filter((s) => s.call <= CALLS / 2).map((s) => s.liveBytes));
    expect(maxAfterHalf).toBeLessThanOrEqual(1.25 * maxFirstHalf);
    expect(end.peakBytes).toBeLessThan(POOL_MIN_FREE_BYTES);
  });

  it('after a burst of concurrent calls the pool trims what it holds free back to its floor', async () => {
    // A backend on the same device (compiled pipelines shared) whose pool keeps at most 64 KiB
    // free beyond what the last calls used, so that a burst of tiny calls goes beyond it.
    const backend = await createGpuBackend({ device: engine.device!, allowFallbackAdapter: true });
    const pool = backend.context.pool;
    pool.minFreeBytes = 64 * 1024;
    try {
      const { model, batch } = randomProblem({ T: 4, B: 6, d: 8, h: 8, q: 4, seed: 5 });
      const options = { loss: 'cross-entropy' as const };
      const problem = validateGradientCall(model, batch, options);
      const want = await cpu.gradients(model, batch, options);
      const one = await backend.gradients(model, batch, problem);
      check('first', one, want);
      const working = pool.liveBytes; // one call's buffers
      const results = await Promise.all(Array.from({ length: 200 }, () => backend.gradients(model, batch, problem)));
      for (const r of results) check('burst', r, want);
      console.log(`[soak] burst of 200 concurrent calls (one call holds ${working} B): peak ${pool.peakBytes} B, held after ${pool.liveBytes} B (${pool.freeBytes} B of it free, floor ${pool.minFreeBytes} B)`);
      expect(pool.peakBytes).toBeGreaterThan(20 * working);
      expect(pool.freeBytes).toBeLessThanOrEqual(Math.max(pool.minFreeBytes, 2 * working));
      expect(pool.liveBytes).toBe(pool.freeBytes); // nothing in use between calls
      // the same shape afterwards still reuses what is kept, and is right
      check('after the burst', await backend.gradients(model, batch, problem), want);
      expect(pool.liveBytes).toBeLessThanOrEqual(Math.max(pool.minFreeBytes, 2 * working) + working);
    } finally {
      backend.dispose();
    }
    expect(pool.liveBuffers).toBe(0);
  });

  it('dispose() releases every buffer', () => {
    expect(engine.stats().liveBuffers).toBeGreaterThan(0);
    engine.dispose();
    expect(engine.stats().liveBuffers, 'dispose() releases every buffer').toBe(0);
    expect(engine.stats().liveBytes).toBe(0);
  });
});

describe('BufferPool (on a counting stand-in device)', () => {
  function fakeDevice() {
    const log = { created: 0, destroyed: 0 };
    const device = {
      createBuffer: ({ size, usage }: GPUBufferDescriptor) => {
        log.created++;
        return { size, usage, destroy: () => log.destroyed++ } as unknown as GPUBuffer;
      },
    } as unknown as GPUDevice;
    return { device, log };
  }

  it('reuses by size and usage, trims least recently released first, and destroyAll leaves nothing', () => {
    const { device, log } = fakeDevice();
    const pool = new BufferPool(device);
    const a = pool.acquire(1000, 1, 'a'); // 1024
    const b = pool.acquire(3000, 1, 'b'); // 3072
    const c = pool.acquire(1000, 2, 'c'); // other usage
    pool.release(a);
    pool.release(a); // twice is once
    expect(pool.freeBytes).toBe(1024);
    expect(pool.acquire(800, 1, 'a2')).toBe(a);
    pool.release(b);
    pool.release(a);
    pool.release(c);
    expect(pool.freeBytes).toBe(1024 + 3072 + 1024);
    pool.trim(1024); // b (oldest) goes first, then a; c, the newest, stays
    expect(log.destroyed).toBe(2);
    expect(pool.liveBuffers).toBe(1);
    expect(pool.freeBytes).toBe(1024);
    expect(pool.acquire(1000, 2, 'c2')).toBe(c);
    expect(pool.acquire(1000, 1, 'new')).not.toBe(a);
    pool.destroyAll();
    expect(pool.liveBuffers).toBe(0);
    expect(pool.liveBytes).toBe(0);
    expect(log.destroyed).toBe(log.created);
  });

  it('settle() keeps what the last calls used (so one shape reuses everything) and bounds the rest', () => {
    const { device, log } = fakeDevice();
    const pool = new BufferPool(device);
    const big = 8 * 1024 * 1024;
    // one shape, many calls: after the first call nothing is created or destroyed
    for (let i = 0; i < 5; i++) {
      const bufs = [pool.acquire(big, 1, 'x'), pool.acquire(big, 1, 'y'), pool.acquire(big, 1, 'z')];
      for (const b of bufs) pool.release(b);
      pool.settle();
    }
    expect(log.created).toBe(3);
    expect(log.destroyed).toBe(0);
    // many distinct sizes, one call each: free memory stays within the floor (or twice the last call)
    for (let i = 1; i <= 200; i++) {
      const b = pool.acquire(i * 64 * 1024, 1, 'v');
      pool.release(b);
      pool.settle();
      expect(pool.freeBytes).toBeLessThanOrEqual(Math.max(POOL_MIN_FREE_BYTES, 2 * b.size));
    }
    expect(pool.liveBytes).toBeLessThanOrEqual(POOL_MIN_FREE_BYTES + 200 * 64 * 1024);
  });
});

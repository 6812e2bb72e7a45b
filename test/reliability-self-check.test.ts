// Reliability, self-check (issue 6): createEngine's 'auto' runs a short
// self-check against the CPU reference before it picks a GPU adapter. With a
// deliberately broken kernel (the backward step's activation derivative
// multiplied by zero; every binding still used) 'auto' falls back to the
// WebAssembly engine (issue 12) and says why; a healthy engine's selfCheck() passes with worstError <= 1.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gpuEngine } from './gpu-setup.js';
import { createEngine, type Engine } from '../src/index.js';
import { randomProblem } from './helpers.js';
import { expectSameAsCpu } from './gpu-setup.js';

const ORIGINAL = readFileSync(new URL('../kernels/rnn_backward_step.wgsl', import.meta.url), 'utf8');
const GOOD_LINE = 'v = dh * phiGrad(H[params.offH + e]);';
const BROKEN = ORIGINAL.replace(GOOD_LINE, 'v = 0.0 * dh * phiGrad(H[params.offH + e]);');

describe('self-check', () => {
  let healthy: Engine;
  const made: Engine[] = [];
  beforeAll(async () => {
    healthy = await gpuEngine();
  });
  afterAll(() => {
    for (const e of made) e.dispose();
    healthy?.dispose();
  });

  it('the broken variant differs from the kernel in exactly one place', () => {
    expect(ORIGINAL).toContain(GOOD_LINE);
    expect(BROKEN).not.toBe(ORIGINAL);
    expect(BROKEN.split('\n').filter((l, i) => l !== ORIGINAL.split('\n')[i])).toHaveLength(1);
  });

  it('selfCheck() on a healthy engine: ok, worstError <= 1', async () => {
    const r = await healthy.selfCheck();
    console.log(`[self-check] healthy ${healthy.adapter?.vendor} ${healthy.adapter?.architecture}: worstError ${r.worstError.toPrecision(3)} in ${r.milliseconds.toFixed(0)} ms`);
    expect(r.ok).toBe(true);
    expect(r.worstError).toBeLessThanOrEqual(1);
    expect(r.worstError).toBeGreaterThanOrEqual(0);
    expect(r.milliseconds).toBeGreaterThan(0);
  });

  it("'auto' with allowSoftwareAdapter and the broken kernel falls back to WebAssembly, and backendReason says why", async () => {
    const engine = await createEngine({ backend: 'auto', allowSoftwareAdapter: true, kernelSources: { rnn_backward_step: BROKEN } });
    made.push(engine);
    console.log(`[self-check] broken kernel: backend ${engine.backend}; reason: ${engine.backendReason}`);
    expect(engine.backend).toBe('wasm');
    expect(engine.device).toBeNull();
    expect(engine.backendReason).toMatch(/self-check failed on google swiftshader|self-check failed on /);
    expect(engine.backendReason).toMatch(/worst error [\d.e+]+ > 1/);
    expect(engine.backendReason).toMatch(/using WebAssembly/);
    // and the fallback gives the reference answer
    const { model, batch } = randomProblem({ T: 4, B: 3, d: 5, h: 6, q: 4, seed: 8 });
    const cpu = await createEngine({ backend: 'cpu' });
    const want = await cpu.gradients(model, batch, { loss: 'cross-entropy' });
    const got = await engine.gradients(model, batch, { loss: 'cross-entropy' });
    expectSameAsCpu('fallback', got, want);
  });

  it("'webgpu' with the broken kernel: selfCheck() reports the failure (not ok, worstError > 1)", async () => {
    // on the healthy engine's device: only the replaced kernel is compiled again
    const engine = await createEngine({ backend: 'webgpu', device: healthy.device!, kernelSources: { rnn_backward_step: BROKEN } });
    made.push(engine);
    const r = await engine.selfCheck();
    expect(r.ok).toBe(false);
    expect(r.worstError).toBeGreaterThan(1);
    // the healthy engine on the same device is unaffected
    expect((await healthy.selfCheck()).ok).toBe(true);
  });

  it("'auto' with allowSoftwareAdapter and healthy kernels picks WebGPU and says the self-check passed", async () => {
    const engine = await createEngine({ backend: 'auto', allowSoftwareAdapter: true, device: healthy.device! });
    made.push(engine);
    expect(engine.backend).toBe('webgpu');
    expect(engine.backendReason).toMatch(/passed the self-check \(worst error [\d.e+-]+ of tolerance, \d+ ms\)/);
  });

  it("'auto' with a kernel that does not compile falls back to WebAssembly", async () => {
    const engine = await createEngine({ backend: 'auto', allowSoftwareAdapter: true, device: healthy.device!, kernelSources: { rnn_backward_step: 'fn main( {' } });
    made.push(engine);
    console.log(`[self-check] kernel that does not compile: backend ${engine.backend}; reason: ${engine.backendReason}`);
    expect(engine.backend).toBe('wasm');
    expect(engine.backendReason).toMatch(/using WebAssembly/);
  });

  it("plain 'auto' refuses a software adapter (WebAssembly then) and takes a hardware one", async () => {
    const engine = await createEngine({ backend: 'auto' });
    made.push(engine);
    if (healthy.adapter!.isFallbackAdapter) {
      expect(engine.backend).toBe('wasm');
      expect(engine.backendReason).toMatch(/software fallback/);
    } else {
      expect(engine.backend).toBe('webgpu');
      expect(engine.backendReason).toMatch(/passed the self-check/);
    }
  });
});

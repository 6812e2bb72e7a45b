// The bundled library in headless Chromium (issue 3): dist/browser/index.js,
// built by `npm run build` (which `npm test` runs first), is imported by
// test/browser/index.html, served on 127.0.0.1 (a secure context with
// navigator.gpu), and runs a subset of the GPU-against-CPU comparisons of
// gpu-gradients and gpu-trainer inside the page, on createEngine({ backend:
// 'webgpu' }) (SwiftShader here) and createEngine({ backend: 'cpu' }). The page
// returns the worst error ratio per output; the assertions are made here. Any
// page error, console error or failed request fails the test.
//
// Tolerances, as in gpu-setup.ts: rtol 2e-3, atol 1e-5 * max|cpu| per output
// (float32 on the GPU against the float64 reference); loss and gradNorm rtol 2e-3.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'puppeteer';
// @ts-ignore: a plain .mjs helper without types
import { serveStatic } from '../scripts/serve.mjs';
// @ts-ignore: a plain .mjs helper without types
import { launchChromium } from '../scripts/chromium.mjs';
import { GRADIENT_CASES, TOL, TRAINER_CASES } from './browser/cases.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const bundle = `${root}dist/browser/index.js`;

interface Compared {
  ratio: number;
  relative: number;
}
interface GradientCaseResult {
  name: string;
  outputs: Record<string, Compared>;
  flags: { gpu: [boolean, boolean]; cpu: [boolean, boolean] };
  xiEqual: boolean;
  lossNaN: [boolean, boolean];
  identical: boolean;
  dispatches: number;
  submits: number;
}
interface TrainerCaseResult {
  name: string;
  outputs: Record<string, Compared>;
  submits: number[];
}
interface PageApi {
  adapter(): Promise<{ backend: string; adapter: { vendor: string; architecture: string } | null; reason: string }>;
  gradientCase(c: unknown): Promise<GradientCaseResult>;
  trainerCase(c: unknown): Promise<TrainerCaseResult>;
  disposeAll(): { liveBuffers: number; liveBytes: number } | null;
}
type Win = { bptt: PageApi; bpttReady: boolean };

/** The newest modification time under a folder (to warn about a stale bundle). */
function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = `${dir}/${e.name}`;
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

describe('the bundled library in headless Chromium: WebGPU against the CPU reference', () => {
  let server: { url: string; close(): Promise<void> };
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];
  const worst = new Map<string, Compared & { where: string }>();

  function note(where: string, outputs: Record<string, Compared>): void {
    for (const [k, v] of Object.entries(outputs)) {
      const prev = worst.get(k);
      if (!prev || v.ratio > prev.ratio) worst.set(k, { ...v, where });
    }
  }

  function expectWithin(where: string, outputs: Record<string, Compared>): void {
    note(where, outputs);
    for (const [k, v] of Object.entries(outputs)) {
      expect(v.ratio, `${where}: ${k}, worst |gpu - cpu| ${v.relative.toExponential(2)} of max|cpu|`).toBeLessThanOrEqual(1);
    }
  }

  beforeAll(async () => {
    if (!existsSync(bundle)) throw new Error(`${bundle} is missing: run \`npm run build\` first (\`npm test\` does)`);
    const age = Math.max(newest(`${root}src`), newest(`${root}kernels`)) - statSync(bundle).mtimeMs;
    if (age > 0) console.warn(`dist/browser/index.js is older than src/ or kernels/ by ${(age / 1000).toFixed(0)} s: run \`npm run build\` (npm test does)`);
    server = await serveStatic(root);
    browser = await launchChromium();
    page = await browser.newPage();
    page.on('pageerror', (e) => problems.push(`pageerror: ${(e as Error).message ?? e}`));
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console.error: ${m.text()} (${m.location()?.url ?? ''})`);
    });
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ''}`));
    page.on('response', (r) => {
      if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`);
    });
    await page.goto(`${server.url}test/browser/index.html`, { waitUntil: 'load' });
    await page.waitForFunction(() => (window as unknown as Win).bpttReady === true, { timeout: 30_000 }).catch((e) => {
      throw new Error(`the test page did not load the library: ${problems.join('; ') || (e as Error).message}`);
    });
  });

  afterAll(async () => {
    const rows = [...worst.entries()].sort((a, b) => b[1].ratio - a[1].ratio);
    console.log(
      `browser: worst GPU error against the CPU reference, per output\n${rows.map(([k, v]) => `  ${k.padEnd(16)} worst ratio ${v.ratio.toFixed(3)} of tolerance, max |gpu-cpu|/max|cpu| ${v.relative.toExponential(2)}  (${v.where})`).join('\n')}`,
    );
    await browser?.close();
    await server?.close();
  });

  it('the page gets a WebGPU adapter', async () => {
    const info = await page.evaluate(() => (window as unknown as Win).bptt.adapter());
    console.log(`browser adapter: ${info.adapter?.vendor} ${info.adapter?.architecture} (${info.reason})`);
    expect(info.backend).toBe('webgpu');
    expect(problems).toEqual([]);
  });

  it.each(GRADIENT_CASES)('gradients: $name', async (c) => {
    const r = await page.evaluate((x, tol) => (window as unknown as Win).bptt.gradientCase({ ...x, tol }), c, TOL);
    expectWithin(c.name, r.outputs);
    expect(r.flags.gpu, 'clipped, nonFinite').toEqual(r.flags.cpu);
    expect(r.xiEqual, 'xi').toBe(true);
    expect(r.lossNaN[0]).toBe(r.lossNaN[1]);
    expect(r.identical, 'bit-identical on a second run').toBe(true);
    expect(r.submits).toBe(1);
    expect(r.dispatches).toBeLessThanOrEqual(2 * c.spec.T + 16);
    expect(problems).toEqual([]);
  });

  it.each(TRAINER_CASES)('$name: the same parameters as the CPU trainer', async (c) => {
    const r = await page.evaluate((x, tol) => (window as unknown as Win).bptt.trainerCase({ ...x, tol }), c, TOL);
    expectWithin(c.name, r.outputs);
    expect(r.submits).toEqual(Array(c.steps).fill(1));
    expect(problems).toEqual([]);
  });

  it('dispose() in the page leaves no GPU buffer alive', async () => {
    const after = await page.evaluate(() => (window as unknown as Win).bptt.disposeAll());
    expect(after).not.toBeNull();
    expect(after!.liveBuffers).toBe(0);
    expect(after!.liveBytes).toBe(0);
    expect(problems).toEqual([]);
  });
});


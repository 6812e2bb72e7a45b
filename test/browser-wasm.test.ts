// The bundled 'wasm' engine in headless Chromium (issue 12): dist/browser/index.js
// with its embedded WebAssembly, in a page that is not cross-origin isolated
// (one thread, and backendReason says why) and in one that is (COOP/COEP:
// worker threads over shared memory, spawned from the bundle itself). Each
// page runs the cases of test/browser/cases.ts against the CPU reference
// (test/browser/compare.js, ?backend=wasm), and a SequenceModel case (seq_run on
// the workers as well); any page error, console error or
// failed request fails the test.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'puppeteer';
// @ts-ignore: a plain .mjs helper without types
import { serveBench } from '../bench/lib/serve-isolated.mjs';
// @ts-ignore: a plain .mjs helper without types
import { launchChromium } from '../scripts/chromium.mjs';
import { GRADIENT_CASES, TOL, TRAINER_CASES } from './browser/cases.js';

const root = fileURLToPath(new URL('..', import.meta.url));

interface Compared {
  ratio: number;
  relative: number;
}
type Win = {
  bpttReady: boolean;
  bptt: {
    adapter(): Promise<{ backend: string; reason: string; threads: number | null; isolated: boolean }>;
    gradientCase(c: unknown): Promise<{ outputs: Record<string, Compared>; flags: { gpu: boolean[]; cpu: boolean[] }; xiEqual: boolean; lossNaN: boolean[]; identical: boolean }>;
    trainerCase(c: unknown): Promise<{ outputs: Record<string, Compared> }>;
    sequenceCase(c: unknown): Promise<{ outputs: Record<string, Compared> }>;
  };
};

function expectWithin(where: string, outputs: Record<string, Compared>): void {
  for (const [k, v] of Object.entries(outputs)) {
    expect(v.ratio, `${where}: ${k}, worst |wasm - cpu| ${v.relative.toExponential(2)} of max|cpu|`).toBeLessThanOrEqual(1);
  }
}

for (const isolated of [false, true]) {
  describe(`the bundled 'wasm' engine in a page ${isolated ? 'that is cross-origin isolated (2 threads)' : 'that is not cross-origin isolated (1 thread)'}`, () => {
    let server: { url: string; close(): Promise<void> };
    let browser: Browser;
    let page: Page;
    const problems: string[] = [];

    beforeAll(async () => {
      if (!existsSync(`${root}dist/browser/index.js`)) throw new Error('dist/browser/index.js is missing: run `npm run build` first (`npm test` does)');
      server = await serveBench(root, { isolated });
      browser = await launchChromium();
      page = await browser.newPage();
      page.on('pageerror', (e) => problems.push(`pageerror: ${(e as Error).message ?? e}`));
      page.on('console', (m) => {
        if (m.type() === 'error') problems.push(`console.error: ${m.text()}`);
      });
      page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ''}`));
      await page.goto(`${server.url}test/browser/index.html?backend=wasm`, { waitUntil: 'load' });
      await page.waitForFunction(() => (window as unknown as Win).bpttReady === true, { timeout: 30_000 });
    });

    afterAll(async () => {
      await browser?.close();
      await server?.close();
    });

    it(isolated ? 'runs on 2 threads (the default, min(cores, 4), here 2 or more cores)' : 'runs on 1 thread, and backendReason says the page is not isolated', async () => {
      const info = await page.evaluate(() => (window as unknown as Win).bptt.adapter());
      console.log(`browser wasm (${isolated ? 'isolated' : 'plain'}): ${info.reason}`);
      expect(info.backend).toBe('wasm');
      expect(info.isolated).toBe(isolated);
      if (isolated) {
        expect(info.threads).toBeGreaterThanOrEqual(2);
        expect(info.reason).toMatch(/WebAssembly SIMD on \d+ threads/);
      } else {
        expect(info.threads).toBe(1);
        expect(info.reason).toMatch(/1 thread: the page is not cross-origin isolated/);
      }
      expect(problems).toEqual([]);
    });

    it.each(GRADIENT_CASES)('gradients: $name', async (c) => {
      const r = await page.evaluate((x, tol) => (window as unknown as Win).bptt.gradientCase({ ...x, tol }), c, TOL);
      expectWithin(c.name, r.outputs);
      expect(r.flags.gpu, 'clipped, nonFinite').toEqual(r.flags.cpu);
      expect(r.xiEqual, 'xi').toBe(true);
      expect(r.lossNaN[0]).toBe(r.lossNaN[1]);
      expect(r.identical, 'bit-identical on a second run').toBe(true);
      expect(problems).toEqual([]);
    });

    it('a SequenceModel (lstm and gru, 2 layers, both directions, h = 9): gradients and two trainer steps as the CPU reference', async () => {
      for (const cell of ['lstm', 'gru']) {
        const c = { spec: { cell, L: 2, bi: true, T: 5, B: 6, d: 7, h: 9, q: 5, seed: 17 }, tol: TOL };
        const r = await page.evaluate((x) => (window as unknown as Win).bptt.sequenceCase(x), c);
        expectWithin(`${cell} stack`, r.outputs);
      }
      expect(problems).toEqual([]);
    });

    it.each(TRAINER_CASES)('$name: the same parameters as the CPU trainer', async (c) => {
      const r = await page.evaluate((x, tol) => (window as unknown as Win).bptt.trainerCase({ ...x, tol }), c, TOL);
      expectWithin(c.name, r.outputs);
      expect(problems).toEqual([]);
    });
  });
}

// The worked example examples/tfjs-layer/ in headless Chromium: the layer on
// TensorFlow.js's own GPUDevice (webgpu backend), its input from a TF.js
// tensor's GPU buffer, the loss and dO = dL/dO from TF.js, the gradients back
// as TF.js tensors (and a few SGD steps done by TF.js on them); and the same
// for a 2-layer LSTM stack (engine.gpu with args.stack) whose parameters
// travel as one flat TF.js tensor. Every output,
// read back through TF.js tensors, must equal the library's float64 CPU
// reference that the page runs on the same problem.
//
// Tolerance, per element: |got - want| <= rtol * |want| + atolRel * max|want|
// over the output (float32 on the GPU against float64).
// There is no skip: without WebGPU in Chromium the page reports an error and the test fails.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'puppeteer';
import { buildExample, exampleRoot } from '../examples/tfjs-layer/build.mjs';
// @ts-ignore: a plain .mjs helper without types
import { serveStatic } from '../scripts/serve.mjs';
// @ts-ignore: a plain .mjs helper without types
import { launchChromium } from '../scripts/chromium.mjs';
import { expectClose } from './helpers.js';

const GRAD_TOL = { rtol: 2e-3, atolRel: 1e-5 }; // one forward and backward
const TRAIN_TOL = { rtol: 2e-3, atolRel: 1e-4 }; // after 3 SGD steps (weights differ from the start by ~1e-1)

interface Compared {
  got: number[];
  want: number[];
}
interface PageResult {
  backend: string;
  sharedDevice: boolean;
  adapter: string;
  cases: { name: string; compared: Record<string, Compared> }[];
  tensorsLeaked: number;
  error?: string;
}

const maxAbs = (a: number[]) => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);

describe('the layer inside a TensorFlow.js webgpu program (headless Chromium)', () => {
  let server: { url: string; close(): Promise<void> };
  let browser: Browser;
  let page: Page;
  let result: PageResult;
  const problems: string[] = [];

  beforeAll(async () => {
    await buildExample();
    server = await serveStatic(exampleRoot);
    browser = await launchChromium();
    page = await browser.newPage();
    page.on('pageerror', (e) => problems.push(`pageerror: ${(e as Error).message ?? e}`));
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console.error: ${m.text()}`);
    });
    await page.goto(server.url, { waitUntil: 'load' });
    await page.waitForFunction(() => (window as unknown as { tfjsLayer?: unknown }).tfjsLayer !== undefined, { timeout: 90_000, polling: 200 });
    result = await page.evaluate(() => (window as unknown as { tfjsLayer: PageResult }).tfjsLayer);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('runs on the webgpu backend, sharing TF.js\'s device, with no page errors and no leaked tensors', () => {
    expect(result.error, `the page failed: ${result.error}`).toBeUndefined();
    expect(problems).toEqual([]);
    expect(result.backend).toBe('webgpu');
    expect(result.sharedDevice).toBe(true);
    expect(result.tensorsLeaked).toBe(0);
    expect(result.cases.map((c) => c.name)).toHaveLength(5);
  });

  const worst: string[] = [];
  const check = (caseIndex: number, keys: string[], tol: { rtol: number; atolRel: number }) => {
    const c = result.cases[caseIndex];
    expect(Object.keys(c.compared).sort()).toEqual([...keys].sort());
    for (const k of keys) {
      const { got, want } = c.compared[k];
      const ratio = expectClose(`${c.name}: ${k}`, got, want, { rtol: tol.rtol, atol: Math.max(tol.atolRel * maxAbs(want), 1e-30) });
      const rel = maxAbs(want.map((w, i) => got[i] - w)) / (maxAbs(want) || 1);
      worst.push(`  ${c.name}: ${k.padEnd(6)} ratio ${ratio.toFixed(3)} of tolerance, max|diff|/max|ref| ${rel.toExponential(2)}`);
    }
  };

  it('values x [T, B, d] with h0 (own submit): H, O, hT, loss, every gradient and dx equal the CPU reference', () => {
    check(0, ['H', 'O', 'hT', 'loss', 'dWhx', 'dWhh', 'dWqh', 'dbh', 'dbq', 'dh0', 'dx'], GRAD_TOL);
  });

  it("token ids [T, B] recorded into the caller's encoder, chunked(4): outputs and gradients equal the CPU reference", () => {
    check(1, ['H', 'O', 'hT', 'loss', 'dWhx', 'dWhh', 'dWqh', 'dbh', 'dbq', 'dh0'], GRAD_TOL);
  });

  it('3 SGD steps with the update in TF.js: losses and weights equal the CPU trainer', () => {
    check(2, ['losses', 'Whx', 'Whh', 'Wqh', 'bh', 'bq'], TRAIN_TOL);
    const { got } = result.cases[2].compared.losses;
    expect(got[2], 'the loss falls').toBeLessThan(got[0]);
  });

  it("an LSTM stack (2 layers, h0 and c0, caller's encoder): Y, O, hT, cT, loss, the flat gradient, dh0, dc0 and dx equal the CPU reference", () => {
    check(3, ['Y', 'O', 'hT', 'cT', 'loss', 'grad', 'dh0', 'dc0', 'dx'], GRAD_TOL);
  });

  it('an LSTM stack trained 3 SGD steps by TF.js on its flat parameters: losses and parameters equal the CPU trainer', () => {
    check(4, ['losses', 'params'], TRAIN_TOL);
    const { got } = result.cases[4].compared.losses;
    expect(got[2], 'the loss falls').toBeLessThan(got[0]);
    console.log(`embedding-tfjs (${result.adapter}): worst error per output\n${worst.join('\n')}`);
  });
});

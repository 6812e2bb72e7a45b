// The demo in a real browser: builds demo/, serves it on 127.0.0.1, opens it
// in headless Chromium (WebGPU on, SwiftShader here), starts training and
// checks what the page shows. Fails on any page error or console error.
// Screenshots: test/artifacts/demo.png (desktop) and demo-phone.png (375 px).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'puppeteer';
import { buildDemo, demoRoot } from '../demo/build.mjs';
// @ts-ignore: a plain .mjs helper without types
import { serveStatic } from '../scripts/serve.mjs';
// @ts-ignore: a plain .mjs helper without types
import { launchChromium } from '../scripts/chromium.mjs';

const STEPS = 30; // training steps to wait for (about 1 s each on SwiftShader, 0.1 s on the CPU backend)
const artifacts = fileURLToPath(new URL('./artifacts/', import.meta.url));

interface DemoState {
  ready: boolean;
  running: boolean;
  backend: string;
  adapter: string | null;
  step: number;
  losses: [number, number][];
  validation: [number, number][];
  cell: string;
  numLayers: number;
  trainedOn: string;
  msPerStep: number[];
  heat: { step: number; norms: number[] }[];
  sample: string;
  spectral: { radius: number; slope: number; expectedSlope: number }[];
  gates: { cell: string; logNorms: Record<string, number>; slope: number }[];
  truncation: { strategies: { name: string; bias: number; spread: number }[] } | null;
  errors: string[];
}

describe('demo in headless Chromium', () => {
  let server: { url: string; close(): Promise<void> };
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];

  beforeAll(async () => {
    await buildDemo();
    server = await serveStatic(demoRoot);
    browser = await launchChromium();
    page = await browser.newPage();
    page.on('pageerror', (e) => problems.push(`pageerror: ${(e as Error).message ?? e}`));
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console.error: ${m.text()} (${m.location()?.url ?? ''})`);
    });
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ''}`));
    page.on('workercreated', (w) => {
      const worker = w as unknown as { on?: (event: string, f: (m: { type(): string; text(): string }) => void) => void };
      worker.on?.('console', (m) => {
        if (m.type() === 'error') problems.push(`worker console.error: ${m.text()}`);
      });
    });
    await page.setViewport({ width: 1280, height: 900 });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it(`trains for ${STEPS} steps: the loss falls, perplexity, sample text, heat map and exercise are shown`, async () => {
    await page.goto(server.url, { waitUntil: 'load' });
    await page.waitForFunction(() => (window as unknown as { demoState: DemoState }).demoState.ready, { timeout: 60_000 });
    const t0 = Date.now();
    await page.click('#start');

    // the page stays responsive while steps run: the longest gap between 20 ms timer ticks over 1.5 s
    const worstGap = await page.evaluate(
      () =>
        new Promise<number>((ok) => {
          let last = performance.now();
          let worst = 0;
          const id = setInterval(() => {
            const now = performance.now();
            worst = Math.max(worst, now - last);
            last = now;
          }, 20);
          setTimeout(() => {
            clearInterval(id);
            ok(worst);
          }, 1500);
        }),
    );

    // a setting changed while training runs: the worker rebuilds the trainer, keeping the weights
    await page.waitForFunction(() => (window as unknown as { demoState: DemoState }).demoState.step >= 12, { timeout: 60_000, polling: 100 });
    await page.select('select[name="truncation"]', 'randomized');

    await page.waitForFunction(
      (n: number) => {
        const s = (window as unknown as { demoState: DemoState }).demoState;
        return (
          (s.step >= n && s.heat.length >= 5 && s.sample.length > 0 && s.validation.length >= 3 && s.spectral.length > 0 && s.gates.length > 0 && s.truncation !== null) ||
          s.errors.length > 0
        );
      },
      { timeout: 110_000, polling: 250 },
      STEPS,
    );
    const seconds = (Date.now() - t0) / 1000;
    await page.click('#pause');
    await page.waitForFunction(() => !(window as unknown as { demoState: DemoState }).demoState.running, { timeout: 30_000 });
    await page.evaluate(() => new Promise((ok) => requestAnimationFrame(() => requestAnimationFrame(ok)))); // the last draw
    const s = await page.evaluate(() => (window as unknown as { demoState: DemoState }).demoState);
    expect(s.errors).toEqual([]);

    // the loss fell: the last five steps against the first five
    // one point per step, numbered 1, 2, 3, ... across the mid-run change of setting
    expect(s.losses.map((p) => p[0])).toEqual(s.losses.map((_, i) => i + 1));
    expect(s.heat.every((row, i) => i === 0 || row.step > s.heat[i - 1].step)).toBe(true);
    const losses = s.losses.map((p) => p[1]);
    expect(losses.length).toBeGreaterThanOrEqual(STEPS);
    for (const l of losses) expect(Number.isFinite(l)).toBe(true);
    const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
    const first = mean(losses.slice(0, 5));
    const last = mean(losses.slice(-5));
    expect(first).toBeGreaterThan(2.9); // about log 27 = 3.30 at the start
    expect(last).toBeLessThan(first - 0.2);

    // perplexity is shown, and is exp(mean loss of the last ten steps)
    const ppl = Number(await page.$eval('#stat-ppl', (e) => e.textContent));
    expect(ppl).toBeGreaterThan(1);
    expect(ppl).toBeLessThan(27.5);
    expect(Math.abs(ppl - Math.exp(mean(losses.slice(-10))))).toBeLessThan(0.02);
    const tps = Number((await page.$eval('#stat-tps', (e) => e.textContent))!.replace(/,/g, ''));
    expect(tps).toBeGreaterThan(0);

    // the validation curve: trainer.forward on held-out text every 10 steps, beside the training loss
    expect(s.cell).toBe('rnn');
    expect(s.trainedOn).toBe(s.backend);
    expect(s.numLayers).toBe(1);
    expect(s.validation.map((p) => p[0])).toEqual(s.validation.map((_, i) => 10 * (i + 1)));
    for (const [, v] of s.validation) expect(v > 1 && v < 4).toBe(true); // nats per char: between a good model and twice the uniform guess
    expect(s.validation[s.validation.length - 1][1]).toBeLessThan(s.validation[0][1]);
    const valPpl = Number(await page.$eval('#stat-val', (e) => e.textContent));
    expect(Math.abs(valPpl - Math.exp(s.validation[s.validation.length - 1][1]))).toBeLessThan(0.01);
    expect(await page.$$eval('#loss-chart path', (p) => p.length)).toBeGreaterThanOrEqual(3);

    // sampled text after the prefix: 60 symbols of the 27 (trainer.generate)
    const prefix = await page.$eval('#sample-prefix', (e) => e.textContent);
    const sample = await page.$eval('#sample-output', (e) => e.textContent ?? '');
    expect(prefix).toBe('time traveller');
    expect(sample).toHaveLength(60);
    expect(sample).toMatch(/^[a-z ]+$/);
    expect(sample).toMatch(/[a-z]/);

    // the heat map has data: T norms per row, finite and positive, and painted pixels
    expect(s.heat.length).toBeGreaterThanOrEqual(5);
    for (const row of s.heat) {
      expect(row.norms).toHaveLength(32);
      for (const v of row.norms) expect(v > 0 && Number.isFinite(v)).toBe(true);
    }
    const painted = await page.$eval('#heat', (c) => {
      const canvas = c as HTMLCanvasElement;
      const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
      let n = 0;
      for (let i = 3; i < data.length; i += 4) if (data[i] === 255) n++;
      return n;
    });
    expect(painted).toBe(s.heat.length * 32);

    // the exercise panel: five radii with slopes on the power law, three truncation strategies
    expect(s.spectral).toHaveLength(5);
    for (const c of s.spectral) expect(Math.abs(c.slope - c.expectedSlope)).toBeLessThan(1e-3);
    expect(await page.$$eval('#slope-rows tr', (rows) => rows.length)).toBe(5);
    expect(s.truncation!.strategies.map((x) => x.name)).toEqual(['chunked', 'window', 'randomized']);
    expect(await page.$$eval('#segments .seg', (e) => e.length)).toBeGreaterThan(3);
    // what the gates do: rnn, gru and lstm side by side, 64 finite log-norms each, drawn and tabulated;
    // at the default keep-gate bias the gated cells keep far more of the gradient at t = 1
    expect(s.gates.map((c) => c.cell)).toEqual(['rnn', 'gru', 'lstm']);
    const gateNorms = s.gates.map((c) => Object.values(c.logNorms));
    for (const g of gateNorms) {
      expect(g).toHaveLength(64);
      for (const v of g) expect(Number.isFinite(v)).toBe(true);
    }
    expect(gateNorms[1][0]).toBeGreaterThan(gateNorms[0][0] + 5);
    expect(gateNorms[2][0]).toBeGreaterThan(gateNorms[0][0] + 5);
    expect(await page.$$eval('#gate-rows tr', (rows) => rows.length)).toBe(3);
    expect(await page.$$eval('#gates-chart path', (p) => p.length)).toBeGreaterThanOrEqual(3);

    // 'auto': WebGPU on a hardware adapter, WebAssembly otherwise (no adapter, or only a software one such as SwiftShader)
    const hardware = await page.evaluate(async () => {
      const a = await navigator.gpu?.requestAdapter();
      return Boolean(a && !(a.info as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter && a.info.architecture !== 'swiftshader');
    });
    expect(s.backend, hardware ? 'a hardware adapter: the demo must train on it' : 'no hardware adapter: WebAssembly').toBe(hardware ? 'webgpu' : 'wasm');

    // the badge names the backend in use
    const badge = await page.$eval('#backend', (e) => e.textContent ?? '');
    expect(badge).toContain(s.backend === 'webgpu' ? 'WebGPU' : 'WebAssembly');

    mkdirSync(artifacts, { recursive: true });
    await page.screenshot({ path: `${artifacts}demo.png`, fullPage: true });
    console.log(
      `demo: ${s.step} steps in ${seconds.toFixed(1)} s on ${s.backend} (${s.adapter ?? 'no adapter'}); ` +
        `loss ${first.toFixed(3)} -> ${last.toFixed(3)}, perplexity ${ppl}; ${tps} tokens/s; worst main-thread gap ${worstGap.toFixed(0)} ms`,
    );
    // a 20 ms timer never waits a whole second (a step on the main thread would block it for the
    // step's duration; on a loaded 2-core machine, scheduling alone can delay it a few hundred ms)
    expect(worstGap).toBeLessThan(1000);
    // and the page's own bundle holds no engine: every gradient is computed in a worker
    const mainJs = readFileSync(join(demoRoot, 'dist', 'main.js'), 'utf8');
    expect(mainJs).not.toMatch(/requestAdapter|createEngine|cpuRnnGradients|cpuSequenceGradients/);
    expect(readFileSync(join(demoRoot, 'dist', 'worker.js'), 'utf8')).toMatch(/requestAdapter/);

    // a phone-sized window: nothing wider than the screen
    // (width only: isMobile would make puppeteer reload the page)
    await page.setViewport({ width: 375, height: 812, deviceScaleFactor: 2 });
    await new Promise((ok) => setTimeout(ok, 400));
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await page.screenshot({ path: `${artifacts}demo-phone.png`, fullPage: true });

    // reset clears everything; start trains a fresh model again, here a 2-layer LSTM (cell and layers apply on reset)
    await page.setViewport({ width: 1280, height: 900 });
    await page.select('select[name="cell"]', 'lstm');
    await page.select('select[name="numLayers"]', '2');
    await page.click('#reset');
    // (the numbers are drawn on the next animation frame)
    await page.waitForFunction(
      () => (window as unknown as { demoState: DemoState }).demoState.step === 0 && document.getElementById('stat-step')!.textContent === '0',
      { timeout: 30_000 },
    );
    const cleared = await page.evaluate(() => {
      const d = (window as unknown as { demoState: DemoState }).demoState;
      return { losses: d.losses.length, validation: d.validation.length, heat: d.heat.length, sample: d.sample, stepText: document.getElementById('stat-step')!.textContent };
    });
    expect(cleared).toEqual({ losses: 0, validation: 0, heat: 0, sample: '', stepText: '0' });
    await page.click('#start');
    await page.waitForFunction(() => (window as unknown as { demoState: DemoState }).demoState.heat.length >= 1, { timeout: 60_000, polling: 100 });
    await page.click('#pause');
    await page.waitForFunction(() => !(window as unknown as { demoState: DemoState }).demoState.running, { timeout: 30_000 });
    const again = await page.evaluate(() => (window as unknown as { demoState: DemoState }).demoState);
    expect(again.errors).toEqual([]);
    expect(again.cell).toBe('lstm');
    expect(again.numLayers).toBe(2);
    expect(again.backend).toBe(s.backend);
    expect(again.trainedOn).toBe(s.backend); // every backend trains a stack of LSTMs itself
    expect(again.losses.length).toBeGreaterThanOrEqual(2);
    expect(again.losses[0][1]).toBeGreaterThan(2.9); // a fresh model: about log 27 again
    expect(again.heat[0].norms).toHaveLength(32); // the top layer's row of gradNormPerStep [L, T]
    for (const v of again.heat[0].norms) expect(v > 0 && Number.isFinite(v)).toBe(true);

    expect(problems).toEqual([]);
  }, 170_000);

  it('falls back to WebAssembly where the browser has no WebGPU, and says so', async () => {
    const cpuPage = await browser.newPage();
    cpuPage.on('pageerror', (e) => problems.push(`pageerror: ${(e as Error).message ?? e}`));
    cpuPage.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console.error: ${m.text()}`);
    });
    await cpuPage.goto(`${server.url}?webgpu=off`, { waitUntil: 'load' });
    await cpuPage.waitForFunction(() => (window as unknown as { demoState: DemoState }).demoState.ready, { timeout: 60_000 });
    const badge = await cpuPage.$eval('#backend', (e) => e.textContent ?? '');
    expect(badge).toContain('Training on the CPU in WebAssembly (no usable WebGPU)');
    expect(badge).toContain('no usable WebGPU adapter');
    await cpuPage.click('#start');
    await cpuPage.waitForFunction(() => (window as unknown as { demoState: DemoState }).demoState.step >= 8, { timeout: 60_000, polling: 100 });
    await cpuPage.click('#pause');
    const s = await cpuPage.evaluate(() => (window as unknown as { demoState: DemoState }).demoState);
    expect(s.backend).toBe('wasm');
    expect(s.adapter).toBeNull();
    expect(s.errors).toEqual([]);
    expect(s.losses[s.losses.length - 1][1]).toBeLessThan(s.losses[0][1]);
    await cpuPage.close();
    expect(problems).toEqual([]);
  }, 90_000);
});

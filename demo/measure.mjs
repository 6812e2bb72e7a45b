// Measures the demo as a visitor sees it: builds and serves it, trains in
// headless Chromium with the default settings (or another cell and depth),
// and prints the training and validation perplexity the page shows after
// 50, 100, 200, ... steps, with the seconds since Start. The validation
// perplexity is the latest held-out measurement (every 10 steps).
//
//   node demo/measure.mjs [steps=200] [--backend=webgpu|wasm|cpu] [--cell=rnn|gru|lstm] [--layers=1|2|3]
import { buildDemo, demoRoot } from './build.mjs';
import { serveStatic } from '../scripts/serve.mjs';
import { launchChromium } from '../scripts/chromium.mjs';

const args = process.argv.slice(2);
const steps = Number(args.find((a) => /^\d+$/.test(a)) ?? 200);
const option = (name, fallback) => args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback;
const cell = option('cell', 'rnn');
const layers = option('layers', '1');
const backend = option('backend', ''); // '' : the page's 'auto'
const query = backend ? `?backend=${backend}` : '';
await buildDemo();
const server = await serveStatic(demoRoot);
const browser = await launchChromium();
try {
  const page = await browser.newPage();
  page.on('console', (m) => m.type() === 'error' && console.log('console error:', m.text()));
  await page.setViewport({ width: 1280, height: 900 });
  await page.goto(server.url + query);
  await page.waitForFunction(() => window.demoState.ready, { timeout: 120_000 });
  await page.select('select[name="cell"]', cell);
  await page.select('select[name="numLayers"]', layers);
  const start = Date.now();
  await page.click('#start');
  for (const n of [50, 100, 200, 300, 500, 1000, 2000].filter((k) => k <= steps)) {
    await page.waitForFunction((k) => window.demoState.step >= k, { timeout: 1_800_000, polling: 200 }, n);
    const s = await page.evaluate(() => ({
      step: window.demoState.step,
      backend: window.demoState.backend,
      perplexity: document.getElementById('stat-ppl').textContent,
      validation: document.getElementById('stat-val').textContent,
      tokensPerSecond: document.getElementById('stat-tps').textContent,
    }));
    console.log(
      `${((Date.now() - start) / 1000).toFixed(1)} s  step ${s.step}  perplexity ${s.perplexity}  validation perplexity ${s.validation}  tokens/s ${s.tokensPerSecond}  (${s.backend}, ${cell} x${layers})`,
    );
  }
  await page.click('#pause');
} finally {
  await browser.close();
  await server.close();
}

// Launches headless Chromium with WebGPU for tests and benchmarks
// (shared/WEBGPU-HERE.md): Debian's /usr/bin/chromium, or
// PUPPETEER_EXECUTABLE_PATH, or the user's Chrome on a laptop.
import { existsSync } from 'node:fs';
import puppeteer from 'puppeteer';

const CANDIDATES = [
  process.env.PUPPETEER_EXECUTABLE_PATH,
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome',
  '/usr/bin/google-chrome-stable',
  '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome',
];

export function chromiumPath() {
  const found = CANDIDATES.find((p) => p && existsSync(p));
  if (!found) {
    throw new Error(
      'no Chromium or Chrome found: install Debian\'s chromium (apt-get install chromium) or set PUPPETEER_EXECUTABLE_PATH',
    );
  }
  return found;
}

/**
 * protocolTimeout: the longest one puppeteer call (page.evaluate ...) may take,
 * in ms; 0 for none. The tests keep 10 minutes; the benchmark passes its own
 * (bench/run.mjs drives the page one backend call at a time, and one call of a
 * slow backend at full size takes minutes on SwiftShader).
 */
export async function launchChromium({ extraArgs = [], protocolTimeout = 600_000 } = {}) {
  const args = [
    '--enable-unsafe-webgpu',
    '--enable-features=Vulkan',
    '--enable-webgpu-developer-features',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    '--disable-dev-shm-usage',
    ...extraArgs,
  ];
  if (typeof process.getuid === 'function' && process.getuid() === 0) args.push('--no-sandbox');
  return puppeteer.launch({ executablePath: chromiumPath(), headless: true, args, protocolTimeout });
}

// The package as published (issue 6): `npm pack` (which builds, as publishing
// does), install the tarball into a scratch project, and use it from there:
// - from Node as an ES module: a CPU gradient call, printed as JSON, equal to
//   this repository's own result; 'auto' finds Dawn and an adapter;
// - from a page bundled by esbuild (the "browser" entry), run in headless
//   Chromium: the same gradients;
// - from TypeScript: `tsc --noEmit` (strict, NodeNext) on a consumer file, with
//   a deliberate misuse that must be a type error.
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build } from 'esbuild';
import { createEngine } from '../src/index.js';
// @ts-ignore: a plain .mjs helper without types
import { serveStatic } from '../scripts/serve.mjs';
// @ts-ignore: a plain .mjs helper without types
import { launchChromium } from '../scripts/chromium.mjs';

const run = promisify(execFile);
const repo = fileURLToPath(new URL('..', import.meta.url));
const tsc = join(repo, 'node_modules', 'typescript', 'bin', 'tsc');

// The same problem in every consumer: small, seeded by the package's own generator.
const PROBLEM_JS = `
const rng = makeRng(17);
const T = 4, B = 3, d = 5, h = 6, q = 4;
const model = {
  inputSize: d, hiddenSize: h, outputSize: q, activation: 'tanh',
  Whx: uniformArray(rng, h * d, 0.4), Whh: uniformArray(rng, h * h, 0.3), Wqh: uniformArray(rng, q * h, 0.5),
  bh: uniformArray(rng, h, 0.1), bq: uniformArray(rng, q, 0.1),
};
const batch = { steps: T, batchSize: B, x: uniformArray(rng, T * B * d, 1), y: Int32Array.from({ length: T * B }, (_, i) => (i * 7) % q) };
`;
const SUMMARY_JS = `({ backend: engine.backend, loss: r.loss, gradNorm: r.gradNorm, dWhh: Array.from(r.dWhh), dbq: Array.from(r.dbq) })`;

async function expectedSummary() {
  const { makeRng, uniformArray } = await import('../src/index.js');
  const engine = await createEngine({ backend: 'cpu' });
  // eslint-disable-next-line no-new-func
  const problem = new Function('makeRng', 'uniformArray', `${PROBLEM_JS}; return { model, batch };`)(makeRng, uniformArray);
  const r = await engine.gradients(problem.model, problem.batch, { loss: 'cross-entropy' });
  // as SUMMARY_JS
  return JSON.parse(JSON.stringify({ backend: engine.backend, loss: r.loss, gradNorm: r.gradNorm, dWhh: Array.from(r.dWhh), dbq: Array.from(r.dbq!) }));
}

describe('the package as published', () => {
  let dir: string;
  let app: string;
  let want: unknown;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'webgpu-bptt-pack-'));
    app = join(dir, 'app');
    mkdirSync(app);
    want = await expectedSummary();
    // npm pack runs prepack (the build), as npm publish does
    const { stdout } = await run('npm', ['pack', '--pack-destination', dir, '--silent'], { cwd: repo, maxBuffer: 1 << 24 });
    const tarball = join(dir, stdout.trim().split('\n').pop()!);
    expect(readdirSync(dir)).toContain(tarball.split('/').pop());
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    // from npm's cache when it has everything (it does here); the registry otherwise
    await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', tarball], { cwd: app, maxBuffer: 1 << 24 });
  }, 120_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('holds what a consumer needs, and nothing from the repository beside it', () => {
    const root = join(app, 'node_modules', 'webgpu-bptt');
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    expect(pkg.name).toBe('webgpu-bptt');
    const top = readdirSync(root).sort();
    expect(top).toEqual(expect.arrayContaining(['dist', 'package.json']));
    for (const absent of ['src', 'test', 'bench', 'demo', 'node_modules', 'scripts']) expect(top).not.toContain(absent);
    for (const file of ['dist/node/index.js', 'dist/browser/index.js', 'dist/types/index.d.ts']) {
      expect(() => readFileSync(join(root, file))).not.toThrow();
    }
  });

  it('works from Node as an ES module', async () => {
    writeFileSync(
      join(app, 'consumer.mjs'),
      `import { createEngine, makeRng, uniformArray, BpttInputError } from 'webgpu-bptt';
${PROBLEM_JS}
const engine = await createEngine({ backend: 'cpu' });
const r = await engine.gradients(model, batch, { loss: 'cross-entropy' });
let refused = null;
try { await engine.gradients(model, { ...batch, steps: 0 }, { loss: 'cross-entropy' }); } catch (e) { refused = e instanceof BpttInputError ? e.argument : String(e); }
const auto = await createEngine({ backend: 'auto' });
console.log(JSON.stringify({ summary: ${SUMMARY_JS}, refused, auto: { backend: auto.backend, reason: auto.backendReason } }));
auto.dispose();
engine.dispose();
`,
    );
    const { stdout } = await run(process.execPath, ['consumer.mjs'], { cwd: app, timeout: 60_000 });
    const out = JSON.parse(stdout.trim().split('\n').pop()!);
    console.log(`[package] node consumer: loss ${out.summary.loss}; auto: ${out.auto.backend} (${out.auto.reason})`);
    expect(out.summary).toEqual(want);
    expect(out.refused).toBe('batch.steps');
    // the Node entry loads Dawn from the installed 'webgpu' package and finds an adapter (software or not)
    expect(out.auto.reason).not.toMatch(/could not be loaded|no GPU provider/);
  });

  it('bundles for a page with esbuild and runs in Chromium', async () => {
    const www = join(app, 'www');
    mkdirSync(www, { recursive: true });
    writeFileSync(
      join(app, 'page.js'),
      `import { createEngine, makeRng, uniformArray } from 'webgpu-bptt';
${PROBLEM_JS}
window.result = (async () => {
  const engine = await createEngine({ backend: 'cpu' });
  const r = await engine.gradients(model, batch, { loss: 'cross-entropy' });
  return ${SUMMARY_JS};
})().catch((e) => ({ error: String(e && e.stack || e) }));
`,
    );
    writeFileSync(join(www, 'index.html'), '<!doctype html><meta charset="utf-8"><title>consumer</title><script type="module" src="page.js"></script>');
    const built = await build({ entryPoints: [join(app, 'page.js')], bundle: true, format: 'esm', platform: 'browser', outfile: join(www, 'page.js'), absWorkingDir: app, logLevel: 'silent', metafile: true });
    expect(built.errors).toEqual([]);
    const inputs = Object.keys(built.metafile!.inputs);
    expect(inputs.some((p) => p.includes('node_modules/webgpu-bptt/dist/browser/index.js')), inputs.join(', ')).toBe(true);
    const code = readFileSync(join(www, 'page.js'), 'utf8');
    // nothing for Node in the page: no node: modules, no Dawn
    expect(code).not.toMatch(/(from|import\(|require\()\s*["'](node:[a-z]+|webgpu)["']/);

    const server = await serveStatic(www);
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e: unknown) => errors.push(String(e)));
      await page.goto(server.url, { waitUntil: 'load' });
      await page.waitForFunction(() => (window as unknown as { result?: unknown }).result !== undefined, { timeout: 30_000 });
      const got = await page.evaluate(() => (window as unknown as { result: Promise<unknown> }).result);
      expect(errors).toEqual([]);
      expect(got).toEqual(want);
    } finally {
      await browser.close();
      await server.close();
    }
  });

  it('its types resolve: tsc --noEmit on a consumer file (strict, NodeNext), and misuse is a type error', async () => {
    writeFileSync(
      join(app, 'consumer.ts'),
      `import { createEngine, BpttInputError, type Engine, type GradientResult, type RnnModel, type Trainer } from 'webgpu-bptt';
const engine: Engine = await createEngine({ backend: 'cpu' });
const model: RnnModel = { inputSize: 2, hiddenSize: 3, outputSize: 2, activation: 'tanh', Whx: new Float32Array(6), Whh: new Float32Array(9), Wqh: new Float32Array(6) };
const r: GradientResult = await engine.gradients(model, { steps: 1, batchSize: 1, x: new Int32Array(1), y: new Int32Array(1) }, { loss: 'cross-entropy', checkFinite: true });
const loss: number = r.loss;
const dWhh: Float32Array = r.dWhh;
const trainer: Trainer = engine.trainer(model, { optimizer: { kind: 'adam', learningRate: 1e-3 }, loss: 'cross-entropy' });
const skipped: boolean = (await trainer.step({ steps: 1, batchSize: 1, x: new Int32Array(1), y: new Int32Array(1) })).skipped;
const device: GPUDevice | null = engine.device;
const e: string = new BpttInputError('a', 'b', 'c').argument;
// @ts-expect-error: 'gpu' is not a backend
await createEngine({ backend: 'gpu' });
// @ts-expect-error: a model needs its weights
const bad: RnnModel = { inputSize: 2, hiddenSize: 3, outputSize: 2, activation: 'tanh' };
export { loss, dWhh, skipped, device, e, bad };
`,
    );
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: false, lib: ['ES2022', 'DOM'], types: ['@webgpu/types'] },
        files: ['consumer.ts'],
      }),
    );
    const result = await run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: app }).catch((e: { stdout: string; stderr: string }) => e);
    expect(`${result.stdout}${result.stderr}`.trim(), 'tsc output').toBe('');
  });
});

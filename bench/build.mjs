// Builds the benchmark page into bench/dist/: page.html, page.js (the bench
// code and TensorFlow.js, bundled), lib/ (a copy of the built library,
// dist/browser/index.js, loaded by the page at run time exactly as users load
// it) and wasm/ (TensorFlow.js's .wasm binaries, for setWasmPaths).
import { build } from 'esbuild';
import { copyFile, mkdir, readdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
export const benchDist = join(here, 'dist');

export async function buildBenchPage() {
  const lib = join(root, 'dist/browser/index.js');
  if (!existsSync(lib)) throw new Error(`bench: ${lib} is missing; run \`npm run build\` first (npm run bench does)`);
  await mkdir(join(benchDist, 'lib'), { recursive: true });
  await mkdir(join(benchDist, 'wasm'), { recursive: true });
  await copyFile(join(here, 'page.html'), join(benchDist, 'index.html'));
  await copyFile(lib, join(benchDist, 'lib/index.js'));
  if (existsSync(`${lib}.map`)) await copyFile(`${lib}.map`, join(benchDist, 'lib/index.js.map'));
  const wasmDir = join(root, 'node_modules/@tensorflow/tfjs-backend-wasm/dist');
  for (const f of await readdir(wasmDir)) if (f.endsWith('.wasm')) await copyFile(join(wasmDir, f), join(benchDist, 'wasm', f));
  await build({
    entryPoints: [join(here, 'page/main.ts')],
    outfile: join(benchDist, 'page.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    sourcemap: true,
    logLevel: 'warning',
  });
  return benchDist;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await buildBenchPage();
  console.log(`bench: page built in ${benchDist}`);
}

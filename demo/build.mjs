// Bundles the demo with esbuild: demo/dist/main.js (the page) and the two
// workers, demo/dist/worker.js (training) and demo/dist/exercise-worker.js.
// The library is bundled from src/ (WGSL kernels as text). Run directly
// (`node demo/build.mjs`) or import buildDemo().
import { build } from 'esbuild';
import { buildWasm } from '../scripts/build-wasm.mjs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

export const demoRoot = dirname(fileURLToPath(import.meta.url));

/**
 * `librarySrc` (or the environment's DEMO_LIBRARY_SRC) bundles the library
 * from another copy of src/ than this checkout's, e.g. a release snapshot.
 */
export async function buildDemo({ minify = false, librarySrc = process.env.DEMO_LIBRARY_SRC } = {}) {
  const plugins = librarySrc
    ? [
        {
          name: 'library-src',
          setup(b) {
            b.onResolve({ filter: /^\.\.\/src\/index\.js$/ }, () => ({ path: join(librarySrc, 'index.ts') }));
          },
        },
      ]
    : [];
  buildWasm(); // the library's WebAssembly kernels, bundled below (rebuilt only when stale)
  await build({
    plugins,
    entryPoints: ['main.ts', 'worker.ts', 'exercise-worker.ts'].map((f) => join(demoRoot, f)),
    outdir: join(demoRoot, 'dist'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    sourcemap: true,
    minify,
    loader: { '.wgsl': 'text', '.wasm': 'binary' }, // the library's WGSL kernels as text, its WebAssembly kernels as bytes
    logLevel: 'warning',
  });
  return join(demoRoot, 'dist');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const out = await buildDemo({ minify: process.argv.includes('--minify') });
  console.log(`demo built into ${out}`);
}

// Bundles the example with esbuild into examples/tfjs-layer/dist/main.js:
// TensorFlow.js (core and webgpu backend) and the library, from src/ (WGSL
// kernels as text), imported by its package name 'webgpu-bptt'.
//   node examples/tfjs-layer/build.mjs           build
//   node examples/tfjs-layer/build.mjs --serve   build, serve on 127.0.0.1 and print the URL
import { build } from 'esbuild';
import { buildWasm } from '../../scripts/build-wasm.mjs';
import { fileURLToPath } from 'node:url';
import { dirname, join, resolve } from 'node:path';

export const exampleRoot = dirname(fileURLToPath(import.meta.url));
const repo = resolve(exampleRoot, '../..');

export async function buildExample() {
  buildWasm(); // the library's WebAssembly kernels, bundled below (rebuilt only when stale)
  await build({
    entryPoints: [join(exampleRoot, 'main.ts')],
    outdir: join(exampleRoot, 'dist'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    sourcemap: true,
    alias: { 'webgpu-bptt': join(repo, 'src/index.ts') },
    loader: { '.wgsl': 'text', '.wasm': 'binary' }, // the library's WGSL kernels as text, its WebAssembly kernels as bytes
    logLevel: 'warning',
  });
  return join(exampleRoot, 'dist');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const out = await buildExample();
  console.log(`example built into ${out}`);
  if (process.argv.includes('--serve')) {
    const { serveStatic } = await import('../../scripts/serve.mjs');
    const server = await serveStatic(exampleRoot);
    console.log(`open ${server.url} in a browser with WebGPU (Ctrl-C to stop)`);
  }
}

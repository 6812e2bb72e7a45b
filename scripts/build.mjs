// Builds dist/browser/index.js (ES module for pages and bundlers) and
// dist/node/index.js (ES module for Node, with Dawn as the GPU provider).
// WGSL kernels are bundled as text, the WebAssembly kernels (compiled first,
// scripts/build-wasm.mjs) as bytes. Types come from tsc (tsconfig.build.json).
import { build } from 'esbuild';
import { buildWasm } from './build-wasm.mjs';

buildWasm();

const common = {
  bundle: true,
  format: 'esm',
  sourcemap: true,
  target: 'es2022',
  loader: { '.wgsl': 'text', '.wasm': 'binary' },
  logLevel: 'warning',
};

await Promise.all([
  build({ ...common, entryPoints: ['src/index.ts'], outfile: 'dist/browser/index.js', platform: 'browser' }),
  build({ ...common, entryPoints: ['src/node.ts'], outfile: 'dist/node/index.js', platform: 'node', external: ['webgpu'] }),
]);

// Builds dist/browser/index.js (ES module for pages and bundlers) and
// dist/node/index.js (ES module for Node, with Dawn as the GPU provider).
// WGSL kernels are bundled as text. Types come from tsc (tsconfig.build.json).
import { build } from 'esbuild';

const common = {
  bundle: true,
  format: 'esm',
  sourcemap: true,
  target: 'es2022',
  loader: { '.wgsl': 'text' },
  logLevel: 'warning',
};

await Promise.all([
  build({ ...common, entryPoints: ['src/index.ts'], outfile: 'dist/browser/index.js', platform: 'browser' }),
  build({ ...common, entryPoints: ['src/node.ts'], outfile: 'dist/node/index.js', platform: 'node', external: ['webgpu'] }),
]);

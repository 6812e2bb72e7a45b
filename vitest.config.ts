import { readFileSync } from 'node:fs';
import { defineConfig } from 'vitest/config';

// Import .wgsl files as text, as esbuild's text loader does in the bundles.
const wgslText = {
  name: 'wgsl-text',
  load(id: string) {
    if (id.endsWith('.wgsl')) return `export default ${JSON.stringify(readFileSync(id, 'utf8'))};`;
    return null;
  },
};

// The WebAssembly kernels as bytes, as esbuild's binary loader gives them (built first when stale).
const wasmBytes = {
  name: 'wasm-bytes',
  enforce: 'pre' as const,
  async load(id: string) {
    if (!id.endsWith('.wasm')) return null;
    const { buildWasm } = await import('./scripts/build-wasm.mjs');
    buildWasm();
    return `export default Uint8Array.from(atob(${JSON.stringify(readFileSync(id).toString('base64'))}), (c) => c.charCodeAt(0));`;
  },
};

export default defineConfig({
  plugins: [wgslText, wasmBytes],
  test: {
    // Dawn finds SwiftShader only when the variables reach the Vulkan loader:
    // keep forks (see shared/WEBGPU-HERE.md), and run files one at a time on 2 cores.
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    include: ['test/**/*.test.ts'],
  },
});

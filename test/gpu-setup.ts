// GPU test setup: an engine on the WebGPU backend (Dawn in Node, SwiftShader
// where there is no GPU). Under CI=true a missing adapter fails the test with
// the reason; it is never skipped silently.
import '../src/node.js';
import { createEngine, type Engine } from '../src/index.js';

export async function gpuEngine(): Promise<Engine> {
  try {
    return await createEngine({ backend: 'webgpu' });
  } catch (e) {
    throw new Error(
      `no WebGPU adapter for the GPU tests (${(e as Error).message}). Install Debian's chromium (SwiftShader) and libvulkan1: bash scripts/install.sh`,
    );
  }
}

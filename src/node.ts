// The Node entry point: the same public names, plus Dawn (the `webgpu`
// package) as the GPU provider, with SwiftShader's Vulkan driver from Debian's
// Chromium when the system's drivers give no adapter (shared/WEBGPU-HERE.md).
import { existsSync } from 'node:fs';
import { setGpuProvider } from './gpu/provider.js';
import { setWasmPlatform } from './wasm/platform.js';
import { nodeWasmPlatform } from './wasm/node-platform.js';

const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

// Dawn's instances must outlive every adapter, device and buffer made from
// them, or the process dies later at random: keep them for the life of the process.
let found: Promise<GPU> | null = null;

type Dawn = { create: (flags: string[]) => GPU; globals: object };
const instances: GPU[] = []; // every instance made, kept alive (see above)

/** The Dawn instance to use, found once per process (concurrent callers share the search). */
function dawnGpu(): Promise<GPU> {
  found ??= findDawn();
  return found;
}

async function findDawn(): Promise<GPU> {
  process.env.XDG_RUNTIME_DIR ??= '/tmp';
  let mod: Dawn;
  try {
    mod = (await import('webgpu')) as Dawn;
  } catch (e) {
    throw new Error(`the 'webgpu' package (Dawn for Node) could not be loaded: ${(e as Error).message}`);
  }
  Object.assign(globalThis, mod.globals);
  const make = () => {
    const gpu = mod.create([]);
    instances.push(gpu);
    return gpu;
  };
  // The system's own Vulkan drivers first (a real GPU); SwiftShader only when
  // they give no adapter and the caller has not chosen drivers (VK_ICD_FILENAMES).
  const system = make();
  if (process.env.VK_ICD_FILENAMES !== undefined || !existsSync(SWIFTSHADER_ICD) || (await system.requestAdapter())) return system;
  process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD; // read by the Vulkan loader when the next instance is made
  return make();
}

setGpuProvider(dawnGpu);
setWasmPlatform(nodeWasmPlatform);

export * from './index.js';

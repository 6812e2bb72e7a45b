// The Node entry point: the same public names, plus Dawn (the `webgpu`
// package) as the GPU provider, with SwiftShader's Vulkan driver from Debian's
// Chromium when the system's drivers give no adapter (shared/WEBGPU-HERE.md).
import { existsSync } from 'node:fs';
import { setGpuProvider, setGpuProviderNote } from './gpu/provider.js';
import { probeSystemDrivers } from './node-probe.js';
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
  // The system's drivers are asked in a child process first: Dawn prints its
  // warnings about drivers it cannot use to our stderr otherwise.
  if (process.env.VK_ICD_FILENAMES !== undefined || !existsSync(SWIFTSHADER_ICD)) return make();
  const probe = await probeSystemDrivers(process.env);
  if (probe.adapter) {
    const said = probe.messages.length > 0 ? `; Dawn also said: ${probe.messages.join('; ')}` : '';
    setGpuProviderNote(`the system's Vulkan drivers give ${probe.adapter}${said}`);
    return make();
  }
  const said = probe.messages.length > 0 ? ` (Dawn: ${probe.messages.join('; ')})` : '';
  setGpuProviderNote(`the system's Vulkan drivers give no adapter${said}; SwiftShader from ${SWIFTSHADER_ICD} is used`);
  process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD; // read by the Vulkan loader when the next instance is made
  return make();
}

setGpuProvider(dawnGpu);
setWasmPlatform(nodeWasmPlatform);

export * from './index.js';

// The Node entry point: the same public names, plus Dawn (the `webgpu`
// package) as the GPU provider, with SwiftShader's Vulkan driver from Debian's
// Chromium when no other driver is configured (shared/WEBGPU-HERE.md).
import { existsSync } from 'node:fs';
import { setGpuProvider } from './gpu/provider.js';

const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

// Dawn's instance must outlive every adapter, device and buffer made from it,
// or the process dies later at random: keep it for the life of the process.
let dawn: GPU | null = null;
let dawnError: Error | null = null;

async function dawnGpu(): Promise<GPU | null> {
  if (dawn) return dawn;
  if (dawnError) throw dawnError;
  if (process.env.VK_ICD_FILENAMES === undefined && existsSync(SWIFTSHADER_ICD)) {
    process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  }
  process.env.XDG_RUNTIME_DIR ??= '/tmp';
  try {
    const mod = (await import('webgpu')) as { create: (flags: string[]) => GPU; globals: object };
    Object.assign(globalThis, mod.globals);
    dawn = mod.create([]);
    return dawn;
  } catch (e) {
    dawnError = new Error(`the 'webgpu' package (Dawn for Node) could not be loaded: ${(e as Error).message}`);
    throw dawnError;
  }
}

setGpuProvider(dawnGpu);

export * from './index.js';

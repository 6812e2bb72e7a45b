// Where a GPU comes from: navigator.gpu in browsers; in Node, a provider that
// src/node.ts registers (Dawn's node bindings from the `webgpu` package).
// Nothing here holds a device: the engine owns its own.

export type GpuProvider = () => Promise<GPU | null>;

let nodeProvider: GpuProvider | null = null;
let providerNote = '';

/** What the provider found while looking for a GPU (said in engine.backendReason). */
export function setGpuProviderNote(note: string): void {
  providerNote = note;
}

export function gpuProviderNote(): string {
  return providerNote;
}

export function setGpuProvider(provider: GpuProvider): void {
  nodeProvider = provider;
}

/** navigator.gpu when the page has it, else the registered provider, else null. */
export async function findGpu(): Promise<GPU | null> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) return nav.gpu;
  return nodeProvider ? nodeProvider() : null;
}

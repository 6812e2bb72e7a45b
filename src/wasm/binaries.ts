// The two builds of the kernels (scripts/build-wasm.mjs), embedded in the
// bundles as bytes (esbuild's binary loader; a vitest plugin in tests), so
// that neither Node nor a page needs to fetch a file.
import single from '../../build/wasm/bptt-st.wasm';
import threaded from '../../build/wasm/bptt-mt.wasm';

let compiled: { single?: Promise<WebAssembly.Module>; threaded?: Promise<WebAssembly.Module> } = {};

/** The compiled module, once per process or page: 'single' for unshared memory, 'threaded' for shared. */
export function wasmModule(kind: 'single' | 'threaded'): Promise<WebAssembly.Module> {
  compiled[kind] ??= WebAssembly.compile(kind === 'single' ? single : threaded);
  return compiled[kind]!;
}

/** Forget compiled modules (tests). */
export function resetWasmModules(): void {
  compiled = {};
}

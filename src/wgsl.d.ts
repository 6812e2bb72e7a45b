// WGSL files are imported as text (esbuild's text loader; a vitest plugin in tests).
declare module '*.wgsl' {
  const source: string;
  export default source;
}

// wgsl_reflect's "main" is a CommonJS file in a "type": "module" package, which
// Node cannot import; its ES module build is imported by path instead.
declare module 'wgsl_reflect/wgsl_reflect.module.js' {
  export * from 'wgsl_reflect';
}

// The WebAssembly kernels are embedded as bytes (esbuild's binary loader; a vitest plugin in tests).
declare module '*.wasm' {
  const bytes: Uint8Array<ArrayBuffer>;
  export default bytes;
}

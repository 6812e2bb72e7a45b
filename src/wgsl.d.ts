// WGSL files are imported as text (esbuild's text loader; a vitest plugin in tests).
declare module '*.wgsl' {
  const source: string;
  export default source;
}

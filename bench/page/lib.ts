// The library under test, loaded at run time from the built bundle
// (bench/dist/lib/index.js is a copy of dist/browser/index.js), as users load it.
export type Lib = typeof import('../../src/index.js');

let loading: Promise<Lib> | null = null;

export function loadLib(): Promise<Lib> {
  const url = new URL('./lib/index.js', document.baseURI).href;
  loading ??= import(/* @vite-ignore */ url) as Promise<Lib>;
  return loading;
}

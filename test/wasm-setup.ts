// The 'wasm' engines under test: the same tables as the GPU twins, once with
// one thread (unshared memory) and once with two (workers over shared memory,
// the barriers exercised at every phase).
import '../src/node.js';
import { createEngine, type Engine } from '../src/index.js';

export const WASM_THREADS = [1, 2] as const;

export function wasmEngine(threads: number): () => Promise<Engine> {
  return () => createEngine({ backend: 'wasm', threads });
}

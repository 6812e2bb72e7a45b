// The gradients twins (test/twins/gradients.ts) on the 'wasm' engine, with 1 and 2 threads.
import { describe } from 'vitest';
import { WASM_THREADS, wasmEngine } from './wasm-setup.js';
import { defineGradientTwins } from './twins/gradients.js';

for (const threads of WASM_THREADS) {
  describe(`wasm, ${threads} thread(s)`, () => defineGradientTwins(`wasm-gradients.test.ts (${threads} thread(s))`, wasmEngine(threads)));
}

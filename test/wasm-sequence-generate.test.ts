// The sequence generate twins (test/twins/sequence-generate.ts) on the 'wasm' engine, with 1 and 2 threads.
import { describe } from 'vitest';
import { WASM_THREADS, wasmEngine } from './wasm-setup.js';
import { defineSequenceGenerateTwins } from './twins/sequence-generate.js';

for (const threads of WASM_THREADS) {
  describe(`wasm, ${threads} thread(s)`, () => defineSequenceGenerateTwins(`wasm-sequence-generate.test.ts (${threads} thread(s))`, wasmEngine(threads)));
}

// The sequence forward twins (test/twins/sequence-forward.ts) on the 'wasm' engine, with 1 and 2 threads.
import { describe } from 'vitest';
import { WASM_THREADS, wasmEngine } from './wasm-setup.js';
import { defineSequenceForwardTwins } from './twins/sequence-forward.js';

for (const threads of WASM_THREADS) {
  describe(`wasm, ${threads} thread(s)`, () => defineSequenceForwardTwins(`wasm-sequence-forward.test.ts (${threads} thread(s))`, wasmEngine(threads)));
}

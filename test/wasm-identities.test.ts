// The identities twins (test/twins/identities.ts) on the 'wasm' engine, with 1 and 2 threads.
import { describe } from 'vitest';
import { WASM_THREADS, wasmEngine } from './wasm-setup.js';
import { defineIdentityTwins } from './twins/identities.js';

for (const threads of WASM_THREADS) {
  describe(`wasm, ${threads} thread(s)`, () => defineIdentityTwins(`wasm-identities.test.ts (${threads} thread(s))`, wasmEngine(threads)));
}

// The sequence trainer twins (test/twins/sequence-trainer.ts) on the 'wasm' engine, with 1 and 2 threads.
import { describe } from 'vitest';
import { WASM_THREADS, wasmEngine } from './wasm-setup.js';
import { defineSequenceTrainerTwins } from './twins/sequence-trainer.js';

for (const threads of WASM_THREADS) {
  describe(`wasm, ${threads} thread(s)`, () => defineSequenceTrainerTwins(`wasm-sequence-trainer.test.ts (${threads} thread(s))`, wasmEngine(threads)));
}

// The trainer twins (test/twins/trainer.ts) on the 'wasm' engine, with 1 and 2 threads.
import { describe } from 'vitest';
import { WASM_THREADS, wasmEngine } from './wasm-setup.js';
import { defineTrainerTwins } from './twins/trainer.js';

for (const threads of WASM_THREADS) {
  describe(`wasm, ${threads} thread(s)`, () => defineTrainerTwins(`wasm-trainer.test.ts (${threads} thread(s))`, wasmEngine(threads)));
}

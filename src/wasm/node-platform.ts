// worker_threads for the 'wasm' backend in Node (installed by src/node.ts).
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import type { WasmPlatform } from './platform.js';
import { workerSource } from './worker-main.js';

export const nodeWasmPlatform: WasmPlatform = {
  cores: () => availableParallelism(),
  noSharedMemory: () => null,
  mayBlock: () => true,
  spawn() {
    const worker = new Worker(workerSource('node'), { eval: true });
    worker.unref(); // idle workers never keep the process alive
    return {
      post: (m) => worker.postMessage(m),
      onMessage: (listener) => worker.on('message', listener),
      onError: (listener) => worker.on('error', listener),
      terminate: () => void worker.terminate(),
    };
  },
};

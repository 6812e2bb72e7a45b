// Where the 'wasm' backend gets its threads: Web Workers in a browser (shared
// memory only in a cross-origin-isolated page), worker_threads in Node (set
// by src/node.ts). The engine asks the platform and never imports Node modules
// itself, so the browser bundle stays free of them.
import { workerSource } from './worker-main.js';

export interface WorkerHandle {
  post(message: unknown): void;
  /** Called with each message the worker sends. */
  onMessage(listener: (message: unknown) => void): void;
  onError(listener: (error: Error) => void): void;
  terminate(): void;
}

export interface WasmPlatform {
  /** Logical cores, for the default thread count. */
  cores(): number;
  /** null when threads can share memory here, else the reason they cannot. */
  noSharedMemory(): string | null;
  spawn(): WorkerHandle;
  /** Whether the calling thread may block on Atomics.wait (not a browser's main thread). */
  mayBlock(): boolean;
}

const browserPlatform: WasmPlatform = {
  mayBlock: () => typeof document === 'undefined',
  cores: () => (typeof navigator !== 'undefined' && navigator.hardwareConcurrency) || 1,
  noSharedMemory() {
    if (typeof Worker === 'undefined') return 'this environment has no Web Workers';
    if (typeof SharedArrayBuffer === 'undefined' || (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated !== true) {
      return 'the page is not cross-origin isolated (no COOP/COEP headers), so workers cannot share memory';
    }
    return null;
  },
  spawn() {
    const url = URL.createObjectURL(new Blob([workerSource('browser')], { type: 'text/javascript' }));
    const worker = new Worker(url);
    URL.revokeObjectURL(url);
    return {
      post: (m) => worker.postMessage(m),
      onMessage: (listener) => worker.addEventListener('message', (e) => listener((e as MessageEvent).data)),
      onError: (listener) => worker.addEventListener('error', (e) => listener(new Error((e as ErrorEvent).message))),
      terminate: () => worker.terminate(),
    };
  },
};

let platform: WasmPlatform = browserPlatform;

export function setWasmPlatform(p: WasmPlatform): void {
  platform = p;
}

export function wasmPlatform(): WasmPlatform {
  return platform;
}

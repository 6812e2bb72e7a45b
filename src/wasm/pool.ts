// The threads of one 'wasm' engine and the linear memory they share.
//
// Memory: [module data and thread 0's stack | control block | worker stacks |
// context | arena]. The arena holds every array of a call; it is laid out
// anew for each call's shapes (src/wasm/arena.ts) and the memory only grows
// when a call needs more than any before it, so a steady training loop
// allocates nothing. Thread 0 is the calling thread: it publishes the call,
// runs its share, then spins until the workers are done (a browser's main
// thread may not block on Atomics.wait).
import { BpttDeviceError, BpttInputError } from '../errors.js';
import { wasmModule } from './binaries.js';
import type { WasmPlatform, WorkerHandle } from './platform.js';
import type { WorkerInit } from './worker-main.js';
import { SEQ_CONTEXT_BYTES } from './context.js';
import type { PhaseTimes } from './seq-call.js';

const PAGE = 65536;
const STACK = 65536;
const CTRL_BYTES = 64;
const MAX_PAGES = 32768; // the modules' --max-memory (2 GiB)
const START_MS = 20_000; // a worker that has not instantiated the module by then is taken as failed

type Entry = (ctx: number, tid: number, nth: number, mayWait: number) => void;
type Exports = { seq_run: Entry; __heap_base: WebAssembly.Global };

export class WasmPool {
  private broken: string | null = null;
  /** Where the time of the last call went (src/wasm/seq-call.ts). */
  lastPhases: PhaseTimes | null = null;
  /** Whether the last call ran the chapter's own steps (seq_chapter.c, where runsChapterKernels holds) or the cells'. */
  lastSteps: 'chapter' | 'cells' | null = null;

  private constructor(
    readonly threads: number,
    readonly memory: WebAssembly.Memory,
    private readonly exports: Exports,
    private readonly workers: WorkerHandle[],
    private readonly ctrl: number,
    private readonly mayBlock: boolean,
    /** Byte offset of the context block; the arena starts right after it. */
    readonly context: number,
  ) {}

  static async create(threads: number, platform: WasmPlatform): Promise<WasmPool> {
    const shared = threads > 1;
    const module = await wasmModule(shared ? 'threaded' : 'single');
    const memory = new WebAssembly.Memory({ initial: 32, maximum: MAX_PAGES, ...(shared ? { shared: true } : {}) } as WebAssembly.MemoryDescriptor);
    const instance = await WebAssembly.instantiate(module, { env: { memory, now: () => performance.now() } });
    const exports = instance.exports as unknown as Exports;
    const heapBase = align(exports.__heap_base.value as number, 16);
    const ctrl = heapBase;
    const stacks = ctrl + CTRL_BYTES;
    const context = stacks + (threads - 1) * STACK;
    grow(memory, context + SEQ_CONTEXT_BYTES);
    const workers: WorkerHandle[] = [];
    try {
      await Promise.all(
        Array.from({ length: threads - 1 }, (_, i) => {
          const worker = platform.spawn();
          workers.push(worker);
          const init: WorkerInit = { module, memory, tid: i + 1, nth: threads, ctrl, stackTop: stacks + (i + 1) * STACK };
          return new Promise<void>((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error(`worker ${i + 1} did not start within ${START_MS / 1000} s`)), START_MS);
            worker.onMessage((m) => {
              if ((m as { ready?: boolean }).ready) {
                clearTimeout(timer);
                resolve();
              }
            });
            worker.onError((e) => {
              clearTimeout(timer);
              reject(e);
            });
            worker.post(init);
          });
        }),
      );
    } catch (e) {
      for (const w of workers) w.terminate();
      throw e;
    }
    return new WasmPool(threads, memory, exports, workers, ctrl, platform.mayBlock(), context);
  }

  /** Makes the memory at least `bytes` long (views made before this may be detached: make them after). */
  ensure(bytes: number): void {
    grow(this.memory, bytes);
  }

  /** Runs seq_run (src/wasm/c/seq.c, the one entry point) on the context block on every thread; returns when all are done. */
  run(): void {
    if (this.broken) throw new BpttDeviceError(`the 'wasm' engine stopped after an earlier failure (${this.broken}); create a new engine`);
    const nth = this.threads;
    try {
      if (nth === 1) {
        this.exports.seq_run(this.context, 0, 1, 0);
        return;
      }
      const ctrl = new Int32Array(this.memory.buffer, this.ctrl, 8);
      Atomics.store(ctrl, 1, 0);
      Atomics.store(ctrl, 2, this.context);
      Atomics.add(ctrl, 0, 1);
      Atomics.notify(ctrl, 0);
      this.exports.seq_run(this.context, 0, nth, this.mayBlock ? 1 : 0);
      // the workers finish their last phase within microseconds of thread 0, unless the OS took their core
      for (let spins = 0, done; (done = Atomics.load(ctrl, 1)) !== nth - 1; spins++) {
        if (this.mayBlock && spins > 20000) Atomics.wait(ctrl, 1, done);
      }
      if (Atomics.load(ctrl, 4) !== 0) throw new Error('a worker thread failed');
    } catch (e) {
      // A trap leaves the other threads at a barrier: this pool cannot run again.
      this.broken = (e as Error).message;
      this.dispose();
      throw new BpttDeviceError(`the 'wasm' engine failed: ${(e as Error).message}`);
    }
  }

  dispose(): void {
    if (this.workers.length > 0) {
      const ctrl = new Int32Array(this.memory.buffer, this.ctrl, 8);
      Atomics.store(ctrl, 3, 1);
      Atomics.add(ctrl, 0, 1);
      Atomics.notify(ctrl, 0);
      for (const w of this.workers) w.terminate();
      this.workers.length = 0;
    }
  }
}

function align(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

function grow(memory: WebAssembly.Memory, bytes: number): void {
  const have = memory.buffer.byteLength;
  if (bytes <= have) return;
  const pages = Math.ceil((bytes - have) / PAGE);
  if (have / PAGE + pages > MAX_PAGES) {
    // refused before any work, like a GPU call beyond the device's limits
    throw new BpttInputError('batch', `a call whose arrays fit the 'wasm' engine's 2 GiB of memory (use smaller T*B or hidden size)`, `${bytes} bytes`);
  }
  try {
    memory.grow(pages);
  } catch (e) {
    throw new BpttDeviceError(`the 'wasm' engine could not grow its memory to ${bytes} bytes (${(e as Error).message})`);
  }
}

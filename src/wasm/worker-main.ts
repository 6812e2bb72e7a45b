// What each worker thread runs: its own instance of the threaded module over
// the engine's shared memory, then a loop that waits for the host to publish a
// call (the generation counter in the control block), runs its share of it,
// and counts itself done. The function is turned into source text
// (workerSource), so it must not refer to anything outside itself.
//
// Control block (Int32, in shared memory): [0] generation, [1] threads done,
// [2] context address, [3] quit, [4] error. The one entry point is seq_run (src/wasm/c/seq.c).
export interface WorkerInit {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  tid: number;
  nth: number;
  ctrl: number; // byte offset of the control block
  stackTop: number; // this thread's stack (it grows down)
}

function workerBody(init: WorkerInit, post: (message: unknown) => void): void {
  const { module, memory, tid, nth } = init;
  const instance = new WebAssembly.Instance(module, { env: { memory, now: () => performance.now() } });
  type Entry = (ctx: number, tid: number, nth: number, mayWait: number) => void;
  const exports = instance.exports as unknown as { seq_run: Entry; __stack_pointer: WebAssembly.Global };
  exports.__stack_pointer.value = init.stackTop;
  const ctrl = new Int32Array(memory.buffer, init.ctrl, 8);
  let seen = Atomics.load(ctrl, 0);
  post({ ready: true });
  for (;;) {
    // Spin a little first: in a training loop the next call comes within microseconds.
    for (let spins = 0; Atomics.load(ctrl, 0) === seen; spins++) {
      if (spins > 20000) Atomics.wait(ctrl, 0, seen);
    }
    seen = Atomics.load(ctrl, 0);
    if (Atomics.load(ctrl, 3) !== 0) return;
    try {
      exports.seq_run(Atomics.load(ctrl, 2), tid, nth, 1);
    } catch (e) {
      Atomics.store(ctrl, 4, 1);
      post({ error: String(e) });
    }
    Atomics.add(ctrl, 1, 1);
    Atomics.notify(ctrl, 1);
  }
}

/** Source text of a worker: Node's worker_threads (eval) or a browser Web Worker (from a Blob). */
export function workerSource(kind: 'node' | 'browser'): string {
  const glue =
    kind === 'node'
      ? `const { parentPort } = require('node:worker_threads');
parentPort.once('message', (init) => body(init, (m) => parentPort.postMessage(m)));`
      : `self.onmessage = (e) => { self.onmessage = null; body(e.data, (m) => self.postMessage(m)); };`;
  return `const body = ${workerBody.toString()};\n${glue}\n`;
}

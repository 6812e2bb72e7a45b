// The barrier between the phases of a call: every thread spins until the last
// one arrives. Spinning, not waiting, because a browser's main thread (thread 0
// there) may not block, and a phase is short (one recurrence step is tens of
// microseconds). bar[0] counts arrivals, bar[1] is the generation. Without
// atomics (the single-thread build) there is only one thread and nothing to wait for.
#include "bptt.h"

void barrier(volatile int32_t *bar, int nth) {
  if (nth <= 1) return;
#ifdef __wasm_atomics__
  int32_t gen = __atomic_load_n(&bar[1], __ATOMIC_SEQ_CST);
  if (__atomic_fetch_add(&bar[0], 1, __ATOMIC_SEQ_CST) == nth - 1) {
    __atomic_store_n(&bar[0], 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&bar[1], gen + 1, __ATOMIC_SEQ_CST);
  } else {
    while (__atomic_load_n(&bar[1], __ATOMIC_SEQ_CST) == gen) {
    }
  }
#endif
}

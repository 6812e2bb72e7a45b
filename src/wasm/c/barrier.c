// The barrier between the phases of a call. A thread spins first (a phase is
// short: one recurrence step is tens of microseconds, and two free cores meet
// there within a few), then, if it may block, sleeps on the generation word
// until the last thread arrives, so a thread that the OS has descheduled does
// not cost the others their time slices. A browser's main thread (thread 0
// there) may not block and only spins. bar[0] counts arrivals, bar[1] is the
// generation, bar[2] counts sleepers (the last thread only notifies when there
// are any). Without atomics (the single-thread build) there is nothing to wait for.
#include "bptt.h"

#define SPINS 20000

void barrier(volatile int32_t *bar, int nth, int may_wait) {
  if (nth <= 1) return;
#ifdef __wasm_atomics__
  int32_t gen = __atomic_load_n(&bar[1], __ATOMIC_SEQ_CST);
  if (__atomic_fetch_add(&bar[0], 1, __ATOMIC_SEQ_CST) == nth - 1) {
    __atomic_store_n(&bar[0], 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&bar[1], gen + 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&bar[2], __ATOMIC_SEQ_CST) > 0) __builtin_wasm_memory_atomic_notify((int32_t *)&bar[1], (uint32_t)-1);
    return;
  }
  for (int i = 0; __atomic_load_n(&bar[1], __ATOMIC_SEQ_CST) == gen; i++) {
    if (may_wait && i >= SPINS) {
      __atomic_fetch_add(&bar[2], 1, __ATOMIC_SEQ_CST);
      __builtin_wasm_memory_atomic_wait32((int32_t *)&bar[1], gen, -1);
      __atomic_fetch_sub(&bar[2], 1, __ATOMIC_SEQ_CST);
    }
  }
#else
  (void)bar;
  (void)may_wait;
#endif
}

// lib/gates: G, the gate count of the cell, in one place. `//! include gates`; the kernel
// declares `override CELL: u32` (0 rnn, 1 gru, 2 lstm), as src/gpu/variants.ts's CELL_CODE.

fn gateCount() -> u32 {
  if (CELL == 0u) { return 1u; }
  if (CELL == 1u) { return 3u; }
  return 4u;
}

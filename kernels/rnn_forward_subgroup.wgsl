// rnn_forward_subgroup: one step of the forward recurrence, 4 lanes per output met by subgroup shuffles
//
//   H_t[b, j] = phi( P_t[b, j] + sum_k H_{t-1}[b, k] * Whh[j, k] )      (as rnn_forward_step.wgsl)
//   lane l of output (b, j) sums k = l, l + 4, l + 8, ...; the 4 partial sums are
//   added by subgroupShuffleXor (offsets 2 then 1: a fixed order, bit-identical run after run)
//
//   H [(T+1), B, h] (H_{t-1} at offPrev, H_t written at offCur), P [T, B, h] (P_t at offP),
//   Whh [h, h] at offWhh in the parameter buffer
//
// The variant 'subgroup4' of src/gpu/rnn-variants.ts, for adapters with the
// `subgroups` feature (SwiftShader has it). A workgroup of 64 invocations
// covers 16 outputs e = b*h + j (4x the workgroups of one output per
// invocation: 512 at B = 32, h = 256); the 4 lanes of an output read
// neighbouring words of its row of Whh (coalesced without a transposed copy)
// and share a subgroup: they are consecutive invocations of a one-dimensional
// workgroup, and 4 divides the subgroup size (as for cell_forward_subgroup.wgsl's
// 4 lanes: every Vulkan, Metal and D3D12 driver has subgroups of 4 or more).

enable subgroups;

//! include rnn_forward_io

const LANES: u32 = 4u;

//! include activations

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let h = params.h;
  let n = params.B * h;
  let slot = wg.x * (64u / LANES) + li / LANES;
  let lane = li % LANES;
  // Every invocation takes part in the shuffles (uniform control flow); a slot past
  // the end repeats the last output and does not store.
  let e = min(slot, n - 1u);
  let b = e / h;
  let j = e % h;
  let row = params.offPrev + b * h;
  let w = params.offWhh + j * h;
  var acc = 0.0;
  for (var k = lane; k < h; k += LANES) { acc += H[row + k] * W[w + k]; }
  acc += subgroupShuffleXor(acc, 2u);
  acc += subgroupShuffleXor(acc, 1u);
  if (slot < n && lane == 0u) { H[params.offCur + e] = phi(P[params.offP + e] + acc); }
}

// carry_state: the trainer's carried hidden state, advanced only by a step that was applied
//
//   state[i] <- H[offHT + i]   when stats.nonFinite = 0 (the step's gradients were finite)
//   state unchanged            otherwise: a skipped step leaves the trainer as it was
//
//   H      [(T+1), B, h]  h_T at offHT
//   stats               from finalize.wgsl
//   state  [B, h]
//
// One invocation per element, 256 per workgroup, over x and y.

//! include stats

struct Params {
  n: u32,
  offHT: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> H: array<f32>;
@group(0) @binding(2) var<storage, read> stats: Stats;
@group(0) @binding(3) var<storage, read_write> state: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.y * nwg.x * 256u + gid.x;
  if (i >= params.n || stats.nonFinite != 0.0) { return; }
  state[i] = H[params.offHT + i];
}

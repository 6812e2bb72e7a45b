// rnn_forward_reduce: the forward step's epilogue after rnn_step_split.wgsl
//
//   H_t[b, j] = phi( P_t[b, j] + sum_{z = 0..splits-1} parts[z, b, j] )    (z in increasing order)
//
//   parts [splits, B, h]  partial sums of H_{t-1} Whh^T
//   P [T, B, h] (P_t at offP), H [(T+1), B, h] (H_t written at offCur)
//
// One invocation per element of H_t, 256 per workgroup, the count folded
// over x and y (elementwise() in src/gpu/encode.ts).

struct Params {
  n: u32, // B*h
  splits: u32,
  offP: u32,
  offCur: u32,
}

override ACTIVATION: u32 = 1u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> P: array<f32>;
@group(0) @binding(2) var<storage, read> parts: array<f32>;
@group(0) @binding(3) var<storage, read_write> H: array<f32>;

//! include activations

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let e = gid.y * nwg.x * 256u + gid.x;
  if (e >= params.n) { return; }
  var acc = 0.0;
  for (var z = 0u; z < params.splits; z++) { acc += parts[z * params.n + e]; }
  H[params.offCur + e] = phi(P[params.offP + e] + acc);
}

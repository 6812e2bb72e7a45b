// reduce_splits: the split-K partial gradients summed in a fixed order
//
//   grad[i] = sum_{s < splits} partials[s * n + i]        i < n (every parameter gradient)
//
// One invocation per element, 256 per workgroup, over x and y; no atomics and
// no barriers: bit-identical run after run. (The norm of grad is taken in
// finalize.wgsl, in one workgroup.)

struct Params {
  n: u32,
  splits: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> partials: array<f32>;
@group(0) @binding(2) var<storage, read_write> grad: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.y * nwg.x * 256u + gid.x;
  if (i >= params.n) { return; }
  var v = 0.0;
  for (var s = 0u; s < params.splits; s++) { v += partials[s * params.n + i]; }
  grad[i] = v;
}

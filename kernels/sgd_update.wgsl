// sgd_update: theta <- theta - lr * clip * g, skipped when the gradients are not finite
//
//   params [n]  every parameter, [Whx | Whh | Wqh | bh | bq]
//   grad   [n]  the matching gradients (before clipping)
//   stats       from finalize.wgsl: stats.clipScale, stats.clipScale2, stats.clipScale3 the clip scale's factors, stats.nonFinite
//
// One invocation per element, 256 per workgroup, over x and y.

//! include stats

struct Params {
  n: u32,
  learningRate: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read> stats: Stats;
@group(0) @binding(3) var<storage, read_write> theta: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.y * nwg.x * 256u + gid.x;
  if (i >= params.n || stats.nonFinite != 0.0) { return; }
  theta[i] = theta[i] - params.learningRate * (((grad[i] * stats.clipScale) * stats.clipScale2) * stats.clipScale3);
}

// scale_gradients: global-norm clipping applied on the device
//
//   g[i] <- ((g[i] * stats.clipScale) * stats.clipScale2) * stats.clipScale3     the clip scale min(1, clipNorm / ||g||) in three factors, from finalize.wgsl
//
//   grad  [n]  every parameter gradient, [dWhx | dWhh | dWqh | dbh | dbq]
//
// One invocation per element, 256 per workgroup, over x and y.

//! include stats

struct Params {
  n: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> stats: Stats;
@group(0) @binding(2) var<storage, read_write> grad: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.y * nwg.x * 256u + gid.x;
  if (i >= params.n) { return; }
  grad[i] = ((grad[i] * stats.clipScale) * stats.clipScale2) * stats.clipScale3;
}

// scale_gradients: global-norm clipping applied on the device
//
//   g[i] <- ((g[i] * stats.clipScale) * stats.clipScale2) * stats.clipScale3     the clip scale min(1, clipNorm / ||g||) in three factors, from finalize.wgsl
//
//   grad  [n]  every parameter gradient, [dWhx | dWhh | dWqh | dbh | dbq]
//
// One invocation per element, 256 per workgroup, over x and y.

// The scalars of a gradient call, written by finalize.wgsl; the host reads
// them by member name through reflection (src/gpu/stats.ts), and every kernel
// that reads them declares this same struct (test/gpu-stats-struct.test.ts).
struct Stats {
  loss: f32, // L
  gradNorm: f32, // ||g|| before clipping (NaN if any g_i is not finite)
  clipScale: f32, // min(1, clipNorm / ||g||) = clipScale * clipScale2 * clipScale3, applied one factor after the other
  nonFinite: f32, // 1 when ||g|| is NaN or infinite
  clipped: f32, // 1 when clipped
  step: f32, // updates applied so far: Adam's t
  clipScale2: f32, // the clip scale's second factor (each factor a normal f32: the scale itself may be below 2^-126)
  clipScale3: f32, // its third factor
  perStep: array<f32>, // ||dH_t|| per (layer-direction,) step
}

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

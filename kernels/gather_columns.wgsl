// gather_columns: the input projection for token ids, a gather instead of a product
//
//   P[r, i] = Whx[i, ids[r]] + bh[i]      (= Whx onehot(ids[r]) + bh, exactly)
//
//   ids [R]     token ids in [0, d), R = T*B
//   W           the parameter buffer: Whx [h, d] at offWhx, bh [h] at offBias
//   P   [R, h]     at offP (one layer-direction's block of a larger buffer)
//
// One invocation per element of P, 256 per workgroup, over x and y.

struct Params {
  R: u32,
  d: u32,
  h: u32,
  offWhx: u32,
  offBias: u32,
  hasBias: u32,
  offP: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> ids: array<i32>;
@group(0) @binding(2) var<storage, read> W: array<f32>;
@group(0) @binding(3) var<storage, read_write> P: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let e = gid.y * nwg.x * 256u + gid.x;
  if (e >= params.R * params.h) { return; }
  let r = e / params.h;
  let i = e % params.h;
  var v = W[params.offWhx + i * params.d + u32(ids[r])];
  if (params.hasBias != 0u) { v += W[params.offBias + i]; }
  P[params.offP + e] = v;
}

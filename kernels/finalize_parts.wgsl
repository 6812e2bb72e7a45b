// finalize_parts: the first pass of the multi-workgroup finalize, one block per workgroup
//
//   w = 0..W-1 (W = parts workgroups), blocks of rows [w*cR, (w+1)*cR) and of elements [w*cN, (w+1)*cN):
//   out[w]        = sum_{r in block} rowLoss[r]                         (0 when hasLoss = 0)
//   out[W + w]    = n_w = sqrt(sum_{i in block} g_i^2), as sqrt(sum (g_i k)^2) / k, k about 1 / max |g_i|
//                   (finite elements only: no overflow of the sum of squares)
//   out[2W + w]   = 1 when some g_i of the block is NaN or infinite, else 0
//
// finalize.wgsl with PARTS = W then adds the W loss sums, combines the norms
// (||g|| = sqrt(sum_w n_w^2), scaled again by the largest) and ORs the flags,
// in a fixed order: bit-identical run after run, no atomics. The variant
// 'multi' of src/gpu/rnn-variants.ts: finalize.wgsl alone reads the whole
// gradient with one workgroup of 256 invocations; here W workgroups share it.

struct Params {
  R: u32,
  hasLoss: u32,
  n: u32, // elements of grad
  parts: u32, // W
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> rowLoss: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

//! include group_reduce

//! include finite

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let w = wg.x;
  let W = params.parts;
  let cR = (params.R + W - 1u) / W;
  let cN = (params.n + W - 1u) / W;
  var l = 0.0;
  if (params.hasLoss != 0u) {
    for (var r = w * cR + li; r < min(params.R, (w + 1u) * cR); r += 256u) { l += rowLoss[r]; }
  }
  let loss = reduce(li, l);
  let i0 = w * cN;
  let i1 = min(params.n, i0 + cN);
  var m = 0.0;
  var bad = 0.0;
  for (var i = i0 + li; i < i1; i += 256u) {
    let g = grad[i];
    if (isFiniteF(g)) { m = max(m, abs(g)); } else { bad = 1.0; }
  }
  m = reduceMax(li, m);
  bad = reduceMax(li, bad);
  var s = 0.0;
  var k = vec2<f32>(1.0, 1.0);
  if (m > 0.0) {
    k = inverseFactors(m);
    for (var i = i0 + li; i < i1; i += 256u) {
      if (!isFiniteF(grad[i])) { continue; }
      let r = (grad[i] * k.x) * k.y;
      s += r * r;
    }
  }
  let norm = sqrt(reduce(li, s)) / k.y / k.x;
  if (li == 0u) {
    out[w] = loss;
    out[W + w] = norm;
    out[2u * W + w] = bad;
  }
}

// column_sums: the bias gradients, sums over rows, split like the weight gradients
//
//   out[offOut + s * splitStride + c] = sum over rows r of split s of A[offA + r * N + c]
//   db_h = sum_r dA_r (A = dA_1..dA_T),  db_q = sum_r dO_r (A = dO)
//
// Split s covers rows [s * kPerSplit, (s+1) * kPerSplit) of the R = T*B rows,
// the same blocks as matmul.wgsl's split-K, so reduce_splits.wgsl sums both.
// One invocation per (column, split): 64 columns per workgroup, splits over y;
// neighbouring invocations read neighbouring columns. No atomics, no barriers.

struct Params {
  R: u32,
  N: u32,
  offA: u32,
  offOut: u32,
  kPerSplit: u32,
  splitStride: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  let s = gid.y;
  if (c >= params.N) { return; }
  let begin = s * params.kPerSplit;
  let end = min(params.R, begin + params.kPerSplit);
  var acc = 0.0;
  for (var r = begin; r < end; r++) { acc += A[params.offA + r * params.N + c]; }
  out[params.offOut + s * params.splitStride + c] = acc;
}

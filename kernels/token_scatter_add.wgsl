// token_scatter_add: dWhx for token ids, the scatter-add of dA rows into columns
//
//   dWhx[i, v] = sum over rows r with ids[r] == v of dA[r, i]   (= dA^T onehot(ids))
//
// Deterministic, without atomics: the rows are grouped by id on the host
// (a counting sort, O(T*B)), and each invocation sums its own list in a
// fixed order. When the ids live only on the device (engine.gpu.backward),
// SCAN_ALL_ROWS makes each invocation scan every row's id instead: the same
// sums in the same order, O(h*d*T*B) id reads.
//
//   csr   [d + 1 + R]  csr[v]..csr[v+1] index into csr[d + 1 + ...] = rows with id v
//   ids   [R]          token ids (read when SCAN_ALL_ROWS)
//   dA    [R, h]       at offDA
//   out                dWhx [h, d] at offOut; the other split-K blocks of the
//                      same region (splits - 1 of them, stride splitStride) are zeroed
//
// One invocation per (i, v), 256 per workgroup, over x and y.

struct Params {
  R: u32,
  d: u32,
  h: u32,
  offDA: u32,
  offOut: u32,
  splits: u32,
  splitStride: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
override SCAN_ALL_ROWS: bool = false;

@group(0) @binding(1) var<storage, read> csr: array<u32>;
@group(0) @binding(2) var<storage, read> ids: array<i32>;
@group(0) @binding(3) var<storage, read> dA: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let e = gid.y * nwg.x * 256u + gid.x;
  let d = params.d;
  if (e >= params.h * d) { return; }
  let i = e / d;
  let v = e % d;
  var acc = 0.0;
  if (SCAN_ALL_ROWS) {
    for (var r = 0u; r < params.R; r++) {
      if (u32(ids[r]) == v) { acc += dA[params.offDA + r * params.h + i]; }
    }
  } else {
    for (var p = csr[v]; p < csr[v + 1u]; p++) {
      let r = csr[d + 1u + p];
      acc += dA[params.offDA + r * params.h + i];
    }
  }
  out[params.offOut + e] = acc;
  for (var s = 1u; s < params.splits; s++) { out[params.offOut + s * params.splitStride + e] = 0.0; }
}

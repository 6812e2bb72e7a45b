// transpose: dst = src^T
//
//   dst[offDst + c*rows + r] = src[offSrc + r*cols + c]      src [rows, cols] -> dst [cols, rows]
//
// Makes WhhT, the transposed copy of Whh that the 'coalesced' and 'splitk'
// forward variants read (src/gpu/rnn-variants.ts), once per call (per step
// of a trainer, whose Whh changes). One invocation per element of dst, 256
// per workgroup, the count folded over x and y (elementwise() in encode.ts).

struct Params {
  rows: u32,
  cols: u32,
  offSrc: u32,
  offDst: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.y * nwg.x * 256u + gid.x;
  if (i >= params.rows * params.cols) { return; }
  let c = i / params.rows; // consecutive invocations write consecutive words of dst
  let r = i % params.rows;
  dst[params.offDst + i] = src[params.offSrc + r * params.cols + c];
}

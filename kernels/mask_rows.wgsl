// mask_rows: zero the padded rows of a time-major [T, B, n] tensor
//
//   A[off + (t*B + b)*n + c] = 0   for t >= lengths[b] (0-based t: the steps past n_b)
//
// Sequences of different lengths (MATH.md): the head's output O, and dO and
// the row losses after the loss, are zero at padded rows and carry no loss;
// a caller's dO or dY there is ignored.
//
//   lengths [B] u32   n_b
//   A                 the tensor, at element offset off
//
// One invocation per element, 256 per workgroup, over x and y.

struct Params {
  R: u32, // T*B rows
  B: u32,
  n: u32, // columns
  off: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> lengths: array<u32>;
@group(0) @binding(2) var<storage, read_write> A: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.y * nwg.x * 256u + gid.x;
  if (i >= params.R * params.n) { return; }
  let r = i / params.n;
  if (r / params.B >= lengths[r % params.B]) { A[params.off + i] = 0.0; }
}

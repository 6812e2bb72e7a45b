// reduce_splits: the split-K partial gradients summed in a fixed order, and
// the sum of squares of the result per workgroup (for the global norm)
//
//   grad[i] = sum_{s < splits} partials[s * n + i]        i < n (every parameter gradient)
//   normPartials[w] = sum of grad[i]^2 over the 256 elements of workgroup w
//
// One invocation per element, 256 per workgroup, over x and y; a tree
// reduction in workgroup memory. No atomics: bit-identical run after run.

struct Params {
  n: u32,
  splits: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> partials: array<f32>;
@group(0) @binding(2) var<storage, read_write> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> normPartials: array<f32>;

var<workgroup> red: array<f32, 256>;

@compute @workgroup_size(256)
fn main(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) li: u32,
) {
  let w = wg.y * nwg.x + wg.x;
  let i = w * 256u + li;
  var v = 0.0;
  if (i < params.n) {
    for (var s = 0u; s < params.splits; s++) { v += partials[s * params.n + i]; }
    grad[i] = v;
  }
  red[li] = v * v;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s >>= 1u) {
    if (li < s) { red[li] += red[li + s]; }
    workgroupBarrier();
  }
  if (li == 0u) { normPartials[w] = red[0]; }
}

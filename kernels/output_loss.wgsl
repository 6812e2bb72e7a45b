// output_loss: the loss of each row and dO = dL/do, fused, in place over O
//
//   cross-entropy (LOSS = 0): l_r = logsumexp(o_r) - o_r[y_r]
//                             dO_r = (softmax(o_r) - onehot(y_r)) * scale
//   mse           (LOSS = 1): l_r = 1/2 ||o_r - y_r||^2,  dO_r = (o_r - y_r) * scale
//   scale = 1 / (T*B), so that L = scale * sum_r l_r.
//
//   O        [R, q]  R = T*B rows; holds o on entry and dO on exit
//   labels   [R]     class ids (cross-entropy)
//   targets  [R, q]  targets (mse)
//   rowLoss  [R]     l_r, summed in a fixed order by finalize.wgsl
//
// One workgroup of 64 invocations per row (rows folded over x and y when R
// exceeds the dispatch limit); each invocation strides over q, then a tree
// reduction in workgroup memory gives the row's max and sum: a stable softmax.

struct Params {
  R: u32,
  q: u32,
  scale: f32,
}

override LOSS: u32 = 0u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> labels: array<i32>;
@group(0) @binding(2) var<storage, read> targets: array<f32>;
@group(0) @binding(3) var<storage, read_write> O: array<f32>;
@group(0) @binding(4) var<storage, read_write> rowLoss: array<f32>;

var<workgroup> red: array<f32, 64>;

fn reduceSum(li: u32, v: f32) -> f32 {
  red[li] = v;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s >>= 1u) {
    if (li < s) { red[li] += red[li + s]; }
    workgroupBarrier();
  }
  let total = red[0];
  workgroupBarrier();
  return total;
}

fn reduceMax(li: u32, v: f32) -> f32 {
  red[li] = v;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s >>= 1u) {
    if (li < s) { red[li] = max(red[li], red[li + s]); }
    workgroupBarrier();
  }
  let total = red[0];
  workgroupBarrier();
  return total;
}

@compute @workgroup_size(64)
fn main(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) li: u32,
) {
  let r = wg.y * nwg.x + wg.x;
  if (r >= params.R) { return; } // uniform per workgroup
  let q = params.q;
  let base = r * q;
  if (LOSS == 0u) {
    var m = bitcast<f32>(0xff7fffffu); // the lowest finite f32
    for (var c = li; c < q; c += 64u) { m = max(m, O[base + c]); }
    m = reduceMax(li, m);
    var s = 0.0;
    for (var c = li; c < q; c += 64u) { s += exp(O[base + c] - m); }
    s = reduceSum(li, s);
    let y = u32(labels[r]);
    let oy = O[base + y];
    workgroupBarrier();
    for (var c = li; c < q; c += 64u) {
      let p = exp(O[base + c] - m) / s;
      O[base + c] = (p - select(0.0, 1.0, c == y)) * params.scale;
    }
    if (li == 0u) { rowLoss[r] = m + log(s) - oy; }
  } else {
    var l = 0.0;
    for (var c = li; c < q; c += 64u) {
      let diff = O[base + c] - targets[base + c];
      l += diff * diff;
      O[base + c] = diff * params.scale;
    }
    l = reduceSum(li, l);
    if (li == 0u) { rowLoss[r] = 0.5 * l; }
  }
}

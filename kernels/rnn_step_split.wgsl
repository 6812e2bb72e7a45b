// rnn_step_split: the recurrent product of one step, split over k across workgroups
//
//   parts[z, b, j] = sum_{k in block z} X[b, k] * M[k, j]      blocks of kPerSplit: k in [z*kPerSplit, (z+1)*kPerSplit) ∩ [0, h)
//
//   forward:  X = H_{t-1} (offX into H), M = WhhT (Whh transposed, transpose.wgsl): sum_z parts = H_{t-1} Whh^T
//   backward: X = dA_{t+1} (offX into dA), M = Whh (offM into the parameters):     sum_z parts = dA_{t+1} Whh
//   parts [splits, B, h]  partial sums (a scratch buffer), one block of B*h per split
//
// The 'splitk' variants of the RnnModel step kernels (src/gpu/rnn-variants.ts):
// where B*h is small, one output per invocation leaves most of a GPU idle;
// splitting the K = h sum over `splits` workgroups in z multiplies the
// workgroups by that many. The partial sums are added in a fixed order by
// the next dispatch (rnn_forward_reduce.wgsl, rnn_backward_reduce.wgsl): no
// atomics, bit-identical run after run. A workgroup is 64 invocations along
// j (neighbours read neighbouring words of M) for one row b (wg.y) and one
// block (wg.z); columns past h are skipped.

struct Params {
  B: u32,
  h: u32,
  offX: u32,
  offM: u32,
  kPerSplit: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read> M: array<f32>;
@group(0) @binding(3) var<storage, read_write> parts: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let h = params.h;
  let b = wg.y;
  let j = wg.x * 64u + lid.x;
  if (j >= h) { return; }
  let k0 = wg.z * params.kPerSplit;
  let k1 = min(h, k0 + params.kPerSplit);
  let row = params.offX + b * h;
  var acc = 0.0;
  for (var k = k0; k < k1; k++) { acc += X[row + k] * M[params.offM + k * h + j]; }
  parts[(wg.z * params.B + b) * h + j] = acc;
}

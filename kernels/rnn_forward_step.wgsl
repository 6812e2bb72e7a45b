// rnn_forward_step: one step of the forward recurrence, fused with the activation
//
//   H_t[b, j] = phi( P_t[b, j] + sum_k H_{t-1}[b, k] * Whh[j, k] )      (A_t = P_t + H_{t-1} Whh^T)
//
//   H   [(T+1), B, h]  H_0 = h0 at offset 0; reads H_{t-1} at offPrev, writes H_t at offCur
//   P   [T, B, h]      the input projection X Whx^T + bh of every step, P_t at offP
//   Whh [h, h]         at offWhh inside the parameter buffer
//   phi = ACTIVATION: 0 identity, 1 tanh, 2 relu. A_t is not stored: phi'(a_t)
//   is recovered from h_t in the backward step.
//
// One dispatch per step (the sequential part of BPTT). Work split as in
// matmul.wgsl: 8x8 invocations per workgroup compute a 32x32 tile of H_t
// (rows b, columns j), 4x4 per invocation, K = h staged 16 at a time in
// workgroup memory and read back as vec4.

struct Params {
  B: u32,
  h: u32,
  offPrev: u32,
  offCur: u32,
  offP: u32,
  offWhh: u32,
}

override ACTIVATION: u32 = 1u;

const TILE: u32 = 32u;
const TK: u32 = 16u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> P: array<f32>;
@group(0) @binding(2) var<storage, read> W: array<f32>;
@group(0) @binding(3) var<storage, read_write> H: array<f32>;

var<workgroup> tileH: array<vec4<f32>, 128>; // [TK][TILE/4]: H_{t-1}[b0 + 4i..4i+3, k]
var<workgroup> tileW: array<vec4<f32>, 128>; // [TK][TILE/4]: Whh[j0 + 4j..4j+3, k]

fn phi(a: f32) -> f32 {
  if (ACTIVATION == 1u) { return tanh(a); }
  if (ACTIVATION == 2u) { return max(a, 0.0); }
  return a;
}

@compute @workgroup_size(8, 8)
fn main(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(local_invocation_id) lid: vec3<u32>,
  @builtin(local_invocation_index) li: u32,
) {
  let B = params.B;
  let h = params.h;
  let b0 = wg.y * TILE;
  let j0 = wg.x * TILE;

  var acc: array<vec4<f32>, 4>;
  for (var k0 = 0u; k0 < h; k0 += TK) {
    for (var e = li; e < TK * TILE; e += 64u) {
      let row = e / TK;
      let kk = e % TK;
      let k = k0 + kk;
      var hv = 0.0;
      if (b0 + row < B && k < h) { hv = H[params.offPrev + (b0 + row) * h + k]; }
      tileH[kk * 8u + row / 4u][row % 4u] = hv;
      var wv = 0.0;
      if (j0 + row < h && k < h) { wv = W[params.offWhh + (j0 + row) * h + k]; }
      tileW[kk * 8u + row / 4u][row % 4u] = wv;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TK; kk++) {
      let a = tileH[kk * 8u + lid.y];
      let w = tileW[kk * 8u + lid.x];
      acc[0] += a.x * w;
      acc[1] += a.y * w;
      acc[2] += a.z * w;
      acc[3] += a.w * w;
    }
    workgroupBarrier();
  }

  for (var i = 0u; i < 4u; i++) {
    let b = b0 + 4u * lid.y + i;
    if (b >= B) { break; }
    for (var jj = 0u; jj < 4u; jj++) {
      let j = j0 + 4u * lid.x + jj;
      if (j >= h) { break; }
      H[params.offCur + b * h + j] = phi(P[params.offP + b * h + j] + acc[i][jj]);
    }
  }
}

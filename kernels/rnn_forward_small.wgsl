// rnn_forward_small: one step of the forward recurrence, one output per invocation
//
//   H_t[b, j] = phi( P_t[b, j] + sum_k H_{t-1}[b, k] * Whh[j, k] )      (as rnn_forward_step.wgsl)
//
//   H   [(T+1), B, h]  reads H_{t-1} at offPrev, writes H_t at offCur
//   P   [T, B, h]      P_t at offP
//   W                  Whh [h, h] at offW (TRANSPOSED = false), or its
//                      transposed copy WhhT [h, h], WhhT[k, j] = Whh[j, k],
//                      at offW (TRANSPOSED = true; transpose.wgsl, once per call)
//
// The variants 'small' and 'coalesced' of the RnnModel forward step
// (src/gpu/rnn-variants.ts). A workgroup of WG_X x WG_Y invocations covers
// WG_X columns j and WG_Y rows b of H_t, one output each: 'small' is 8 x 8
// (16x the workgroups of the 32x32 tiles of rnn_forward_step.wgsl: 128 at
// B = 32, h = 256), 'coalesced' is 64 x 1 over a transposed Whh, so that the
// 64 neighbouring invocations of a workgroup read 64 neighbouring words of
// WhhT at each k while all of them read the same H_{t-1}[b, k] (a broadcast).
// Rows and columns past B and h are skipped.

struct Params {
  B: u32,
  h: u32,
  offPrev: u32,
  offCur: u32,
  offP: u32,
  offW: u32,
}

override ACTIVATION: u32 = 1u;
override TRANSPOSED: bool = false;
override WG_X: u32 = 8u;
override WG_Y: u32 = 8u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> P: array<f32>;
@group(0) @binding(2) var<storage, read> W: array<f32>;
@group(0) @binding(3) var<storage, read_write> H: array<f32>;

//! include activations

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let h = params.h;
  let b = wg.y * WG_Y + lid.y;
  let j = wg.x * WG_X + lid.x;
  if (b >= params.B || j >= h) { return; }
  let row = params.offPrev + b * h;
  var acc = 0.0;
  if (TRANSPOSED) {
    for (var k = 0u; k < h; k++) { acc += H[row + k] * W[params.offW + k * h + j]; }
  } else {
    let w = params.offW + j * h;
    for (var k = 0u; k < h; k++) { acc += H[row + k] * W[w + k]; }
  }
  let e = b * h + j;
  H[params.offCur + e] = phi(P[params.offP + e] + acc);
}

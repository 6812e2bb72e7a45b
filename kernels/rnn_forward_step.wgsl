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
// One dispatch per step (the sequential part of BPTT). Work split: 8x8
// invocations per workgroup cover a 32x32 tile of H_t (rows b, columns j);
// each invocation a 4x4 block, accumulated in four named vec4 registers over
// k = 0..h-1, reading its 4 rows of H_{t-1} and 4 rows of Whh straight from
// storage. The product per step is small (B x h x h) and both operands stay
// in cache; measured on SwiftShader, staging them in workgroup memory (with
// two barriers per K stage) was 1.5x slower. Rows and columns past B and h
// are clamped on load and skipped on store: any size works.

//! include rnn_forward_io

const TILE: u32 = 32u;

//! include activations

fn store(b: u32, j0: u32, v: vec4<f32>) {
  let h = params.h;
  if (b >= params.B) { return; }
  for (var jj = 0u; jj < 4u; jj++) {
    let j = j0 + jj;
    if (j >= h) { return; }
    H[params.offCur + b * h + j] = phi(P[params.offP + b * h + j] + v[jj]);
  }
}

@compute @workgroup_size(8, 8)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let B = params.B;
  let h = params.h;
  let b0 = wg.y * TILE + 4u * lid.y;
  let j0 = wg.x * TILE + 4u * lid.x;
  // Row starts of H_{t-1} (b0..b0+3) and of Whh (j0..j0+3), clamped into range.
  let r0 = params.offPrev + min(b0, B - 1u) * h;
  let r1 = params.offPrev + min(b0 + 1u, B - 1u) * h;
  let r2 = params.offPrev + min(b0 + 2u, B - 1u) * h;
  let r3 = params.offPrev + min(b0 + 3u, B - 1u) * h;
  let c0 = params.offWhh + min(j0, h - 1u) * h;
  let c1 = params.offWhh + min(j0 + 1u, h - 1u) * h;
  let c2 = params.offWhh + min(j0 + 2u, h - 1u) * h;
  let c3 = params.offWhh + min(j0 + 3u, h - 1u) * h;
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  for (var k = 0u; k < h; k++) {
    let w = vec4<f32>(W[c0 + k], W[c1 + k], W[c2 + k], W[c3 + k]);
    acc0 += H[r0 + k] * w;
    acc1 += H[r1 + k] * w;
    acc2 += H[r2 + k] * w;
    acc3 += H[r3 + k] * w;
  }
  store(b0, j0, acc0);
  store(b0 + 1u, j0, acc1);
  store(b0 + 2u, j0, acc2);
  store(b0 + 3u, j0, acc3);
}

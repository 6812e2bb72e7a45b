// window_backward_step: one step of the reverse sweep for window(tau) truncation
//
// Every loss term l_s sends its gradient back through at most tau steps. The
// sweep carries tau adjoint slots, one per age k = s - t:
//   dH^(0)_t = G_t (+ dhT at t = T)
//   dH^(k)_t = sum_i dA^(k-1)_{t+1}[b, i] * Whh[i, j]      k = 1..tau-1 (0 at t = T)
//   dA^(k)_t = dH^(k)_t * phi'(a_t)
//   dA_t = sum_k dA^(k)_t, and ||dH_t|| uses dH_t = sum_k dH^(k)_t
// The slot of age tau-1 is dropped after this step: its loss term may not
// reach h_{t-1}.
//
//   slots [2, tau, B, h]  ping-pong: reads the slots of step t+1 at offOld,
//                         writes those of step t at offNew
//   G [T, B, h], H [(T+1), B, h], dA [(T+1), B, h], dhT [B, h], Whh at offWhh
//   normPartials          ||dH_t|| over each workgroup's tile at normBase + workgroup index
//
// One dispatch per step. Work split as in rnn_backward_step.wgsl: 8x8
// invocations per workgroup cover a 32x32 tile of (b, j), 4x4 per invocation;
// each invocation loops over the tau ages, one K = h product per age read
// straight from storage, and sums dA_t and dH_t in registers.

//! include window_io

// A 4x4 block of (b, j), one vec4 of columns per row.
struct Block {
  r0: vec4<f32>,
  r1: vec4<f32>,
  r2: vec4<f32>,
  r3: vec4<f32>,
}

const TILE: u32 = 32u;

//! include activations

/** Rows b0..b0+3 of slot `src` (an offset into slots) times Whh, columns j0..j0+3. */
fn carry(src: u32, b0: u32, j0: u32) -> Block {
  let B = params.B;
  let h = params.h;
  let r0 = src + min(b0, B - 1u) * h;
  let r1 = src + min(b0 + 1u, B - 1u) * h;
  let r2 = src + min(b0 + 2u, B - 1u) * h;
  let r3 = src + min(b0 + 3u, B - 1u) * h;
  let c0 = params.offWhh + min(j0, h - 1u);
  let c1 = params.offWhh + min(j0 + 1u, h - 1u);
  let c2 = params.offWhh + min(j0 + 2u, h - 1u);
  let c3 = params.offWhh + min(j0 + 3u, h - 1u);
  var out = Block(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
  for (var i = 0u; i < h; i++) {
    let row = i * h;
    let w = vec4<f32>(W[c0 + row], W[c1 + row], W[c2 + row], W[c3 + row]);
    out.r0 += slots[r0 + i] * w;
    out.r1 += slots[r1 + i] * w;
    out.r2 += slots[r2 + i] * w;
    out.r3 += slots[r3 + i] * w;
  }
  return out;
}

/** Age k of row b: dH^(k) from the carry (or G_t at age 0), writes dA^(k); returns (dA^(k), dH^(k)) per column. */
fn age(k: u32, b: u32, j0: u32, c: vec4<f32>) -> mat2x4<f32> {
  var a = vec4<f32>(0.0);
  var dh = vec4<f32>(0.0);
  if (b >= params.B) { return mat2x4<f32>(a, dh); }
  let h = params.h;
  for (var jj = 0u; jj < 4u; jj++) {
    let j = j0 + jj;
    if (j >= h) { break; }
    let e = b * h + j;
    var v = c[jj];
    if (k == 0u) {
      v = G[params.offG + e];
      if (params.first != 0u) { v += dhT[e]; }
    }
    dh[jj] = v;
    a[jj] = v * phiGrad(H[params.offH + e]);
    slots[params.offNew + k * params.B * h + e] = a[jj];
  }
  return mat2x4<f32>(a, dh);
}

fn finish(b: u32, j0: u32, a: vec4<f32>) {
  let h = params.h;
  if (b >= params.B) { return; }
  for (var jj = 0u; jj < 4u; jj++) {
    let j = j0 + jj;
    if (j >= h) { break; }
    dA[params.offOut + b * h + j] = a[jj];
  }
}

//! include finite

//! include tilenorm4

@compute @workgroup_size(8, 8)
fn main(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_id) lid: vec3<u32>,
  @builtin(local_invocation_index) li: u32,
) {
  let bh = params.B * params.h;
  let b0 = wg.y * TILE + 4u * lid.y;
  let j0 = wg.x * TILE + 4u * lid.x;
  var sum0 = mat2x4<f32>(vec4<f32>(0.0), vec4<f32>(0.0)); // (sum_k dA^(k), sum_k dH^(k)) of row b0
  var sum1 = sum0;
  var sum2 = sum0;
  var sum3 = sum0;
  for (var k = 0u; k < params.tau; k++) {
    var c = Block(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
    if (k > 0u && params.first == 0u) { c = carry(params.offOld + (k - 1u) * bh, b0, j0); }
    sum0 += age(k, b0, j0, c.r0);
    sum1 += age(k, b0 + 1u, j0, c.r1);
    sum2 += age(k, b0 + 2u, j0, c.r2);
    sum3 += age(k, b0 + 3u, j0, c.r3);
  }
  finish(b0, j0, sum0[0]);
  finish(b0 + 1u, j0, sum1[0]);
  finish(b0 + 2u, j0, sum2[0]);
  finish(b0 + 3u, j0, sum3[0]);

  if (params.normBase != 0xffffffffu) {
    // sum_k dH^(k) is zero outside the matrix (age() returns zeros there)
    let norm = tileNorm(li, sum0[1], sum1[1], sum2[1], sum3[1]);
    if (li == 0u) { normPartials[params.normBase + wg.y * nwg.x + wg.x] = norm; }
  }
}

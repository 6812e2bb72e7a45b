// rnn_backward_step: one step of the reverse sweep, fused with phi'
//
//   dH_t[b, j] = G_t[b, j] + xi_{t+1} * sum_i dA_{t+1}[b, i] * Whh[i, j]   (the carry is dhT at t = T)
//   dA_t[b, j] = dH_t[b, j] * phi'(a_t[b, j])                             (phi' read through h_t)
//
//   dA  [(T+1), B, h]  dA_t at offOut; dA_{t+1} at offNext. Slot 0 receives
//                      dh_0 = xi_1 * dA_1 Whh from the same kernel with
//                      useG = 0 and applyAct = 0 (no G, no phi').
//   G   [T, B, h]      dO Wqh for every step (one GEMM beforehand), G_t at offG
//   H   [(T+1), B, h]  h_t at offH, for phi'
//   dhT [B, h]         the gradient arriving at h_T (read when useCarry = 0)
//   Whh [h, h]         at offWhh in the parameter buffer
//   normPartials       ||dH_t|| over each workgroup's tile, at normBase + workgroup
//                      index (combined in finalize.wgsl into gradNormPerStep)
//
// One dispatch per step. Work split as in rnn_forward_step.wgsl: 8x8
// invocations per workgroup cover a 32x32 tile (rows b, columns j), 4x4 per
// invocation in four named vec4 registers, operands read straight from
// storage (rows of dA_{t+1}; four consecutive columns of each row of Whh).

//! include rnn_backward_io

const TILE: u32 = 32u;

//! include activations

/** Writes dA_t for row b, columns j0..j0+3; returns dH there (zeros outside the matrix). */
fn store(b: u32, j0: u32, carry: vec4<f32>) -> vec4<f32> {
  let h = params.h;
  var out = vec4<f32>(0.0);
  if (b >= params.B) { return out; }
  for (var jj = 0u; jj < 4u; jj++) {
    let j = j0 + jj;
    if (j >= h) { break; }
    let e = b * h + j;
    var dh = params.xi * carry[jj];
    if (params.useCarry == 0u) { dh = dhT[e]; }
    if (params.useG != 0u) { dh += G[params.offG + e]; }
    out[jj] = dh;
    var v = dh;
    if (params.applyAct != 0u) { v = dh * phiGrad(H[params.offH + e]); }
    dA[params.offOut + e] = v;
  }
  return out;
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
  let B = params.B;
  let h = params.h;
  let b0 = wg.y * TILE + 4u * lid.y;
  let j0 = wg.x * TILE + 4u * lid.x;
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  // No carry (t = T, or xi_{t+1} = 0): an empty loop rather than a branch
  // around it (measured 10% faster on SwiftShader).
  let kEnd = select(0u, h, params.useCarry != 0u && params.xi != 0.0);
  {
    let r0 = params.offNext + min(b0, B - 1u) * h;
    let r1 = params.offNext + min(b0 + 1u, B - 1u) * h;
    let r2 = params.offNext + min(b0 + 2u, B - 1u) * h;
    let r3 = params.offNext + min(b0 + 3u, B - 1u) * h;
    let c0 = params.offWhh + min(j0, h - 1u);
    let c1 = params.offWhh + min(j0 + 1u, h - 1u);
    let c2 = params.offWhh + min(j0 + 2u, h - 1u);
    let c3 = params.offWhh + min(j0 + 3u, h - 1u);
    for (var i = 0u; i < kEnd; i++) {
      let row = i * h;
      let w = vec4<f32>(W[c0 + row], W[c1 + row], W[c2 + row], W[c3 + row]);
      acc0 += dA[r0 + i] * w;
      acc1 += dA[r1 + i] * w;
      acc2 += dA[r2 + i] * w;
      acc3 += dA[r3 + i] * w;
    }
  }
  let d0 = store(b0, j0, acc0);
  let d1 = store(b0 + 1u, j0, acc1);
  let d2 = store(b0 + 2u, j0, acc2);
  let d3 = store(b0 + 3u, j0, acc3);

  if (params.normBase != 0xffffffffu) {
    let norm = tileNorm(li, d0, d1, d2, d3);
    if (li == 0u) { normPartials[params.normBase + wg.y * nwg.x + wg.x] = norm; }
  }
}

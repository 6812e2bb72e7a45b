// rnn_backward_small: one step of the reverse sweep, one output per invocation
//
//   dH_t[b, j] = G_t[b, j] + xi_{t+1} * sum_i dA_{t+1}[b, i] * Whh[i, j]   (the carry is dhT at t = T)
//   dA_t[b, j] = dH_t[b, j] * phi'(a_t[b, j])                             (phi' read through h_t)
//
// The same step, params and buffers as rnn_backward_step.wgsl (see there:
// slot 0 of dA receives dh_0 with useG = 0, applyAct = 0), the variant
// 'small' of src/gpu/rnn-variants.ts: a workgroup of 8 x 8 invocations covers
// 8 columns j and 8 rows b, one output each (16x the workgroups of the 32x32
// tiles: 128 at B = 32, h = 256). Neighbouring invocations read neighbouring
// words of a row of Whh. normPartials: ||dH_t|| over each workgroup's 8 x 8
// block, at normBase + workgroup index (ceil(h/8) * ceil(B/8) per step).

//! include rnn_backward_io

//! include activations
//! include finite
//! include tilenorm4

@compute @workgroup_size(8, 8)
fn main(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_id) lid: vec3<u32>,
  @builtin(local_invocation_index) li: u32,
) {
  let h = params.h;
  let b = wg.y * 8u + lid.y;
  let j = wg.x * 8u + lid.x;
  let inside = b < params.B && j < h;
  var dh = 0.0;
  if (inside) {
    // No carry (t = T, or xi_{t+1} = 0): none is read, as in rnn_backward_step.wgsl.
    let kEnd = select(0u, h, params.useCarry != 0u && params.xi != 0.0);
    let row = params.offNext + b * h;
    var acc = 0.0;
    for (var i = 0u; i < kEnd; i++) { acc += dA[row + i] * W[params.offWhh + i * h + j]; }
    let e = b * h + j;
    dh = params.xi * acc;
    if (params.useCarry == 0u) { dh = dhT[e]; }
    if (params.useG != 0u) { dh += G[params.offG + e]; }
    var v = dh;
    if (params.applyAct != 0u) { v = dh * phiGrad(H[params.offH + e]); }
    dA[params.offOut + e] = v;
  }
  if (params.normBase != 0xffffffffu) {
    let z = vec4<f32>(0.0);
    let norm = tileNorm(li, vec4<f32>(dh, 0.0, 0.0, 0.0), z, z, z);
    if (li == 0u) { normPartials[params.normBase + wg.y * nwg.x + wg.x] = norm; }
  }
}

// window_backward_small: one step of the reverse sweep for window(tau), one output per invocation
//
//   dH^(0)_t = G_t (+ dhT at t = T)
//   dH^(k)_t = sum_i dA^(k-1)_{t+1}[b, i] * Whh[i, j]      k = 1..tau-1 (0 at t = T)
//   dA^(k)_t = dH^(k)_t * phi'(a_t)
//   dA_t = sum_k dA^(k)_t, and ||dH_t|| uses dH_t = sum_k dH^(k)_t
//
// The same step, params and buffers as window_backward_step.wgsl (see there
// for the slots' ping-pong), the variant 'small' of src/gpu/rnn-variants.ts:
// a workgroup of 8 x 8 invocations covers 8 columns j and 8 rows b, one
// output each (16x the workgroups of the 32x32 tiles: 128 at B = 32, h = 256);
// each invocation loops over the tau ages, neighbours reading neighbouring
// words of a row of Whh. normPartials: ||dH_t|| over each workgroup's 8 x 8
// block at normBase + workgroup index (ceil(h/8) * ceil(B/8) per step).

//! include window_io

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
  let bh = params.B * h;
  let b = wg.y * 8u + lid.y;
  let j = wg.x * 8u + lid.x;
  var sumA = 0.0;
  var sumH = 0.0;
  if (b < params.B && j < h) {
    let e = b * h + j;
    let gradPhi = phiGrad(H[params.offH + e]);
    for (var k = 0u; k < params.tau; k++) {
      var v = 0.0;
      if (k == 0u) {
        v = G[params.offG + e];
        if (params.first != 0u) { v += dhT[e]; }
      } else if (params.first == 0u) {
        let row = params.offOld + (k - 1u) * bh + b * h;
        for (var i = 0u; i < h; i++) { v += slots[row + i] * W[params.offWhh + i * h + j]; }
      }
      let a = v * gradPhi;
      slots[params.offNew + k * bh + e] = a;
      sumA += a;
      sumH += v;
    }
    dA[params.offOut + e] = sumA;
  }
  if (params.normBase != 0xffffffffu) {
    let z = vec4<f32>(0.0);
    let norm = tileNorm(li, vec4<f32>(sumH, 0.0, 0.0, 0.0), z, z, z);
    if (li == 0u) { normPartials[params.normBase + wg.y * nwg.x + wg.x] = norm; }
  }
}

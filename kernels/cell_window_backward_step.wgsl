// cell_window_backward_step: one step of the reverse sweep of one layer for window(tau) truncation
//
// Every loss term l_s reaches back at most tau steps (MATH.md: "window(tau)"),
// in every layer: the sweep carries tau adjoint slots, one per age a = s - t,
// and a slot keeps its age as it passes down the stack. For age a at step t:
//   dh^(a) = dY^(a)_t + carry^(a),   carry^(0) = dhT (dc: dcT) at t = n_b, else 0,
//   carry^(a) = dGh^(a-1)_{t+1} Wh + z_{t+1} * dh^(a-1)_{t+1}     (a >= 1; the z term: gru)
//   dc carry^(a) = dc^(a-1)_{t+1} * f_{t+1}                       (lstm)
// then the gate gradients of each age as in cell_backward_step.wgsl (dGh^(a)
// differs from dGx^(a) only in the gru's n block, dGx_n * r, formed here
// from dGx^(a) and the saved r). The slot of age tau-1 is not carried:
// its loss term may not reach h_{t-1}. At s = T + 1 every slot reaches the
// initial state: dh0 = sum_a carry^(a+1), dc0 likewise (no xi in window).
// One direction only (window with bidirectional is refused).
// With lengths (n_b valid steps, packed semantics): sequence b's sweep starts
// at its own end, where dhT (dcT) enters age 0; a padded row t > n_b does no
// work and carries nothing (the slot of age a+1 at n_b starts empty), and its
// gate gradients, summed and per age, are 0, so the layer below and the weight
// products read zeros there.
//
//   W       Wh [G*h, h] at offWh
//   Y, saved (Hs, C, S), as cell_backward_step.wgsl
//   lengths [B] u32 n_b (T each without lengths)
//   dY      [tau, T, B, h] this layer's output gradient per age, at offDY
//   dG      dGx, dGh [K, T, B, G*h] (sums over ages, for the weight gradients and dx)
//           at offDGx, offDGh; per age dGx^(a) [tau, T, B, G*h] at offDGa
//           (the gradient to the layer below is one product over tau*T*B rows)
//   dState  dH, dC [K, T+2, B, h] at offDH, offDC: slot T+1 holds dhT, dcT; slot 0
//           receives dh0, dc0; per age dh^(a), dc^(a) [tau, T, B, h] at offDHa, offDCa
//   normPartials  ||sum_a dh^(a)|| over each workgroup's values at normBase + workgroup index
//                 (combined in finalize.wgsl, scaled, into the per-step norms)
//
// One dispatch per step per layer. Work split: one invocation per (b, j), 64
// per workgroup (e = b*h + j), looping over the tau ages, each carry a dot
// product of length G*h over column j of Wh. Any B and h.

//! include cell_window_io

//! include gates

//! include activations
//! include gate_grads
//! include cell_window_gates

/** carry^(a+1) into step t - 1 (or the initial state) from age a at step t: (dh, dc). */
fn carryFrom(a: u32, t: u32, b: u32, j: u32) -> vec2<f32> {
  let B = params.B;
  let h = params.h;
  let T = params.T;
  let G = gateCount();
  let gh = G * h;
  let row = (t - 1u) * B + b; // (t, b) as a row of [T, B]
  let ga = params.offDGa + (a * T * B + row) * gh;
  let sBase = params.offS + row * 4u * h;
  var acc = 0.0;
  for (var i = 0u; i < gh; i++) {
    var v = dG[ga + i];
    if (CELL == 1u && i >= 2u * h) { v *= saved[sBase + i - 2u * h]; } // dGh_n = dGx_n * r
    acc += v * W[params.offWh + i * h + j];
  }
  let at = (a * T + t - 1u) * B * h + b * h + j;
  if (CELL == 1u) { acc += saved[sBase + h + j] * dState[params.offDHa + at]; }
  var dc = 0.0;
  if (CELL == 2u) { dc = dState[params.offDCa + at] * saved[sBase + h + j]; }
  return vec2<f32>(acc, dc);
}

fn step(e: u32) -> f32 {
  let B = params.B;
  let h = params.h;
  let T = params.T;
  let b = e / h;
  let j = e % h;
  let G = gateCount();
  let gh = G * h;
  let bh = B * h;
  if (params.s == T + 1u) {
    var sum = vec2<f32>(0.0);
    for (var a = 0u; a < params.tau; a++) { sum += carryFrom(a, 1u, b, j); }
    dState[params.offDH + e] = sum.x;
    if (CELL == 2u) { dState[params.offDC + e] = sum.y; }
    return 0.0;
  }
  let t = T + 1u - params.s;
  let n = lengths[b];
  let row = (t - 1u) * B + b;
  if (t > n) {
    // padded row: nothing to carry, zero gate gradients (summed and per age)
    for (var q = 0u; q < G; q++) {
      dG[params.offDGx + row * gh + j + q * h] = 0.0;
      dG[params.offDGh + row * gh + j + q * h] = 0.0;
      for (var a = 0u; a < params.tau; a++) { dG[params.offDGa + (a * T * B + row) * gh + j + q * h] = 0.0; }
    }
    return 0.0;
  }
  let gx = params.offDGx + row * gh + j;
  let gg = params.offDGh + row * gh + j;
  var sumX = vec4<f32>(0.0); // sums over ages of the (up to 4) gate blocks of column j
  var sumH = vec4<f32>(0.0);
  var dhSum = 0.0;
  for (var a = 0u; a < params.tau; a++) {
    var c = vec2<f32>(0.0);
    if (a == 0u && t == n) {
      c = vec2<f32>(dState[params.offDH + (T + 1u) * bh + e], 0.0);
      if (CELL == 2u) { c.y = dState[params.offDC + (T + 1u) * bh + e]; }
    } else if (a > 0u && t < n) {
      c = carryFrom(a - 1u, t + 1u, b, j);
    }
    let at = (a * T + t - 1u) * bh + e;
    let dh = dY[params.offDY + at] + c.x;
    dhSum += dh;
    dState[params.offDHa + at] = dh;
    let g = windowGateGrads(t, b, j, at, dh, c.y);
    let gxv = g.gx;
    let ghv = g.gh;
    let ga = params.offDGa + (a * T * B + row) * gh + j;
    for (var q = 0u; q < G; q++) { dG[ga + q * h] = gxv[q]; }
    sumX += gxv;
    sumH += ghv;
  }
  for (var q = 0u; q < G; q++) {
    dG[gx + q * h] = sumX[q];
    dG[gg + q * h] = sumH[q];
  }
  return dhSum;
}

//! include finite
//! include tilenorm4

@compute @workgroup_size(64)
fn main(
  @builtin(global_invocation_id) gid: vec3<u32>,
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(local_invocation_index) li: u32,
) {
  var dh = 0.0;
  if (gid.x < params.B * params.h) { dh = step(gid.x); }
  if (params.normBase != 0xffffffffu) {
    let norm = tileNorm(li, vec4<f32>(dh, 0.0, 0.0, 0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
    if (li == 0u) { normPartials[params.normBase + wg.x] = norm; }
  }
}

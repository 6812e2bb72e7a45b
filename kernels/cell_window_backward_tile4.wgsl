// cell_window_backward_tile4: one step of the reverse sweep of one layer for window(tau) truncation, register-tiled
//
// The same step as cell_window_backward_step.wgsl (the 'direct' variant).
//
// Every loss term l_s reaches back at most tau steps (MATH.md: "window(tau)"),
// in every layer: the sweep carries tau adjoint slots, one per age a = s - t,
// and a slot keeps its age as it passes down the stack. For age a at step t:
//   dh^(a) = dY^(a)_t + carry^(a),   carry^(0) = dhT (dc: dcT) at t = n_b, else 0,
//   carry^(a) = dGh^(a-1)_{t+1} Wh + z_{t+1} * dh^(a-1)_{t+1}     (a >= 1; the z term: gru)
//   dc carry^(a) = dc^(a-1)_{t+1} * f_{t+1}                       (lstm)
// then the gate gradients of each age (gateGrads, kernels/lib/gate_grads.wgsl; dGh^(a)
// differs from dGx^(a) only in the gru's n block, dGx_n * r, formed here
// from dGx^(a) and the saved r). The slot of age tau-1 is not carried:
// its loss term may not reach h_{t-1}. At s = T + 1 every slot reaches the
// initial state: dh0 = sum_a carry^(a+1), dc0 likewise (no xi in window).
// One direction only (window with bidirectional is refused).
// With lengths (n_b valid steps, packed semantics): sequence b's sweep starts
// at its own end, where dhT (dcT) enters age 0; a padded row t > n_b does no
// work and carries nothing, and its gate gradients, summed and per age, are 0.
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
// One dispatch per step per layer. Work split as cell_backward_tile4.wgsl:
// each invocation a 4x4 tile (rows b0..b0+3, columns j0..j0+3), 64 per
// workgroup over x (column quads fastest). Per age, the carry's product
// dGh^(a-1)_{t+1} Wh is accumulated in four vec4 registers over i = 0..G*h-1
// (per i 4 contiguous words of row i of Wh and 4 of dGh), then the age's
// adjoints of the tile's 16 (b, j) follow; the sums over ages of dGx, dGh
// accumulate in dG in age order. Rows and columns past B and h are clamped on
// load and skipped. Any B and h.

//! include cell_window_io

//! include gates

//! include activations
//! include gate_grads
//! include cell_window_gates
//! include finite
//! include tilenorm4

/** (dGh^(a)_t Wh)[b0..b0+3, j0..j0+3], dGh^(a) formed from dGx^(a) (the gru's n block times r). */
fn carryTile(a: u32, t: u32, b0: u32, j0: u32) -> array<vec4<f32>, 4> {
  let B = params.B;
  let h = params.h;
  let T = params.T;
  let gh = gateCount() * h;
  let g0 = params.offDGa + (a * T * B + (t - 1u) * B) * gh; // rows of (a, t)
  let s0 = params.offS + (t - 1u) * B * 4u * h;
  let rb = vec4<u32>(min(b0, B - 1u), min(b0 + 1u, B - 1u), min(b0 + 2u, B - 1u), min(b0 + 3u, B - 1u));
  let r = g0 + rb * gh;
  let c0 = params.offWh + min(j0, h - 1u);
  let c1 = params.offWh + min(j0 + 1u, h - 1u);
  let c2 = params.offWh + min(j0 + 2u, h - 1u);
  let c3 = params.offWh + min(j0 + 3u, h - 1u);
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  // the blocks taken as they are: all of them, or the gru's r and z
  let plain = select(gh, 2u * h, CELL == 1u);
  for (var i = 0u; i < plain; i++) {
    let row = i * h;
    let w = vec4<f32>(W[c0 + row], W[c1 + row], W[c2 + row], W[c3 + row]);
    acc0 += dG[r.x + i] * w;
    acc1 += dG[r.y + i] * w;
    acc2 += dG[r.z + i] * w;
    acc3 += dG[r.w + i] * w;
  }
  // gru: dGh_n = dGx_n * r (r saved by the forward step at columns 0..h-1 of S)
  let sr = s0 + rb * 4u * h - 2u * h;
  for (var i = plain; i < gh; i++) {
    let row = i * h;
    let w = vec4<f32>(W[c0 + row], W[c1 + row], W[c2 + row], W[c3 + row]);
    acc0 += (dG[r.x + i] * saved[sr.x + i]) * w;
    acc1 += (dG[r.y + i] * saved[sr.y + i]) * w;
    acc2 += (dG[r.z + i] * saved[sr.z + i]) * w;
    acc3 += (dG[r.w + i] * saved[sr.w + i]) * w;
  }
  return array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
}

/** carry^(a+1) into step t - 1 (or the initial state) from age a at step t, given prod = (dGh^(a)_t Wh)[b, j]: (dh, dc). */
fn carryRest(a: u32, t: u32, b: u32, j: u32, prod: f32) -> vec2<f32> {
  let B = params.B;
  let h = params.h;
  let T = params.T;
  let sBase = params.offS + ((t - 1u) * B + b) * 4u * h;
  let at = (a * T + t - 1u) * B * h + b * h + j;
  var acc = prod;
  if (CELL == 1u) { acc += saved[sBase + h + j] * dState[params.offDHa + at]; }
  var dc = 0.0;
  if (CELL == 2u) { dc = dState[params.offDCa + at] * saved[sBase + h + j]; }
  return vec2<f32>(acc, dc);
}

/** Age a of element (b, j) at step t (1..T), given the product of its carry; returns dh^(a). */
fn ageStep(a: u32, t: u32, b: u32, j: u32, prod: f32) -> f32 {
  let B = params.B;
  let h = params.h;
  let T = params.T;
  let G = gateCount();
  let gh = G * h;
  let bh = B * h;
  let e = b * h + j;
  let row = (t - 1u) * B + b;
  let ga = params.offDGa + (a * T * B + row) * gh + j;
  let gx = params.offDGx + row * gh + j;
  let gg = params.offDGh + row * gh + j;
  if (t > lengths[b]) {
    // padded row: nothing to carry, zero gate gradients (summed and per age)
    for (var q = 0u; q < G; q++) {
      dG[ga + q * h] = 0.0;
      if (a == 0u) {
        dG[gx + q * h] = 0.0;
        dG[gg + q * h] = 0.0;
      }
    }
    return 0.0;
  }
  let n = lengths[b];
  var c = vec2<f32>(0.0);
  if (a == 0u && t == n) {
    c = vec2<f32>(dState[params.offDH + (T + 1u) * bh + e], 0.0);
    if (CELL == 2u) { c.y = dState[params.offDC + (T + 1u) * bh + e]; }
  } else if (a > 0u && t < n) {
    c = carryRest(a - 1u, t + 1u, b, j, prod);
  }
  let at = (a * T + t - 1u) * bh + e;
  let dh = dY[params.offDY + at] + c.x;
  dState[params.offDHa + at] = dh;
  let g = windowGateGrads(t, b, j, at, dh, c.y);
  let gxv = g.gx;
  let ghv = g.gh;
  for (var q = 0u; q < G; q++) {
    dG[ga + q * h] = gxv[q];
    // the sums over ages, in age order (age 0 first: 0 + x would be x too)
    if (a == 0u) {
      dG[gx + q * h] = gxv[q];
      dG[gg + q * h] = ghv[q];
    } else {
      dG[gx + q * h] += gxv[q];
      dG[gg + q * h] += ghv[q];
    }
  }
  return dh;
}

@compute @workgroup_size(64)
fn main(
  @builtin(global_invocation_id) gid: vec3<u32>,
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(local_invocation_index) li: u32,
) {
  let B = params.B;
  let h = params.h;
  let T = params.T;
  let nJ = (h + 3u) / 4u; // column quads
  let b0 = 4u * (gid.x / nJ); // past B for the invocations beyond the grid: they store nothing
  let j0 = 4u * (gid.x % nJ);
  let inside = b0 < B;
  var dhs = array<vec4<f32>, 4>(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
  if (params.s == T + 1u) {
    // every slot reaches the initial state: dh0 = sum_a carry^(a+1) from step 1, dc0 likewise
    var sumH = array<vec4<f32>, 4>(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
    var sumC = sumH;
    for (var a = 0u; a < params.tau && inside; a++) {
      var p = carryTile(a, 1u, b0, j0);
      for (var r = 0u; r < 4u && b0 + r < B; r++) {
        for (var u = 0u; u < 4u && j0 + u < h; u++) {
          let c = carryRest(a, 1u, b0 + r, j0 + u, p[r][u]);
          sumH[r][u] += c.x;
          sumC[r][u] += c.y;
        }
      }
    }
    for (var r = 0u; r < 4u && b0 + r < B; r++) {
      for (var u = 0u; u < 4u && j0 + u < h; u++) {
        let e = (b0 + r) * h + j0 + u;
        dState[params.offDH + e] = sumH[r][u];
        if (CELL == 2u) { dState[params.offDC + e] = sumC[r][u]; }
      }
    }
  } else {
    let t = T + 1u - params.s;
    for (var a = 0u; a < params.tau && inside; a++) {
      var p = array<vec4<f32>, 4>(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
      if (a > 0u && t < T) { p = carryTile(a - 1u, t + 1u, b0, j0); }
      for (var r = 0u; r < 4u && b0 + r < B; r++) {
        for (var u = 0u; u < 4u && j0 + u < h; u++) {
          dhs[r][u] += ageStep(a, t, b0 + r, j0 + u, p[r][u]);
        }
      }
    }
  }
  if (params.normBase != 0xffffffffu) {
    let norm = tileNorm(li, dhs[0], dhs[1], dhs[2], dhs[3]);
    if (li == 0u) { normPartials[params.normBase + wg.x] = norm; }
  }
}

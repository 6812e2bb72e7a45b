// cell_backward_step: one step of the reverse sweep of one layer, both directions in one dispatch
//
// With dh = dL/dh_t (the layer output's gradient dY_t plus the carry from the
// step processed before, the later one in the direction's own time order) and
// for lstm dc = dL/dc_t, the gate pre-activation gradients (MATH.md part 2):
//   rnn : da = dh * phi'(a)  (read through h_t);  dGx = dGh = da
//   gru : dn = dh * (1 - z), dz = dh * (h_prev - n), dan = dn * (1 - n^2),
//         daz = dz * z(1 - z), dar = dan * gh_n * r(1 - r);
//         dGx = [dar, daz, dan], dGh = [dar, daz, dan * r]
//   lstm: dc += dh * o * (1 - tanh(c)^2), dao = dh * tanh(c) * o(1 - o),
//         dai = dc * g * i(1 - i), daf = dc * c_prev * f(1 - f), dag = dc * i * (1 - g^2)
//         dGx = dGh = [dai, daf, dag, dao]
// and the carry into the step processed next (the earlier state), computed
// at the start of that step from what this one stored:
//   dh_prev = xi * (dGh Wh + z * dh)   (the z term: gru only)
//   dc_prev = xi * (dc * f)            (lstm)
// xi is the truncation factor of the edge (MATH.md: xi_t between t - 1 and t,
// for either direction; the reverse direction's path into its initial state is
// not scaled). The first step of each direction starts from dhT, dcT.
// s = 1..T processes t = T + 1 - s (forward direction) and t = s (reverse);
// s = T + 1 only computes the carry into the initial states: dh0, dc0.
// With lengths (n_b valid steps), a padded row t > n_b does no work: its
// gate gradients are 0 and the carry passes through it unscaled (dhT, dcT
// reach the forward direction at n_b; the reverse direction's carry out of
// n_b goes to its initial state unscaled), so the tail still reads slot 1 or T.
//
//   W       the parameter buffer: Wh [G*h, h] at offWh + dir*strideK
//   Y       [L, T+2, B, dirs*h] layer outputs (cell_forward_step.wgsl): h_t for phi' (rnn)
//   saved   Hs [K, T+2, B, h] at offHs (h_prev, gru), C [K, T+2, B, h] at offC (lstm),
//           S [K, T, B, 4*h] at offS (gru, lstm)
//   lengths [B] u32 n_b
//   dY      [L, T, B, dirs*h] this layer's output gradient at offDY
//   dG      dGx [K, T, B, G*h] at offDGx and dGh [K, T, B, G*h] at offDGh
//   dState  dH [K, T+2, B, h] at offDH and dC [K, T+2, B, h] at offDC: slot t
//           (1..T) the total dh_t (dc_t); slot T+1 holds dhT (dcT) on entry;
//           slot 0 receives dh0 (dc0) at s = T + 1
//   normPartials  ||dh_t|| over each workgroup's values at normBase0/1 + workgroup index
//                 (combined in finalize.wgsl, scaled, into the per-step norms)
//
// One dispatch per step per layer. Work split: one invocation per (b, j), 64
// per workgroup over x (e = b*h + j), workgroup y = dir; the carry is a dot
// product of length G*h over column j of Wh (neighbouring invocations read
// neighbouring columns). Any B and h.

//! include cell_backward_io

//! include gates

//! include activations
//! include gate_grads
//! include finite
//! include tilenorm4
//! include cell_backward_finish

/** The step for invocation (b, j) of direction dir; returns dh (0 at padded rows and at s = T + 1). */
fn step(e: u32, dir: u32) -> f32 {
  let h = params.h;
  let b = e / h;
  let j = e % h;
  let n = lengths[b];
  let gh = gateCount() * h;
  let src = steps(dir).y;
  // the carry's product (dGh_src Wh)[b, j], where the step uses it (not at s = 1, nor from a padded step, nor with xi = 0)
  var prod = 0.0;
  if (params.s != 1u && src <= n && xiOf(dir, src, n) != 0.0) {
    let g0 = params.offDGh + dir * params.T * params.B * gh + ((src - 1u) * params.B + b) * gh;
    let pw = params.offWh + dir * params.strideK + j;
    for (var i = 0u; i < gh; i++) { prod += dG[g0 + i] * W[pw + i * h]; }
  }
  return finishBackward(b, j, dir, prod);
}

@compute @workgroup_size(64)
fn main(
  @builtin(global_invocation_id) gid: vec3<u32>,
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(local_invocation_index) li: u32,
) {
  let dir = gid.y;
  var dh = 0.0;
  if (gid.x < params.B * params.h) { dh = step(gid.x, dir); }
  let base = select(params.normBase0, params.normBase1, dir == 1u);
  if (params.normBase0 != 0xffffffffu) {
    let norm = tileNorm(li, vec4<f32>(dh, 0.0, 0.0, 0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
    if (li == 0u) { normPartials[base + wg.x] = norm; }
  }
}

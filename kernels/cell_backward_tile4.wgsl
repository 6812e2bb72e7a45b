// cell_backward_tile4: one step of the reverse sweep of one layer, both directions in one dispatch, register-tiled
//
// The same step as cell_backward_step.wgsl (the 'direct' variant). With
// dh = dL/dh_t (the layer output's gradient dY_t plus the carry from the step
// processed before, the later one in the direction's own time order) and for
// lstm dc = dL/dc_t, the gate pre-activation gradients (MATH.md part 2;
// gateGrads of kernels/lib/gate_grads.wgsl):
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
// xi is the truncation factor of the edge (xi_t between t - 1 and t, for
// either direction; the reverse direction's path into its initial state is
// not scaled). The first step of each direction starts from dhT, dcT.
// s = 1..T processes t = T + 1 - s (forward direction) and t = s (reverse);
// s = T + 1 only computes the carry into the initial states: dh0, dc0.
// With lengths (n_b valid steps), a padded row t > n_b does no work: its
// gate gradients are 0 and the carry passes through it unscaled.
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
//   normPartials  ||dh_t|| over each workgroup's tile at normBase0/1 + workgroup index
//                 (combined in finalize.wgsl, scaled, into the per-step norms)
//
// One dispatch per step per layer. Work split as rnn_backward_step.wgsl: each
// invocation a 4x4 tile of dh_prev (rows b0..b0+3, columns j0..j0+3),
// accumulated in four vec4 registers over i = 0..G*h-1, per i loading 4
// contiguous words of row i of Wh and 4 of dGh (column i of rows b0..b0+3);
// then the cell's adjoints of its 16 (b, j). 64 invocations per workgroup over
// x (column quads fastest), workgroup y = dir. Rows and columns past B and h
// are clamped on load and skipped. Any B and h.

//! include cell_backward_io

//! include gates

//! include activations
//! include gate_grads
//! include finite
//! include tilenorm4
//! include cell_backward_finish

@compute @workgroup_size(64)
fn main(
  @builtin(global_invocation_id) gid: vec3<u32>,
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(local_invocation_index) li: u32,
) {
  let B = params.B;
  let h = params.h;
  let T = params.T;
  let gh = gateCount() * h;
  let nJ = (h + 3u) / 4u; // column quads
  let dir = gid.y;
  let b0 = 4u * (gid.x / nJ); // past B for the invocations beyond the grid: they store nothing
  let j0 = 4u * (gid.x % nJ);
  let src = steps(dir).y;
  // The carry's product dGh_src Wh, over i = 0..G*h-1, where some row of the tile needs it:
  // not at s = 1 (dhT is the carry), nor where every row's step before was padding or xi = 0.
  var live = false;
  for (var r = 0u; r < 4u; r++) {
    let b = b0 + r;
    if (b < B && params.s != 1u && src <= lengths[b] && xiOf(dir, src, lengths[b]) != 0.0) { live = true; }
  }
  let kEnd = select(0u, gh, live);
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  {
    let g0 = params.offDGh + dir * T * B * gh + (src - 1u) * B * gh; // rows of step src (read only when live)
    let r0 = g0 + min(b0, B - 1u) * gh;
    let r1 = g0 + min(b0 + 1u, B - 1u) * gh;
    let r2 = g0 + min(b0 + 2u, B - 1u) * gh;
    let r3 = g0 + min(b0 + 3u, B - 1u) * gh;
    let pw = params.offWh + dir * params.strideK;
    let c0 = pw + min(j0, h - 1u);
    let c1 = pw + min(j0 + 1u, h - 1u);
    let c2 = pw + min(j0 + 2u, h - 1u);
    let c3 = pw + min(j0 + 3u, h - 1u);
    for (var i = 0u; i < kEnd; i++) {
      let row = i * h;
      let w = vec4<f32>(W[c0 + row], W[c1 + row], W[c2 + row], W[c3 + row]);
      acc0 += dG[r0 + i] * w;
      acc1 += dG[r1 + i] * w;
      acc2 += dG[r2 + i] * w;
      acc3 += dG[r3 + i] * w;
    }
  }
  var accs = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
  var dhs = array<vec4<f32>, 4>(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
  for (var r = 0u; r < 4u; r++) {
    let b = b0 + r;
    if (b >= B) { break; }
    for (var u = 0u; u < 4u && j0 + u < h; u++) {
      dhs[r][u] = finishBackward(b, j0 + u, dir, accs[r][u]);
    }
  }
  let base = select(params.normBase0, params.normBase1, dir == 1u);
  if (params.normBase0 != 0xffffffffu) {
    let norm = tileNorm(li, dhs[0], dhs[1], dhs[2], dhs[3]);
    if (li == 0u) { normPartials[base + wg.x] = norm; }
  }
}

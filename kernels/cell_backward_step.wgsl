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

var<workgroup> partial: array<f32, 64>;

//! include gates

//! include activations

/** The step for invocation (b, j) of direction dir; returns dh (0 at padded rows and at s = T + 1). */
fn step(e: u32, dir: u32) -> f32 {
  let B = params.B;
  let h = params.h;
  let T = params.T;
  let b = e / h;
  let j = e % h;
  let n = lengths[b];
  let G = gateCount();
  let gh = G * h;
  let bh = B * h;
  let tail = params.s == T + 1u;
  // t: the step processed now (0 at the tail: the initial state); src: the one processed before.
  var t = T + 1u - params.s;
  var src = t + 1u;
  var prev = t - 1u; // h_prev's slot
  var xi = params.xi0;
  if (dir == 1u) {
    t = select(params.s, 0u, tail);
    src = select(t - 1u, T, tail);
    prev = t + 1u;
    xi = select(params.xi1, 1.0, src == n); // out of n_b: into the initial state, unscaled
  }
  let dh0 = params.offDH + dir * (T + 2u) * bh; // this direction's dH block
  let dc0 = params.offDC + dir * (T + 2u) * bh;
  let gBase = dir * T * B * gh;
  var dhc: f32;
  var dcc = 0.0;
  if (params.s == 1u) {
    dhc = dState[dh0 + (T + 1u) * bh + e];
    if (CELL == 2u) { dcc = dState[dc0 + (T + 1u) * bh + e]; }
  } else if (src > n) {
    // the step before was a padded row: its carry passes through unscaled
    dhc = dState[dh0 + src * bh + e];
    if (CELL == 2u) { dcc = dState[dc0 + src * bh + e]; }
  } else {
    let sBase = params.offS + dir * T * B * 4u * h + ((src - 1u) * B + b) * 4u * h;
    var acc = 0.0;
    if (xi != 0.0) {
      let g0 = params.offDGh + gBase + ((src - 1u) * B + b) * gh;
      let pw = params.offWh + dir * params.strideK + j;
      for (var i = 0u; i < gh; i++) { acc += dG[g0 + i] * W[pw + i * h]; }
      if (CELL == 1u) { acc += saved[sBase + h + j] * dState[dh0 + src * bh + e]; }
      if (CELL == 2u) { dcc = xi * dState[dc0 + src * bh + e] * saved[sBase + h + j]; }
    }
    dhc = xi * acc;
  }
  if (tail) {
    dState[dh0 + e] = dhc;
    if (CELL == 2u) { dState[dc0 + e] = dcc; }
    return 0.0;
  }
  let gx = params.offDGx + gBase + ((t - 1u) * B + b) * gh + j; // column j of block 0
  let gg = params.offDGh + gBase + ((t - 1u) * B + b) * gh + j;
  if (t > n) {
    dState[dh0 + t * bh + e] = dhc;
    if (CELL == 2u) { dState[dc0 + t * bh + e] = dcc; }
    for (var q = 0u; q < G; q++) {
      dG[gx + q * h] = 0.0;
      dG[gg + q * h] = 0.0;
    }
    return 0.0;
  }
  let row = params.dirs * h;
  let dh = dY[params.offDY + ((t - 1u) * B + b) * row + dir * h + j] + dhc;
  dState[dh0 + t * bh + e] = dh;
  let sBase = params.offS + dir * T * B * 4u * h + ((t - 1u) * B + b) * 4u * h + j;
  if (CELL == 0u) {
    let da = dh * phiGrad(Y[params.offY + (t * B + b) * row + dir * h + j]);
    dG[gx] = da;
    dG[gg] = da;
  } else if (CELL == 1u) {
    let r = saved[sBase];
    let z = saved[sBase + h];
    let nn = saved[sBase + 2u * h];
    let ghn = saved[sBase + 3u * h];
    let hPrev = saved[params.offHs + dir * (T + 2u) * bh + prev * bh + e];
    let dan = dh * (1.0 - z) * (1.0 - nn * nn);
    let daz = dh * (hPrev - nn) * z * (1.0 - z);
    let dar = dan * ghn * r * (1.0 - r);
    dG[gx] = dar;
    dG[gx + h] = daz;
    dG[gx + 2u * h] = dan;
    dG[gg] = dar;
    dG[gg + h] = daz;
    dG[gg + 2u * h] = dan * r;
  } else {
    let i = saved[sBase];
    let f = saved[sBase + h];
    let g = saved[sBase + 2u * h];
    let o = saved[sBase + 3u * h];
    let cb = params.offC + dir * (T + 2u) * bh;
    let c = saved[cb + t * bh + e];
    let cPrev = saved[cb + prev * bh + e];
    let tc = tanhF(c); // the value the forward step used
    let dc = dcc + dh * o * (1.0 - tc * tc);
    dState[dc0 + t * bh + e] = dc;
    let dai = dc * g * i * (1.0 - i);
    let daf = dc * cPrev * f * (1.0 - f);
    let dag = dc * i * (1.0 - g * g);
    let dao = dh * tc * o * (1.0 - o);
    dG[gx] = dai;
    dG[gx + h] = daf;
    dG[gx + 2u * h] = dag;
    dG[gx + 3u * h] = dao;
    dG[gg] = dai;
    dG[gg + h] = daf;
    dG[gg + 2u * h] = dag;
    dG[gg + 3u * h] = dao;
  }
  return dh;
}

//! include finite

/**
 * ||dh|| over this workgroup's 64 values (0 outside the matrix and at padded rows),
 * as rnn_backward_step.wgsl: sqrt(sum (v k)^2) / k with k about 1 / M, M the
 * largest |v|, so that no square overflows (a plain sum of squares reads Infinity
 * from |dh| of about 1.8e19); k in two power-of-two factors, each a normal f32
 * (1 / M is flushed to zero for M above about 8.5e37). +Infinity when a value is
 * NaN or infinite. Every invocation of the workgroup calls it.
 */
fn tileNorm(li: u32, v: f32) -> f32 {
  var infBits = 0x7f800000u; // a var: an infinite constant would be rejected when the shader is compiled
  let inf = bitcast<f32>(infBits);
  partial[li] = select(inf, abs(v), isFiniteF(v));
  workgroupBarrier();
  for (var s = 32u; s > 0u; s >>= 1u) {
    if (li < s) { partial[li] = max(partial[li], partial[li + s]); }
    workgroupBarrier();
  }
  let M = partial[0];
  workgroupBarrier();
  var q = 0.0;
  var k = vec2<f32>(1.0, 1.0);
  if (M > 0.0 && isFiniteF(M)) {
    let e = frexp(M).exp; // M = f * 2^e, f in [0.5, 1)
    k = vec2<f32>(exp2(f32(-(e / 2))), exp2(f32(e / 2 - e)));
    let r = (v * k.x) * k.y;
    q = r * r;
  }
  partial[li] = q;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s >>= 1u) {
    if (li < s) { partial[li] += partial[li + s]; }
    workgroupBarrier();
  }
  if (!isFiniteF(M)) { return inf; }
  return sqrt(partial[0]) / k.y / k.x;
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
    let norm = tileNorm(li, dh);
    if (li == 0u) { normPartials[base + wg.x] = norm; }
  }
}

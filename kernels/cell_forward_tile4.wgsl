// cell_forward_tile4: one time step of one layer, both directions in one dispatch, register-tiled
//
// The same step as cell_forward_step.wgsl (the 'direct' variant), per
// layer-direction k = l*dirs + dir, sequence b and unit j, with gx = Wx x_t + bx
// precomputed for every step (Gx) and gh = Wh h_prev + bh computed here
// (MATH.md part 2, PyTorch's gate order):
//   CELL 0 rnn  (G = 1): h_t = phi(gx + gh)
//   CELL 1 gru  (G = 3): r = sigma(gx_r + gh_r), z = sigma(gx_z + gh_z),
//                        n = tanh(gx_n + r * gh_n), h_t = (1 - z) * n + z * h_prev
//   CELL 2 lstm (G = 4): i, f, o = sigma(gx + gh), g = tanh(gx_g + gh_g),
//                        c_t = f * c_prev + i * g, h_t = o * tanh(c_t)
// The forward direction (dir 0) is at t = s, its h_prev the state at t - 1;
// the reverse one (dir 1) at t = T + 1 - s, its h_prev the state at t + 1.
// Sequence b has n_b = lengths[b] valid steps: the forward direction runs
// t = 1..n_b, the reverse one starts at t = n_b from its initial state. A
// padded row (t > n_b) has output 0 and its state slot holds the state it
// carries (the forward direction's state at n_b, or the reverse direction's
// initial state), so hT is slot T (forward) or slot 1 (reverse). h_prev comes
// from state0 at s = 1 only: a reverse row that starts later (n_b < T) finds
// its initial state in slot n_b + 1, written there by its padded step before.
//
//   W   the parameter buffer: Wh [G*h, h] at offWh + dir*strideK, bh [G*h] at offBh + dir*strideK
//   Gx  [K, T, B, G*h]      gx, layer-direction k at offGx + dir*T*B*G*h, step t at (t-1)*B*G*h
//   state0  h0 [K, B, h] at offH0, c0 [K, B, h] at offC0: the initial states, read at s = 1
//   Y   [L, T+2, B, dirs*h] the layer outputs: slot t (1..T) holds h_t at columns
//                           dir*h..dir*h+h-1 (0 at padded rows); slots 0, T+1 unused
//   saved   Hs [K, T+2, B, h] at offHs: slot t = h_t, h0 in the border slot (0 forward,
//           T+1 reverse) written at s = 1; C [K, T+2, B, h] at offC (lstm) likewise;
//           S [K, T, B, 4*h] at offS: gru r, z, n, gh_n; lstm i, f, g, o
//   lengths [B] u32         n_b (T for every b without lengths)
//
// One dispatch per step per layer. Work split: each invocation owns 4 rows
// b0..b0+3 and 4 columns of Wh's rows: for the gated cells one unit j and its
// G gate rows j, h+j, 2h+j (, 3h+j) (the gru's fourth column repeats the
// first and is discarded); for rnn 4 units j0..j0+3. It accumulates the 4x4
// block in four vec4 registers over k = 0..h-1, per k loading 4 words of Wh
// and 4 of h_prev (the loop of rnn_forward_step.wgsl), then finishes the
// cell for its (b, j). 64 invocations per workgroup over x (units fastest),
// workgroup y = dir. Rows past B are clamped on load and skipped. Any B and h.
// Measured on SwiftShader (bench/step-variants.mjs): see src/tuning-types.ts.

//! include cell_forward_io

//! include activations

//! include gates

//! include cell_step

/** Units per invocation: 4 for rnn (its 4 columns are 4 units), 1 for the gated cells (4 columns = the gates of 1 unit). */
fn unitsPer() -> u32 {
  return select(1u, 4u, CELL == 0u);
}

/** A padded row passes its state through; a valid one finishes the cell from gh = Wh h_prev (bias not yet added). */
fn finishAt(a: StepAt, product: vec4<f32>) {
  if (a.t > a.n) {
    passPadded(a);
  } else {
    finishStep(a, product);
  }
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let B = params.B;
  let h = params.h;
  let T = params.T;
  let G = gateCount();
  let U = unitsPer();
  let nJ = (h + U - 1u) / U; // column groups
  let dir = gid.y;
  if (gid.x >= nJ * ((B + 3u) / 4u)) { return; }
  let b0 = 4u * (gid.x / nJ);
  let j0 = (gid.x % nJ) * U;
  var t = params.s;
  var prev = t - 1u;
  if (dir == 1u) { t = T + 1u - params.s; prev = t + 1u; }
  let first = params.s == 1u;
  let bh = B * h;

  // The 4 rows of Wh this invocation reads: gate rows q*h + j0 (gated) or units j0 + q (rnn), clamped.
  // (A let, built whole: a vector written by a dynamic index would live in memory, and SwiftShader
  // would reload it in the loop below.)
  let pw = params.offWh + dir * params.strideK;
  let q4 = vec4<u32>(0u, 1u, 2u, 3u);
  let rows = select(min(vec4<u32>(j0) + q4, vec4<u32>(h - 1u)), min(q4, vec4<u32>(G - 1u)) * h + vec4<u32>(j0), G > 1u);
  let col = vec4<u32>(pw) + rows * h;
  // The 4 rows of h_prev: h0 at s = 1 (state0), else slot prev of Hs (saved).
  let rowBase = select(params.offHs + dir * (T + 2u) * bh + prev * bh, params.offH0 + dir * bh, first);
  let r0 = rowBase + min(b0, B - 1u) * h;
  let r1 = rowBase + min(b0 + 1u, B - 1u) * h;
  let r2 = rowBase + min(b0 + 2u, B - 1u) * h;
  let r3 = rowBase + min(b0 + 3u, B - 1u) * h;
  // No product where all 4 rows are padding (t > n_b) or past B: an empty loop.
  var live = false;
  for (var r = 0u; r < 4u; r++) {
    if (b0 + r < B && t <= lengths[b0 + r]) { live = true; }
  }
  let kEnd = select(0u, h, live);
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  if (first) {
    for (var k = 0u; k < kEnd; k++) {
      let w = vec4<f32>(W[col.x + k], W[col.y + k], W[col.z + k], W[col.w + k]);
      acc0 += state0[r0 + k] * w;
      acc1 += state0[r1 + k] * w;
      acc2 += state0[r2 + k] * w;
      acc3 += state0[r3 + k] * w;
    }
  } else {
    for (var k = 0u; k < kEnd; k++) {
      let w = vec4<f32>(W[col.x + k], W[col.y + k], W[col.z + k], W[col.w + k]);
      acc0 += saved[r0 + k] * w;
      acc1 += saved[r1 + k] * w;
      acc2 += saved[r2 + k] * w;
      acc3 += saved[r3 + k] * w;
    }
  }
  var accs = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
  for (var r = 0u; r < 4u; r++) {
    let b = b0 + r;
    if (b >= B) { break; }
    // the cell's finish (kernels/lib/cell_step.wgsl, as cell_forward_step's): the bias, the gates, the state
    if (G > 1u) {
      finishAt(stepAt(b * h + j0, dir), accs[r]);
    } else {
      for (var u = 0u; u < 4u && j0 + u < h; u++) {
        finishAt(stepAt(b * h + j0 + u, dir), vec4<f32>(accs[r][u], 0.0, 0.0, 0.0));
      }
    }
  }
}

// cell_forward_step: one time step of one layer, both directions in one dispatch
//
// Per layer-direction k = l*dirs + dir, sequence b and unit j, with the input
// projection gx = Wx x_t + bx precomputed for every step (Gx) and
// gh = Wh h_prev + bh computed here (MATH.md part 2, PyTorch's gate order):
//   CELL 0 rnn  (G = 1): h_t = phi(gx + gh)
//   CELL 1 gru  (G = 3): r = sigma(gx_r + gh_r), z = sigma(gx_z + gh_z),
//                        n = tanh(gx_n + r * gh_n), h_t = (1 - z) * n + z * h_prev
//   CELL 2 lstm (G = 4): i, f, o = sigma(gx + gh), g = tanh(gx_g + gh_g),
//                        c_t = f * c_prev + i * g, h_t = o * tanh(c_t)
// The forward direction (dir 0) is at t = s, its h_prev the state at t - 1;
// the reverse one (dir 1) at t = T + 1 - s, its h_prev the state at t + 1.
// Sequence b has n_b = lengths[b] valid steps (MATH.md, packed sequences): the
// forward direction runs t = 1..n_b, the reverse one starts at t = n_b from its
// initial state. A padded row (t > n_b) costs no product: its output is 0 and
// its state slot holds the state that row carries through (the forward
// direction's state at n_b, or the reverse direction's initial state), so that
// hT is always slot T (forward) or slot 1 (reverse) and h_prev always a slot.
//
//   W   the parameter buffer: Wh [G*h, h] at offWh + dir*strideK, bh [G*h] at offBh + dir*strideK
//   Gx  [K, T, B, G*h]      gx, layer-direction k at offGx + dir*T*B*G*h, step t at (t-1)*B*G*h
//   state0  h0 [K, B, h] at offH0, c0 [K, B, h] at offC0: the initial states, read at s = 1
//   Y   [L, T+2, B, dirs*h] the layer outputs: slot t (1..T) holds h_t at columns
//                           dir*h..dir*h+h-1 (0 at padded rows); slots 0, T+1 unused
//   saved   Hs [K, T+2, B, h] at offHs: the states, slot t = h_t, with h0 in the border
//           slot (0 forward, T+1 reverse) written at the first step, so the weight
//           gradient's H_prev is one dense product; C [K, T+2, B, h] at offC (lstm)
//           likewise for c; S [K, T, B, 4*h] at offS: what the backward needs,
//           gru r, z, n, gh_n; lstm i, f, g, o
//   lengths [B] u32         n_b (T for every b without lengths)
//
// One dispatch per step per layer. Work split: one invocation per (b, j), 64
// per workgroup over x, flattened e = b*h + j; workgroup y = dir. Each
// invocation makes G dot products of length h (rows j, h+j, ... of Wh with
// h_prev), reading both operands straight from storage. Any B and h.

//! include cell_forward_io

//! include activations
//! include gates
//! include cell_step

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let h = params.h;
  let e = gid.x;
  if (e >= params.B * h) { return; }
  let a = stepAt(e, gid.y);
  if (a.t > a.n) {
    passPadded(a);
    return;
  }
  let G = gateCount();
  let pw = params.offWh + a.dir * params.strideK;
  let j = a.j;
  // gh_g = Wh[g*h + j, :] . h_prev, the G blocks in one pass over h_prev (lib/cell_step adds bh and finishes).
  var acc = vec4<f32>(0.0);
  for (var k = 0u; k < h; k++) {
    let hp = hPrevAt(a, k);
    acc.x += W[pw + j * h + k] * hp;
    if (G > 1u) {
      acc.y += W[pw + (h + j) * h + k] * hp;
      acc.z += W[pw + (2u * h + j) * h + k] * hp;
    }
    if (G > 3u) { acc.w += W[pw + (3u * h + j) * h + k] * hp; }
  }
  finishStep(a, acc);
}

// lib/gate_grads: the gate pre-activation gradients of one reverse-sweep step of
// one output (b, j), given dh = dL/dh_t (MATH.md part 2). `//! include gate_grads`
// after `//! include activations`; the kernel declares `override CELL: u32`
// (0 rnn, 1 gru, 2 lstm) and, for rnn, `override ACTIVATION: u32`.
//   rnn : da = dh * phi'(a)  (read through h_t = hOut);  dGx = dGh = da
//   gru : gates = (r, z, n, gh_n); dan = dh (1 - z)(1 - n^2), daz = dh (hPrev - n) z (1 - z),
//         dar = dan gh_n r (1 - r); dGx = [dar, daz, dan], dGh = [dar, daz, dan r]
//   lstm: gates = (i, f, g, o); dc = dcCarry + dh o (1 - tanh(c)^2),
//         dGx = dGh = [dc g i(1-i), dc cPrev f(1-f), dc i (1-g^2), dh tanh(c) o(1-o)]
// One home for every backward step kernel (through lib/cell_backward_finish) and the sweeps.

struct GateGrads {
  gx: vec4<f32>, // dGx blocks (rnn: x only; gru: x, y, z)
  gh: vec4<f32>, // dGh blocks
  dc: f32, // lstm: the total dc_t
}

fn gateGrads(dh: f32, gates: vec4<f32>, hOut: f32, hPrev: f32, c: f32, cPrev: f32, dcCarry: f32) -> GateGrads {
  var out: GateGrads;
  if (CELL == 0u) {
    let da = dh * phiGrad(hOut);
    out.gx = vec4<f32>(da, 0.0, 0.0, 0.0);
    out.gh = out.gx;
  } else if (CELL == 1u) {
    let r = gates.x;
    let z = gates.y;
    let nn = gates.z;
    let ghn = gates.w;
    let dan = dh * (1.0 - z) * (1.0 - nn * nn);
    let daz = dh * (hPrev - nn) * z * (1.0 - z);
    let dar = dan * ghn * r * (1.0 - r);
    out.gx = vec4<f32>(dar, daz, dan, 0.0);
    out.gh = vec4<f32>(dar, daz, dan * r, 0.0);
  } else {
    let i = gates.x;
    let f = gates.y;
    let g = gates.z;
    let o = gates.w;
    let tc = tanhF(c); // the value the forward step used
    let dc = dcCarry + dh * o * (1.0 - tc * tc);
    out.dc = dc;
    out.gx = vec4<f32>(dc * g * i * (1.0 - i), dc * cPrev * f * (1.0 - f), dc * i * (1.0 - g * g), dh * tc * o * (1.0 - o));
    out.gh = out.gx;
  }
  return out;
}

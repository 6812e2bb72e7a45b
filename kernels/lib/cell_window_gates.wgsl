// lib/cell_window_gates: the gate gradients of one age of one output (b, j) at step t of the
// window(tau) sweep, from dh and the carried dc: the gates the forward step saved, h_prev (gru),
// c_t and c_{t-1} (lstm), through gate_grads; an lstm's dc into dState at `at`. One home for
// cell_window_backward_step and cell_window_backward_tile4, which include cell_window_io, gates,
// activations and gate_grads first.

fn windowGateGrads(t: u32, b: u32, j: u32, at: u32, dh: f32, dcCarry: f32) -> GateGrads {
  let B = params.B;
  let h = params.h;
  let bh = B * h;
  let e = b * h + j;
  let sBase = params.offS + ((t - 1u) * B + b) * 4u * h + j;
  var gates = vec4<f32>(0.0);
  var hOut = 0.0;
  var hPrev = 0.0;
  var c1 = 0.0;
  var c0 = 0.0;
  if (CELL == 0u) {
    hOut = Y[params.offY + (t * B + b) * h + j];
  } else {
    gates = vec4<f32>(saved[sBase], saved[sBase + h], saved[sBase + 2u * h], saved[sBase + 3u * h]);
  }
  if (CELL == 1u) { hPrev = saved[params.offHs + (t - 1u) * bh + e]; }
  if (CELL == 2u) {
    c1 = saved[params.offC + t * bh + e];
    c0 = saved[params.offC + (t - 1u) * bh + e];
  }
  let g = gateGrads(dh, gates, hOut, hPrev, c1, c0, dcCarry);
  if (CELL == 2u) { dState[params.offDCa + at] = g.dc; }
  return g;
}

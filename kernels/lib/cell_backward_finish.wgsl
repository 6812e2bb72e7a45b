// lib/cell_backward_finish: one reverse-sweep step of one output (b, j) of a SequenceModel layer,
// given the carry's product prod = (dGh_src Wh)[b, j] however the kernel made it (one pass, a 4x4
// register tile, lanes): the carry into dh (scaled by xi, the gru's z term, dhT at s = 1, passed
// through from a padded step), the tail's dh0/dc0, a padded row's zeros, dh = dY + carry, and the
// gate gradients (gate_grads) into dG, dc into dState (MATH.md part 2). One home for
// cell_backward_step, cell_backward_tile4 and cell_backward_lanes. The including kernel includes
// cell_backward_io (params, bindings, CELL, ACTIVATION), gates, activations and gate_grads first.

/** The step processed now (t, 0 at the tail), the one processed before (src) and h_prev's slot, for direction dir. */
fn steps(dir: u32) -> vec3<u32> {
  let T = params.T;
  let tail = params.s == T + 1u;
  if (dir == 0u) {
    let t = T + 1u - params.s;
    return vec3<u32>(t, t + 1u, t - 1u);
  }
  let t = select(params.s, 0u, tail);
  return vec3<u32>(t, select(t - 1u, T, tail), t + 1u);
}

/** The carry's scale into element row b of direction dir (the reverse one's path out of n_b is unscaled). */
fn xiOf(dir: u32, src: u32, n: u32) -> f32 {
  if (dir == 0u) { return params.xi0; }
  return select(params.xi1, 1.0, src == n);
}

/** The step for element (b, j) of direction dir, given prod = (dGh_src Wh)[b, j]; returns dh (0 at padded rows and at s = T + 1). */
fn finishBackward(b: u32, j: u32, dir: u32, prod: f32) -> f32 {
  let B = params.B;
  let h = params.h;
  let T = params.T;
  let e = b * h + j;
  let n = lengths[b];
  let G = gateCount();
  let gh = G * h;
  let bh = B * h;
  let tail = params.s == T + 1u;
  let ts = steps(dir);
  let t = ts.x;
  let src = ts.y;
  let prev = ts.z;
  let xi = xiOf(dir, src, n);
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
    var acc = 0.0;
    if (xi != 0.0) {
      let sBase = params.offS + dir * T * B * 4u * h + ((src - 1u) * B + b) * 4u * h;
      acc = prod;
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
  var gates = vec4<f32>(0.0);
  var hOut = 0.0;
  var hPrev = 0.0;
  var c = 0.0;
  var cPrev = 0.0;
  if (CELL == 0u) {
    hOut = Y[params.offY + (t * B + b) * row + dir * h + j];
  } else {
    let sBase = params.offS + dir * T * B * 4u * h + ((t - 1u) * B + b) * 4u * h + j;
    gates = vec4<f32>(saved[sBase], saved[sBase + h], saved[sBase + 2u * h], saved[sBase + 3u * h]);
  }
  if (CELL == 1u) { hPrev = saved[params.offHs + dir * (T + 2u) * bh + prev * bh + e]; }
  if (CELL == 2u) {
    let cb = params.offC + dir * (T + 2u) * bh;
    c = saved[cb + t * bh + e];
    cPrev = saved[cb + prev * bh + e];
  }
  let g = gateGrads(dh, gates, hOut, hPrev, c, cPrev, dcc);
  if (CELL == 2u) { dState[dc0 + t * bh + e] = g.dc; }
  for (var q = 0u; q < G; q++) {
    dG[gx + q * h] = g.gx[q];
    dG[gg + q * h] = g.gh[q];
  }
  return dh;
}

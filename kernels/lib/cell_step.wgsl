// lib/cell_step: where one (b, j) of a SequenceModel forward step reads and writes, the padded
// row's pass-through, and the cell's finish from gh = Wh h_prev (MATH.md part 2): activations,
// state update, the saved gates, Y. One home for the step kernels that make gh in one pass
// (cell_forward_step.wgsl) and the split-K one's reduce (cell_forward_reduce.wgsl). The
// including kernel declares `params` (B, h, T, dirs, s, offBh, strideK, hasBias, offGx, offY,
// offHs, offC, offS, offH0, offC0), the bindings W, Gx, state0, lengths, Y, saved, the
// overrides CELL and ACTIVATION, and includes activations and gates first. The header of
// cell_forward_step.wgsl describes the layout.

struct StepAt {
  b: u32,
  j: u32,
  e: u32, // b*h + j
  dir: u32,
  t: u32, // this direction's time step
  prev: u32, // the slot of h_prev
  first: bool, // h_prev is h0 (state0)
  n: u32, // n_b
  hsBase: u32, // this direction's Hs block
  cBase: u32, // and C block
  k0: u32, // this direction's block in h0, c0
}

// The forward direction (dir 0) at t = s, its h_prev at t - 1; the reverse one at t = T + 1 - s,
// its h_prev at t + 1, starting at t = n_b from its initial state.
fn stepAt(e: u32, dir: u32) -> StepAt {
  let B = params.B;
  let h = params.h;
  let T = params.T;
  let bh = B * h;
  var a: StepAt;
  a.e = e;
  a.b = e / h;
  a.j = e % h;
  a.dir = dir;
  a.n = lengths[a.b];
  a.t = params.s;
  a.prev = a.t - 1u;
  a.first = a.t == 1u;
  if (dir == 1u) { a.t = T + 1u - params.s; a.prev = a.t + 1u; a.first = a.t == a.n; }
  a.hsBase = params.offHs + dir * (T + 2u) * bh;
  a.cBase = params.offC + dir * (T + 2u) * bh;
  a.k0 = dir * bh;
  return a;
}

// h_prev[k] of row b: h0 at the direction's first step of this sequence, else the previous slot.
fn hPrevAt(a: StepAt, k: u32) -> f32 {
  if (a.first) { return state0[params.offH0 + a.k0 + a.b * params.h + k]; }
  return saved[a.hsBase + a.prev * params.B * params.h + a.b * params.h + k];
}

// A padded row (t > n_b): no output, the carried state passes through.
fn passPadded(a: StepAt) {
  let bh = params.B * params.h;
  let e = a.e;
  Y[params.offY + (a.t * params.B + a.b) * params.dirs * params.h + a.dir * params.h + a.j] = 0.0;
  if (a.dir == 0u) {
    saved[a.hsBase + a.t * bh + e] = saved[a.hsBase + a.prev * bh + e];
    if (CELL == 2u) { saved[a.cBase + a.t * bh + e] = saved[a.cBase + a.prev * bh + e]; }
  } else {
    saved[a.hsBase + a.t * bh + e] = state0[params.offH0 + a.k0 + e];
    if (CELL == 2u) { saved[a.cBase + a.t * bh + e] = state0[params.offC0 + a.k0 + e]; }
  }
}

// The cell's finish from acc = (Wh h_prev) at rows j, h+j, 2h+j, 3h+j (bias not yet added).
fn finishStep(a: StepAt, product: vec4<f32>) {
  let B = params.B;
  let h = params.h;
  let T = params.T;
  let G = gateCount();
  let gh = G * h;
  let bh = B * h;
  let b = a.b;
  let j = a.j;
  let e = a.e;
  let t = a.t;
  var acc = product;
  let pb = params.offBh + a.dir * params.strideK;
  if (params.hasBias != 0u) {
    acc.x += W[pb + j];
    if (G > 1u) {
      acc.y += W[pb + h + j];
      acc.z += W[pb + 2u * h + j];
    }
    if (G > 3u) { acc.w += W[pb + 3u * h + j]; }
  }
  let gxBase = params.offGx + a.dir * T * B * gh + ((t - 1u) * B + b) * gh;
  var hPrevJ: f32;
  if (a.first) {
    hPrevJ = state0[params.offH0 + a.k0 + e];
    saved[a.hsBase + a.prev * bh + e] = hPrevJ; // the border slot (or a padded one holding h0 already)
  } else {
    hPrevJ = saved[a.hsBase + a.prev * bh + e];
  }
  let sBase = params.offS + a.dir * T * B * 4u * h + ((t - 1u) * B + b) * 4u * h;
  var hNew: f32;
  if (CELL == 0u) {
    hNew = phi(Gx[gxBase + j] + acc.x);
  } else if (CELL == 1u) {
    let r = sigmoid(Gx[gxBase + j] + acc.x);
    let z = sigmoid(Gx[gxBase + h + j] + acc.y);
    let nn = tanhF(Gx[gxBase + 2u * h + j] + r * acc.z);
    hNew = (1.0 - z) * nn + z * hPrevJ;
    saved[sBase + j] = r;
    saved[sBase + h + j] = z;
    saved[sBase + 2u * h + j] = nn;
    saved[sBase + 3u * h + j] = acc.z;
  } else {
    let i = sigmoid(Gx[gxBase + j] + acc.x);
    let f = sigmoid(Gx[gxBase + h + j] + acc.y);
    let g = tanhF(Gx[gxBase + 2u * h + j] + acc.z);
    let o = sigmoid(Gx[gxBase + 3u * h + j] + acc.w);
    var cPrev: f32;
    if (a.first) {
      cPrev = state0[params.offC0 + a.k0 + e];
      saved[a.cBase + a.prev * bh + e] = cPrev;
    } else {
      cPrev = saved[a.cBase + a.prev * bh + e];
    }
    let c = f * cPrev + i * g;
    saved[a.cBase + t * bh + e] = c;
    hNew = o * tanhF(c);
    saved[sBase + j] = i;
    saved[sBase + h + j] = f;
    saved[sBase + 2u * h + j] = g;
    saved[sBase + 3u * h + j] = o;
  }
  Y[params.offY + (t * B + b) * params.dirs * h + a.dir * h + j] = hNew;
  saved[a.hsBase + t * bh + e] = hNew;
}

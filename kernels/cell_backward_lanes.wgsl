// cell_backward_lanes: the reverse-sweep step of cell_backward_step.wgsl (same
// math, same buffers, same params), with the carry's dot product split over
// LANES invocations per output.
//
//   dh_prev = xi * (dGh_src Wh + z * dh_src)   (MATH.md part 2; the z term: gru)
//   the rest of the step: exactly cell_backward_step.wgsl (see its header)
//
// Work split: a workgroup of 64 invocations handles OUT = 64/LANES outputs
// (b, j), e = wg.x*OUT + slot, invocation li = lane*OUT + slot: neighbouring
// invocations take neighbouring columns j of Wh (coalesced, as in
// cell_backward_step), and lane l sums rows i = l, l + LANES, ... of the G*h;
// the lanes' partial sums meet in workgroup memory (log2(LANES) barriers), and
// lane 0 finishes the step. So LANES times as many workgroups as
// cell_backward_step, each with a LANES times shorter loop: at B = 32, h = 256,
// 512 workgroups (LANES = 4). The norm partial ||dh_t||^2 is one per
// workgroup (tileNorm, as cell_backward_step): normPartials gets ceil(B*h / OUT)
// of them per (k, t). With lengths: as cell_backward_step.

//! include cell_backward_io
override LANES: u32 = 4u; // 1, 2, 4, ..., 64

var<workgroup> partial: array<f32, 64>;
var<workgroup> red: array<f32, 64>;

//! include gates

//! include activations

/** The step for output (b, j) of direction dir given its carry's dot product; returns dh (0 at padded rows and at s = T + 1). */
fn step(e: u32, dir: u32, dot: f32) -> f32 {
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
      acc = dot; // sum over i of dG[g0 + i] * W[pw + i * h], reduced over the lanes
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
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let dir = wg.y;
  let B = params.B;
  let h = params.h;
  let T = params.T;
  let OUT = 64u / LANES;
  let slot = li % OUT;
  let lane = li / OUT;
  let e = wg.x * OUT + slot;
  let valid = e < B * h;
  let ec = min(e, B * h - 1u);
  let b = ec / h;
  let j = ec % h;
  let gh = gateCount() * h;
  // the carry's source step and scale: as in step()
  let n = lengths[b];
  var src = T + 2u - params.s;
  var xi = params.xi0;
  if (dir == 1u) {
    src = select(params.s - 1u, T, params.s == T + 1u);
    xi = select(params.xi1, 1.0, src == n);
  }
  var dot = 0.0;
  if (valid && params.s > 1u && src <= n && xi != 0.0) {
    let g0 = params.offDGh + dir * T * B * gh + ((src - 1u) * B + b) * gh;
    let pw = params.offWh + dir * params.strideK + j;
    for (var i = lane; i < gh; i += LANES) { dot += dG[g0 + i] * W[pw + i * h]; }
  }
  red[li] = dot;
  workgroupBarrier();
  for (var off = LANES / 2u; off > 0u; off >>= 1u) {
    if (lane < off) { red[li] += red[li + off * OUT]; }
    workgroupBarrier();
  }
  var dhHere = 0.0; // this output's dh (lane 0; 0 elsewhere and outside the matrix)
  if (valid && lane == 0u) { dhHere = step(e, dir, red[li]); }
  let base = select(params.normBase0, params.normBase1, dir == 1u);
  if (params.normBase0 != 0xffffffffu) {
    let norm = tileNorm(li, dhHere);
    if (li == 0u) { normPartials[base + wg.x] = norm; }
  }
}

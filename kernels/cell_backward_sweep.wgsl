// cell_backward_sweep: the reverse sweep of cell_backward_step.wgsl (same math, same
// buffers) in two modes that record fewer dispatches: a persistent sweep (all steps
// of a layer in one dispatch) and a wavefront over layers (one step of several
// layers in one dispatch, the gradient into each layer's output made inline).
//
// Per layer-direction, step s (s = 1..T: t = T + 1 - s forward, t = s reverse;
// s = T + 1: only the carry into the initial state, dh0 and dc0), output (b, j)
// (MATH.md part 2):
//   dh_t = dY_t + carry,  carry = xi (dGh_src Wh + z_src dh_src)   (the z term: gru)
//   dc carry = xi dc_src f_src                                      (lstm)
//   dGx, dGh, dc_t from dh_t and the saved gates: lib/gate_grads.wgsl
// src is the step processed before (t + 1 forward, t - 1 reverse); xi_t scales the
// edge between t - 1 and t (the reverse direction's path into its initial state,
// at t = n_b, is not scaled); the first step starts from dhT (dcT); with lengths a
// padded row (t > n_b) does no work and passes the carry through unscaled.
// In the wavefront, the gradient into layer l's output at t is made inline
// from the layer above's gates, which the previous dispatch wrote:
//   dY_l[t][b, j] = sum_i dGx_{l+1}[t][b, i] Wx_{l+1}[i, j]     (dirs = 1)
// instead of one product dY_l = dGx_{l+1} Wx_{l+1} after layer l+1's sweep.
//
//   W       parameters: Wh of layer l at offWh0 (l = 0) or offWh1 + (l-1)*strideL,
//           + dir*strideK; Wx of layer l >= 1 at offWx1 + (l-1)*strideL
//   Y       [L, T+2, B, dirs*h] layer outputs at offY + l*(T+2)*B*dirs*h (rnn: phi' through h_t)
//   saved   Hs, C [K, T+2, B, h] at offHs, offC + k*(T+2)*B*h; S [K, T, B, 4h] at offS + k*T*B*4h
//   dY      [L, T, B, dirs*h] at offDY + l*T*B*dirs*h: the top layer's (and every
//           layer's outside the wavefront) output gradient
//   table   u32 [B + T]: n_b of every sequence, then xi_1..xi_T as f32 bits
//   dG      dGx, dGh [K, T, B, G*h] at offDGx, offDGh + k*T*B*G*h
//   dState  dH, dC [K, T+2, B, h] at offDH, offDC + k*(T+2)*B*h: slot t the total dh_t
//           (dc_t), slot T+1 dhT (dcT) on entry, slot 0 receives dh0 (dc0)
//   normPartials  ||dh_t|| at ((k*T + t - 1) * stepParts + workgroup) when norms = 1
//           (k = l*dirs + dir; finalize.wgsl combines them)
//
// Work split. A workgroup of WG invocations handles OUT = WG/LANES outputs e = b*h + j
// at a time, invocation li = lane*OUT + slot: neighbouring invocations read
// neighbouring columns j of Wh (coalesced), lane l sums rows i = l, l + LANES, ...
// of the G*h, and the lanes meet in workgroup memory; lane 0 finishes the output.
//   wave = 1      one dispatch per wave of layers, dirs = 1, workgroup z = 0..Z-1:
//                 layer (layer - z) does step s - z, so the layer below lags one
//                 step behind the one above; a stack of L layers costs T + L
//                 dispatches (T + L - 1 waves of steps, plus the dh0 tail) instead
//                 of L*(T+1), and the (L-1) products dY_{l-1} go. Workgroup x: OUT
//                 outputs; the same grid and norm partials as cell_backward_lanes.
//   PERSISTENT    ONE workgroup per direction (y) runs steps s..sLast of one layer
//                 in a loop over chunks of OUT outputs: per step, (a) every carry's
//                 dot product reads dGh_src from workgroup memory (ws [B, G*h],
//                 written by (b) of the step before) into hc [B, h]; a barrier; (b)
//                 every output's gates, writing dG, dState and ws; a barrier. WGSL has
//                 no barrier across workgroups, so this exists only within one. An
//                 output e is always handled by the same invocation, so its own
//                 dState values (the gru z term, the lstm dc carry, the norms) need
//                 no barrier. The host uses it only where WG invocations and
//                 8*WG + 4*(WS_CAP + HC_CAP) bytes of workgroup memory fit the adapter.
//                 Norm partials: one per (k, t) (stepParts = 1), two reductions a step.

struct Params {
  B: u32,
  h: u32,
  T: u32,
  dirs: u32,
  L: u32, // layers
  s: u32, // the step of workgroup z = 0 (persistent: the first step)
  sLast: u32, // persistent: the last step; else s
  layer: u32, // the layer of workgroup z = 0
  wave: u32, // 1: a wavefront (layers below the top take dY inline)
  offWh0: u32,
  offWh1: u32,
  offWx1: u32,
  strideK: u32, // elements between the parameters of dir 0 and dir 1 of `layer`
  strideL: u32, // elements between the parameters of layers l and l + 1 (l >= 1)
  offY: u32,
  offHs: u32,
  offC: u32,
  offS: u32,
  offDY: u32,
  offDGx: u32,
  offDGh: u32,
  offDH: u32,
  offDC: u32,
  norms: u32, // 1: write norm partials
  stepParts: u32,
}

override CELL: u32 = 2u;
override ACTIVATION: u32 = 1u;
override LANES: u32 = 1u; // 1, 2, 4, ..., WG
override WG: u32 = 64u;
override PERSISTENT: bool = false;
override WS_CAP: u32 = 1u; // persistent: >= B*G*h
override HC_CAP: u32 = 1u; // persistent: >= B*h

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> W: array<f32>;
@group(0) @binding(2) var<storage, read> Y: array<f32>;
@group(0) @binding(3) var<storage, read> saved: array<f32>;
@group(0) @binding(4) var<storage, read> dY: array<f32>;
@group(0) @binding(5) var<storage, read> table: array<u32>;
@group(0) @binding(6) var<storage, read_write> dG: array<f32>;
@group(0) @binding(7) var<storage, read_write> dState: array<f32>;
@group(0) @binding(8) var<storage, read_write> normPartials: array<f32>;

var<workgroup> red: array<vec2<f32>, WG>; // the lanes' partial dot products; the norms' reductions
var<workgroup> ws: array<f32, WS_CAP>; // persistent: dGh of the step just done, [B, G*h]
var<workgroup> hc: array<f32, HC_CAP>; // persistent: the carry into every output of this step, [B, h]

//! include activations
//! include gate_grads
//! include finite

//! include gates

/** Where one layer-direction's tensors and weights are (element offsets). */
struct Lay {
  l: u32,
  k: u32,
  inlineDY: bool,
  wh: u32,
  wxAbove: u32, // Wx of layer l + 1 (inline dY)
  y: u32, // Y of layer l (the direction's column: + dir*h)
  dy: u32,
  hs: u32,
  c: u32,
  sv: u32,
  dgx: u32,
  dgh: u32,
  dgxAbove: u32, // dGx of layer l + 1 (dirs = 1)
  dh: u32,
  dc: u32,
}

fn layerOf(z: u32, dir: u32) -> Lay {
  let B = params.B;
  let h = params.h;
  let T = params.T;
  let dirs = params.dirs;
  let cBlock = (T + 2u) * B * h;
  let gBlock = T * B * gateCount() * h;
  var L: Lay;
  L.l = params.layer - z;
  L.k = L.l * dirs + dir;
  L.inlineDY = params.wave != 0u && L.l + 1u < params.L;
  L.wh = select(params.offWh1 + (L.l - 1u) * params.strideL, params.offWh0, L.l == 0u) + dir * params.strideK;
  L.wxAbove = params.offWx1 + L.l * params.strideL;
  L.y = params.offY + L.l * (T + 2u) * B * dirs * h;
  L.dy = params.offDY + L.l * T * B * dirs * h;
  L.hs = params.offHs + L.k * cBlock;
  L.c = params.offC + L.k * cBlock;
  L.sv = params.offS + L.k * T * B * 4u * h;
  L.dgx = params.offDGx + L.k * gBlock;
  L.dgh = params.offDGh + L.k * gBlock;
  L.dgxAbove = L.dgx + gBlock;
  L.dh = params.offDH + L.k * cBlock;
  L.dc = params.offDC + L.k * cBlock;
  return L;
}

fn lengthOf(b: u32) -> u32 { return table[b]; }

/** xi_t, t = 1..T. */
fn xiAt(t: u32) -> f32 { return bitcast<f32>(table[params.B + t - 1u]); }

/** The step processed at `step` (0 at the tail, s = T + 1). */
fn stepT(dir: u32, step: u32) -> u32 {
  if (dir == 0u) { return params.T + 1u - step; }
  return select(step, 0u, step == params.T + 1u);
}

/** The step processed before it, whose carry this step takes. */
fn srcOf(dir: u32, step: u32) -> u32 {
  if (dir == 0u) { return params.T + 2u - step; }
  return select(step - 1u, params.T, step == params.T + 1u);
}

/** The carry's truncation factor: xi_{t+1} forward; xi_t reverse, 1 into its initial state (out of n_b). */
fn xiOf(dir: u32, step: u32, src: u32, n: u32) -> f32 {
  if (step == 1u) { return 1.0; }
  if (dir == 0u) { return xiAt(src); }
  if (step == params.T + 1u || src == n) { return 1.0; }
  return xiAt(step);
}

/** Whether the carry into output (b, .) at `step` needs the product dGh_src Wh. */
fn needsDot(dir: u32, step: u32, b: u32) -> bool {
  let n = lengthOf(b);
  let src = srcOf(dir, step);
  return step > 1u && src <= n && xiOf(dir, step, src, n) != 0.0;
}

/** The carry dh into output e at `step`, given dot = sum_i dGh_src[b, i] Wh[i, j]. */
fn carryH(L: Lay, e: u32, dir: u32, step: u32, dot: f32) -> f32 {
  let B = params.B;
  let h = params.h;
  let bh = B * h;
  let b = e / h;
  let j = e % h;
  let n = lengthOf(b);
  let src = srcOf(dir, step);
  if (step == 1u) { return dState[L.dh + (params.T + 1u) * bh + e]; }
  if (src > n) { return dState[L.dh + src * bh + e]; } // the step before was a padded row: passed through
  let xi = xiOf(dir, step, src, n);
  if (xi == 0.0) { return 0.0; }
  var acc = dot;
  if (CELL == 1u) { acc += saved[L.sv + ((src - 1u) * B + b) * 4u * h + h + j] * dState[L.dh + src * bh + e]; }
  return xi * acc;
}

/** The lstm's carry dc into output e at `step`. */
fn carryC(L: Lay, e: u32, dir: u32, step: u32) -> f32 {
  let B = params.B;
  let h = params.h;
  let bh = B * h;
  let b = e / h;
  let n = lengthOf(b);
  let src = srcOf(dir, step);
  if (step == 1u) { return dState[L.dc + (params.T + 1u) * bh + e]; }
  if (src > n) { return dState[L.dc + src * bh + e]; }
  let xi = xiOf(dir, step, src, n);
  if (xi == 0.0) { return 0.0; }
  return xi * dState[L.dc + src * bh + e] * saved[L.sv + ((src - 1u) * B + b) * 4u * h + h + (e % h)];
}

/** Output e's step given its carry dhc (and, inline, its dY): writes dState, dG (and ws); returns dh (0 at padded rows and the tail). */
fn finishStep(L: Lay, e: u32, dir: u32, step: u32, dhc: f32, dyInline: f32) -> f32 {
  let B = params.B;
  let h = params.h;
  let T = params.T;
  let bh = B * h;
  let b = e / h;
  let j = e % h;
  let n = lengthOf(b);
  let G = gateCount();
  let gh = G * h;
  if (step == T + 1u) {
    dState[L.dh + e] = dhc;
    if (CELL == 2u) { dState[L.dc + e] = carryC(L, e, dir, step); }
    return 0.0;
  }
  var dcc = 0.0;
  if (CELL == 2u) { dcc = carryC(L, e, dir, step); }
  let t = stepT(dir, step);
  let prev = select(t - 1u, t + 1u, dir == 1u); // h_prev's slot
  let gx = L.dgx + ((t - 1u) * B + b) * gh + j; // column j of block 0
  let gg = L.dgh + ((t - 1u) * B + b) * gh + j;
  if (t > n) {
    dState[L.dh + t * bh + e] = dhc;
    if (CELL == 2u) { dState[L.dc + t * bh + e] = dcc; }
    for (var q = 0u; q < G; q++) {
      dG[gx + q * h] = 0.0;
      dG[gg + q * h] = 0.0;
      if (PERSISTENT) { ws[b * gh + q * h + j] = 0.0; }
    }
    return 0.0;
  }
  let row = params.dirs * h;
  var dy = dyInline;
  if (!L.inlineDY) { dy = dY[L.dy + ((t - 1u) * B + b) * row + dir * h + j]; }
  let dh = dy + dhc;
  dState[L.dh + t * bh + e] = dh;
  var gates = vec4<f32>(0.0);
  var hOut = 0.0;
  var hPrev = 0.0;
  var c = 0.0;
  var cPrev = 0.0;
  if (CELL == 0u) {
    hOut = Y[L.y + (t * B + b) * row + dir * h + j];
  } else {
    let sBase = L.sv + ((t - 1u) * B + b) * 4u * h + j;
    gates = vec4<f32>(saved[sBase], saved[sBase + h], saved[sBase + 2u * h], saved[sBase + 3u * h]);
  }
  if (CELL == 1u) { hPrev = saved[L.hs + prev * bh + e]; }
  if (CELL == 2u) {
    c = saved[L.c + t * bh + e];
    cPrev = saved[L.c + prev * bh + e];
  }
  let g = gateGrads(dh, gates, hOut, hPrev, c, cPrev, dcc);
  if (CELL == 2u) { dState[L.dc + t * bh + e] = g.dc; }
  for (var q = 0u; q < G; q++) {
    dG[gx + q * h] = g.gx[q];
    dG[gg + q * h] = g.gh[q];
    if (PERSISTENT) { ws[b * gh + q * h + j] = g.gh[q]; }
  }
  return dh;
}

/** max over the workgroup of v (every invocation calls it). */
fn groupMax(li: u32, v: f32) -> f32 {
  red[li].x = v;
  workgroupBarrier();
  for (var off = WG / 2u; off > 0u; off >>= 1u) {
    if (li < off) { red[li].x = max(red[li].x, red[li + off].x); }
    workgroupBarrier();
  }
  let m = red[0].x;
  workgroupBarrier();
  return m;
}

/** sum over the workgroup of v, in a fixed order (every invocation calls it). */
fn groupSum(li: u32, v: f32) -> f32 {
  red[li].x = v;
  workgroupBarrier();
  for (var off = WG / 2u; off > 0u; off >>= 1u) {
    if (li < off) { red[li].x += red[li + off].x; }
    workgroupBarrier();
  }
  let total = red[0].x;
  workgroupBarrier();
  return total;
}

/** dh_t of output e as the norms count it: 0 outside the matrix and at padded rows. */
fn normValue(L: Lay, e: u32, t: u32) -> f32 {
  if (e >= params.B * params.h || t > lengthOf(e / params.h)) { return 0.0; }
  return dState[L.dh + t * params.B * params.h + e];
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let B = params.B;
  let h = params.h;
  let T = params.T;
  let n = B * h;
  let dir = wg.y;
  let z = wg.z;
  if (params.s <= z) { return; } // a layer whose step would be before 1 (the host never records one)
  let L = layerOf(z, dir);
  let gh = gateCount() * h;
  let OUT = WG / LANES;
  let slot = li % OUT;
  let lane = li / OUT;
  var chunks = 1u;
  if (PERSISTENT) { chunks = (n + OUT - 1u) / OUT; }
  for (var step = params.s - z; step <= params.sLast - z; step++) {
    let t = stepT(dir, step);
    let tail = step == T + 1u;
    let src = srcOf(dir, step);
    // (a) the carry's dot product (and, inline, dY's), split over the lanes
    for (var c = 0u; c < chunks; c++) {
      let e = select(wg.x, c, PERSISTENT) * OUT + slot;
      let valid = e < n;
      let b = min(e, n - 1u) / h;
      let j = min(e, n - 1u) % h;
      var dots = vec2<f32>(0.0);
      if (valid && needsDot(dir, step, b)) {
        if (PERSISTENT) {
          for (var i = lane; i < gh; i += LANES) { dots.x += ws[b * gh + i] * W[L.wh + i * h + j]; }
        } else {
          let g0 = L.dgh + ((src - 1u) * B + b) * gh;
          for (var i = lane; i < gh; i += LANES) { dots.x += dG[g0 + i] * W[L.wh + i * h + j]; }
        }
      }
      if (valid && L.inlineDY && !tail && t <= lengthOf(b)) {
        let a0 = L.dgxAbove + ((t - 1u) * B + b) * gh;
        for (var i = lane; i < gh; i += LANES) { dots.y += dG[a0 + i] * W[L.wxAbove + i * h + j]; }
      }
      if (LANES > 1u) {
        red[li] = dots;
        workgroupBarrier();
        for (var off = LANES / 2u; off > 0u; off >>= 1u) {
          if (lane < off) { red[li] += red[li + off * OUT]; }
          workgroupBarrier();
        }
        dots = red[li];
        workgroupBarrier(); // red is written again by the next chunk
      }
      if (valid && lane == 0u) {
        let dhc = carryH(L, e, dir, step, dots.x);
        if (PERSISTENT) { hc[e] = dhc; } else { finishStep(L, e, dir, step, dhc, dots.y); }
      }
    }
    if (PERSISTENT) {
      workgroupBarrier(); // every read of ws (dGh_src) done before (b) writes this step's
      // (b) every output's gates
      for (var c = 0u; c < chunks; c++) {
        let e = c * OUT + slot;
        if (e < n && lane == 0u) { finishStep(L, e, dir, step, hc[e], 0.0); }
      }
      workgroupBarrier(); // this step's ws complete before the next step's (a) reads it
    }
    // ||dh_t|| over this workgroup's outputs (the whole step when persistent), as
    // cell_backward_step.wgsl: sqrt(sum (v k)^2) / k with k about 1 / M, M the largest
    // |v| (no square overflows), k in two power-of-two factors; +Infinity when a value
    // is NaN or infinite. Each invocation reads back its own outputs' dh_t.
    if (params.norms != 0u && !tail) {
      var infBits = 0x7f800000u; // a var: an infinite constant would be rejected when the shader is compiled
      let inf = bitcast<f32>(infBits);
      var m = 0.0;
      for (var c = 0u; c < chunks; c++) {
        if (lane == 0u) {
          let v = normValue(L, select(wg.x, c, PERSISTENT) * OUT + slot, t);
          m = max(m, select(inf, abs(v), isFiniteF(v)));
        }
      }
      let M = groupMax(li, m);
      var k = vec2<f32>(1.0, 1.0);
      var q = 0.0;
      if (M > 0.0 && isFiniteF(M)) {
        let ex = frexp(M).exp; // M = f * 2^ex, f in [0.5, 1)
        k = vec2<f32>(exp2(f32(-(ex / 2))), exp2(f32(ex / 2 - ex)));
        for (var c = 0u; c < chunks; c++) {
          if (lane == 0u) {
            let r = (normValue(L, select(wg.x, c, PERSISTENT) * OUT + slot, t) * k.x) * k.y;
            q += r * r;
          }
        }
      }
      let S = groupSum(li, q);
      if (li == 0u) {
        var norm = sqrt(S) / k.y / k.x;
        if (!isFiniteF(M)) { norm = inf; }
        normPartials[(L.k * T + t - 1u) * params.stepParts + select(wg.x, 0u, PERSISTENT)] = norm;
      }
    }
  }
}

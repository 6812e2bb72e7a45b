// cell_forward_subgroup: cell_forward_lanes.wgsl with the lanes' partial dot
// products summed by subgroup shuffles (the `subgroups` feature) instead of
// workgroup memory and barriers. Everything else, the math and every mode, is
// cell_forward_lanes.wgsl's, whose header this file follows; WGSL has no
// include, so test/gpu-variants.test.ts checks that the two files differ only
// between the BEGIN/END lane reduction markers and in this header.
//
// The LANES invocations of one output are consecutive (li = slot*LANES + lane)
// and share a subgroup when LANES divides the subgroup size and subgroups are
// made of consecutive invocations (as on every Vulkan, Metal and D3D12 driver
// for a one-dimensional workgroup); the host uses LANES <= the adapter's
// subgroupMinSize (4 where the adapter does not say).

enable subgroups;

struct Params {
  B: u32,
  h: u32,
  T: u32,
  dirs: u32,
  s: u32, // step of layer z = 0 (1..T, or from 0 - z in a wavefront)
  sLast: u32, // persistent: the last step; else s
  hasBias: u32,
  strideK: u32, // elements between the parameters of dir 0 and dir 1
  // layer z = 0 (dir 0)
  offWh: u32,
  offBh: u32,
  offWx: u32, // inline gx only
  offBx: u32,
  inline0: u32, // 1: layer z = 0 computes gx inline; 0: reads Gx
  offGx: u32,
  offY: u32,
  offHs: u32,
  offC: u32,
  offS: u32,
  offH0: u32,
  offC0: u32,
  // layers z >= 1 (wavefront): parameters of z = 1 and the stride between layers
  offWh1: u32,
  offBh1: u32,
  offWx1: u32,
  offBx1: u32,
  strideL: u32,
  // per layer strides of Y, C, S and h0/c0 (elements)
  layerY: u32,
  layerHs: u32,
  layerC: u32,
  layerS: u32,
  layerH0: u32,
}

override CELL: u32 = 2u;
override ACTIVATION: u32 = 1u; // rnn only: 0 identity, 1 tanh, 2 relu
override LANES: u32 = 4u; // 1, 2, 4, ..., WG
override WG: u32 = 64u;
override PERSISTENT: bool = false;
override HS_CAP: u32 = 1u; // persistent: floats of h_prev staged per step (>= B*h)

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> W: array<f32>;
@group(0) @binding(2) var<storage, read> Gx: array<f32>;
@group(0) @binding(3) var<storage, read> state0: array<f32>;
@group(0) @binding(4) var<storage, read> lengths: array<u32>;
@group(0) @binding(5) var<storage, read_write> Y: array<f32>;
@group(0) @binding(6) var<storage, read_write> saved: array<f32>;

var<workgroup> hs: array<f32, HS_CAP>;

//! include activations

//! include gates

struct Layer {
  wh: u32,
  bh: u32,
  wx: u32,
  bx: u32,
  inlineX: bool,
  y: u32,
  hs: u32,
  c: u32,
  sv: u32,
  h0: u32,
  c0: u32,
}

fn layerOf(z: u32, dir: u32) -> Layer {
  var L: Layer;
  let pd = dir * params.strideK;
  if (z == 0u) {
    L.wh = params.offWh + pd;
    L.bh = params.offBh + pd;
    L.wx = params.offWx + pd;
    L.bx = params.offBx + pd;
    L.inlineX = params.inline0 != 0u;
  } else {
    let pz = (z - 1u) * params.strideL;
    L.wh = params.offWh1 + pz;
    L.bh = params.offBh1 + pz;
    L.wx = params.offWx1 + pz;
    L.bx = params.offBx1 + pz;
    L.inlineX = true;
  }
  L.y = params.offY + z * params.layerY;
  L.hs = params.offHs + z * params.layerHs + dir * (params.T + 2u) * params.B * params.h;
  L.c = params.offC + z * params.layerC + dir * (params.T + 2u) * params.B * params.h;
  L.sv = params.offS + z * params.layerS + dir * params.T * params.B * 4u * params.h;
  L.h0 = params.offH0 + z * params.layerH0 + dir * params.B * params.h;
  L.c0 = params.offC0 + z * params.layerH0 + dir * params.B * params.h;
  return L;
}

/** h_prev[b, k] of this layer-direction (first: the direction's first step of sequence b: the initial state). */
fn hPrev(L: Layer, first: bool, prev: u32, b: u32, k: u32) -> f32 {
  if (PERSISTENT) { return hs[b * params.h + k]; }
  if (first) { return state0[L.h0 + b * params.h + k]; }
  return saved[L.hs + (prev * params.B + b) * params.h + k];
}

/** Whether step `step` of direction dir starts sequence b (the reverse direction starts at t = n_b). */
fn isFirst(dir: u32, step: u32, b: u32) -> bool {
  if (dir == 1u) { return params.T + 1u - step == lengths[b]; }
  return step == 1u;
}

/** The cell's state update for output e = b*h + j, given the reduced gh and (inline) gx. */
fn finish(L: Layer, dir: u32, step: u32, e: u32, ghIn: vec4<f32>, gxIn: vec4<f32>) {
  let B = params.B;
  let h = params.h;
  let T = params.T;
  let b = e / h;
  let j = e % h;
  let G = gateCount();
  let row = params.dirs * h;
  let bh = B * h;
  var t = step;
  var prev = t - 1u;
  if (dir == 1u) { t = T + 1u - step; prev = t + 1u; }
  let first = isFirst(dir, step, b);
  let yCur = L.y + (t * B + b) * row + dir * h;
  if (t > lengths[b]) {
    // padded row: no output, the carried state passes through
    Y[yCur + j] = 0.0;
    if (dir == 0u) {
      saved[L.hs + t * bh + e] = saved[L.hs + prev * bh + e];
      if (CELL == 2u) { saved[L.c + t * bh + e] = saved[L.c + prev * bh + e]; }
    } else {
      saved[L.hs + t * bh + e] = state0[L.h0 + e];
      if (CELL == 2u) { saved[L.c + t * bh + e] = state0[L.c0 + e]; }
    }
    return;
  }
  var acc = ghIn;
  if (params.hasBias != 0u) {
    acc.x += W[L.bh + j];
    if (G > 1u) {
      acc.y += W[L.bh + h + j];
      acc.z += W[L.bh + 2u * h + j];
    }
    if (G > 3u) { acc.w += W[L.bh + 3u * h + j]; }
  }
  var gx: vec4<f32>;
  if (L.inlineX) {
    gx = gxIn;
    if (params.hasBias != 0u) {
      gx.x += W[L.bx + j];
      if (G > 1u) {
        gx.y += W[L.bx + h + j];
        gx.z += W[L.bx + 2u * h + j];
      }
      if (G > 3u) { gx.w += W[L.bx + 3u * h + j]; }
    }
  } else {
    let gxBase = params.offGx + dir * T * B * G * h + ((t - 1u) * B + b) * G * h + j;
    gx.x = Gx[gxBase];
    if (G > 1u) {
      gx.y = Gx[gxBase + h];
      gx.z = Gx[gxBase + 2u * h];
    }
    if (G > 3u) { gx.w = Gx[gxBase + 3u * h]; }
  }
  var hPrevJ: f32;
  if (first) {
    hPrevJ = state0[L.h0 + e];
    saved[L.hs + prev * bh + e] = hPrevJ; // the border slot (or a padded one holding h0 already)
  } else {
    hPrevJ = saved[L.hs + prev * bh + e];
  }
  let sBase = L.sv + ((t - 1u) * B + b) * 4u * h;
  var hNew: f32;
  if (CELL == 0u) {
    hNew = phi(gx.x + acc.x);
  } else if (CELL == 1u) {
    let r = sigmoid(gx.x + acc.x);
    let z = sigmoid(gx.y + acc.y);
    let n = tanhF(gx.z + r * acc.z);
    hNew = (1.0 - z) * n + z * hPrevJ;
    saved[sBase + j] = r;
    saved[sBase + h + j] = z;
    saved[sBase + 2u * h + j] = n;
    saved[sBase + 3u * h + j] = acc.z;
  } else {
    let i = sigmoid(gx.x + acc.x);
    let f = sigmoid(gx.y + acc.y);
    let g = tanhF(gx.z + acc.z);
    let o = sigmoid(gx.w + acc.w);
    var cPrev: f32;
    if (first) {
      cPrev = state0[L.c0 + e];
      saved[L.c + prev * B * h + e] = cPrev;
    } else {
      cPrev = saved[L.c + prev * B * h + e];
    }
    let c = f * cPrev + i * g;
    saved[L.c + t * B * h + e] = c;
    hNew = o * tanhF(c);
    saved[sBase + j] = i;
    saved[sBase + h + j] = f;
    saved[sBase + 2u * h + j] = g;
    saved[sBase + 3u * h + j] = o;
  }
  Y[yCur + j] = hNew;
  saved[L.hs + t * bh + e] = hNew;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let B = params.B;
  let h = params.h;
  let T = params.T;
  let n = B * h;
  let dir = wg.y;
  let z = wg.z;
  // wavefront: layer z is z steps behind layer 0 (uniform over the workgroup)
  if (params.s < z + 1u || params.s - z > T) { return; }
  let L = layerOf(z, dir);
  let G = gateCount();
  let OUT = WG / LANES;
  let slot = li / LANES;
  let lane = li % LANES;
  let row = params.dirs * h;
  var chunks = 1u;
  if (PERSISTENT) { chunks = (n + OUT - 1u) / OUT; }
  for (var step = params.s - z; step <= params.sLast - z; step++) {
    var t = step;
    var prev = t - 1u;
    if (dir == 1u) { t = T + 1u - step; prev = t + 1u; }
    if (PERSISTENT) {
      for (var i = li; i < n; i += WG) {
        if (isFirst(dir, step, i / h)) { hs[i] = state0[L.h0 + i]; } else { hs[i] = saved[L.hs + prev * B * h + i]; }
      }
      workgroupBarrier();
    }
    for (var c = 0u; c < chunks; c++) {
      var group = wg.x;
      if (PERSISTENT) { group = c; }
      let e = group * OUT + slot;
      let valid = e < n;
      let b = min(e, n - 1u) / h;
      let j = min(e, n - 1u) % h;
      var accH = vec4<f32>(0.0);
      var accX = vec4<f32>(0.0);
      if (valid && t <= lengths[b]) {
        let first = isFirst(dir, step, b);
        for (var k = lane; k < h; k += LANES) {
          let hp = hPrev(L, first, prev, b, k);
          accH.x += W[L.wh + j * h + k] * hp;
          if (G > 1u) {
            accH.y += W[L.wh + (h + j) * h + k] * hp;
            accH.z += W[L.wh + (2u * h + j) * h + k] * hp;
          }
          if (G > 3u) { accH.w += W[L.wh + (3u * h + j) * h + k] * hp; }
        }
        if (L.inlineX) {
          // x_t = the layer below's output at t (dirs = 1: a row of h)
          let xRow = L.y - params.layerY + (t * B + b) * h;
          for (var k = lane; k < h; k += LANES) {
            let xv = Y[xRow + k];
            accX.x += W[L.wx + j * h + k] * xv;
            if (G > 1u) {
              accX.y += W[L.wx + (h + j) * h + k] * xv;
              accX.z += W[L.wx + (2u * h + j) * h + k] * xv;
            }
            if (G > 3u) { accX.w += W[L.wx + (3u * h + j) * h + k] * xv; }
          }
        }
      }
      // BEGIN lane reduction (the one difference from cell_forward_lanes.wgsl)
      for (var off = LANES / 2u; off > 0u; off >>= 1u) {
        accH += subgroupShuffleXor(accH, off);
        accX += subgroupShuffleXor(accX, off);
      }
      if (valid && lane == 0u) { finish(L, dir, step, e, accH, accX); }
      // END lane reduction
    }
    if (PERSISTENT) {
      storageBarrier(); // this step's Y before the next step stages it
      workgroupBarrier(); // and every read of hs before it is written again
    }
  }
}

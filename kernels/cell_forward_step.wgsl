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
//
//   W   the parameter buffer: Wh [G*h, h] at offWh + dir*strideK, bh [G*h] at offBh + dir*strideK
//   Gx  [K, T, B, G*h]      gx, layer-direction k at offGx + dir*T*B*G*h, step t at (t-1)*B*G*h
//   state0  h0 [K, B, h] at offH0, c0 [K, B, h] at offC0: the initial states, read at s = 1
//   Y   [L, T+2, B, dirs*h] the layer outputs with a border slot at each end: slot t
//                           (1..T) holds h_t at columns dir*h..dir*h+h-1; slot 0
//                           (forward) and slot T+1 (reverse) receive h0 at s = 1,
//                           so h_prev is always a slot of Y (and so is the
//                           weight gradient's H_prev, one strided product)
//   saved   C [K, T+2, B, h] at offC (lstm): c_t, with c0 copied to the border slot likewise;
//           S [K, T, B, 4*h] at offS: what the backward needs, gru r, z, n, gh_n; lstm i, f, g, o
//
// One dispatch per step per layer. Work split: one invocation per (b, j), 64
// per workgroup over x, flattened e = b*h + j; workgroup y = dir. Each
// invocation makes G dot products of length h (rows j, h+j, ... of Wh with
// h_prev), reading both operands straight from storage. Any B and h.

struct Params {
  B: u32,
  h: u32,
  T: u32,
  dirs: u32,
  s: u32, // step 1..T
  offWh: u32, // dir 0's Wh in W
  offBh: u32,
  strideK: u32, // elements between the parameters of dir 0 and dir 1
  hasBias: u32,
  offGx: u32, // dir 0's block in Gx
  offY: u32, // this layer's block in Y
  offC: u32, // dir 0's block in C
  offS: u32, // dir 0's block in S
  offH0: u32, // dir 0's block in state0: h0
  offC0: u32, // and c0
}

override CELL: u32 = 2u;
override ACTIVATION: u32 = 1u; // rnn only: 0 identity, 1 tanh, 2 relu

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> W: array<f32>;
@group(0) @binding(2) var<storage, read> Gx: array<f32>;
@group(0) @binding(3) var<storage, read> state0: array<f32>;
@group(0) @binding(4) var<storage, read_write> Y: array<f32>;
@group(0) @binding(5) var<storage, read_write> saved: array<f32>;

fn sigmoid(a: f32) -> f32 {
  return 1.0 / (1.0 + exp(-a));
}

fn phi(a: f32) -> f32 {
  if (ACTIVATION == 1u) { return tanh(a); }
  if (ACTIVATION == 2u) { return max(a, 0.0); }
  return a;
}

fn gateCount() -> u32 {
  if (CELL == 0u) { return 1u; }
  if (CELL == 1u) { return 3u; }
  return 4u;
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let B = params.B;
  let h = params.h;
  let T = params.T;
  let e = gid.x;
  let dir = gid.y;
  if (e >= B * h) { return; }
  let b = e / h;
  let j = e % h;
  let G = gateCount();
  let gh = G * h;
  let row = params.dirs * h; // one time slot of Y: B rows of dirs*h
  var t = params.s;
  var prev = t - 1u;
  if (dir == 1u) { t = T + 1u - params.s; prev = t + 1u; }
  let pw = params.offWh + dir * params.strideK;
  let pb = params.offBh + dir * params.strideK;
  let k0 = dir * B * h; // this direction's block in h0, c0
  let yPrev = params.offY + (prev * B + b) * row + dir * h; // row b of h_prev
  let yCur = params.offY + (t * B + b) * row + dir * h;
  let cBase = params.offC + dir * (T + 2u) * B * h;

  // gh_g = Wh[g*h + j, :] . h_prev + bh[g*h + j], the G blocks in one pass over h_prev.
  var acc = vec4<f32>(0.0);
  let first = params.s == 1u;
  for (var k = 0u; k < h; k++) {
    var hp: f32;
    if (first) { hp = state0[params.offH0 + k0 + b * h + k]; } else { hp = Y[yPrev + k]; }
    acc.x += W[pw + j * h + k] * hp;
    if (G > 1u) {
      acc.y += W[pw + (h + j) * h + k] * hp;
      acc.z += W[pw + (2u * h + j) * h + k] * hp;
    }
    if (G > 3u) { acc.w += W[pw + (3u * h + j) * h + k] * hp; }
  }
  if (params.hasBias != 0u) {
    acc.x += W[pb + j];
    if (G > 1u) {
      acc.y += W[pb + h + j];
      acc.z += W[pb + 2u * h + j];
    }
    if (G > 3u) { acc.w += W[pb + 3u * h + j]; }
  }
  let gxBase = params.offGx + dir * T * B * gh + ((t - 1u) * B + b) * gh;
  var hPrevJ: f32;
  if (first) {
    hPrevJ = state0[params.offH0 + k0 + e];
    Y[yPrev + j] = hPrevJ; // the border slot, for the backward and the weight gradient
  } else {
    hPrevJ = Y[yPrev + j];
  }
  let sBase = params.offS + dir * T * B * 4u * h + ((t - 1u) * B + b) * 4u * h;
  var hNew: f32;
  if (CELL == 0u) {
    hNew = phi(Gx[gxBase + j] + acc.x);
  } else if (CELL == 1u) {
    let r = sigmoid(Gx[gxBase + j] + acc.x);
    let z = sigmoid(Gx[gxBase + h + j] + acc.y);
    let n = tanh(Gx[gxBase + 2u * h + j] + r * acc.z);
    hNew = (1.0 - z) * n + z * hPrevJ;
    saved[sBase + j] = r;
    saved[sBase + h + j] = z;
    saved[sBase + 2u * h + j] = n;
    saved[sBase + 3u * h + j] = acc.z;
  } else {
    let i = sigmoid(Gx[gxBase + j] + acc.x);
    let f = sigmoid(Gx[gxBase + h + j] + acc.y);
    let g = tanh(Gx[gxBase + 2u * h + j] + acc.z);
    let o = sigmoid(Gx[gxBase + 3u * h + j] + acc.w);
    var cPrev: f32;
    if (first) {
      cPrev = state0[params.offC0 + k0 + e];
      saved[cBase + prev * B * h + e] = cPrev;
    } else {
      cPrev = saved[cBase + prev * B * h + e];
    }
    let c = f * cPrev + i * g;
    saved[cBase + t * B * h + e] = c;
    hNew = o * tanh(c);
    saved[sBase + j] = i;
    saved[sBase + h + j] = f;
    saved[sBase + 2u * h + j] = g;
    saved[sBase + 3u * h + j] = o;
  }
  Y[yCur + j] = hNew;
}

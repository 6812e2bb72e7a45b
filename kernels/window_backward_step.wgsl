// window_backward_step: one step of the reverse sweep for window(tau) truncation
//
// Every loss term l_s sends its gradient back through at most tau steps. The
// sweep carries tau adjoint slots, one per age k = s - t:
//   dH^(0)_t = G_t (+ dhT at t = T)
//   dH^(k)_t = sum_i dA^(k-1)_{t+1}[b, i] * Whh[i, j]      k = 1..tau-1 (0 at t = T)
//   dA^(k)_t = dH^(k)_t * phi'(a_t)
//   dA_t = sum_k dA^(k)_t, and ||dH_t|| uses dH_t = sum_k dH^(k)_t
// The slot of age tau-1 is dropped after this step: its loss term may not
// reach h_{t-1}.
//
//   slots [2, tau, B, h]  ping-pong: reads the slots of step t+1 at offOld,
//                         writes those of step t at offNew
//   G [T, B, h], H [(T+1), B, h], dA [(T+1), B, h], dhT [B, h], Whh at offWhh
//   normPartials          ||dH_t||^2 per workgroup at normBase + workgroup index
//
// One dispatch per step. A workgroup of 8x8 invocations owns a 32x32 tile of
// (b, j) and loops over the tau ages, each a K = h product staged 16 at a time
// in workgroup memory as in matmul.wgsl, so dA_t is summed in registers.

struct Params {
  B: u32,
  h: u32,
  tau: u32,
  first: u32, // 1 at t = T
  offOld: u32,
  offNew: u32,
  offG: u32,
  offH: u32,
  offOut: u32,
  offWhh: u32,
  normBase: u32, // 0xffffffff: no norm partials
}

override ACTIVATION: u32 = 1u;

const TILE: u32 = 32u;
const TK: u32 = 16u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> G: array<f32>;
@group(0) @binding(2) var<storage, read> H: array<f32>;
@group(0) @binding(3) var<storage, read> W: array<f32>;
@group(0) @binding(4) var<storage, read> dhT: array<f32>;
@group(0) @binding(5) var<storage, read_write> slots: array<f32>;
@group(0) @binding(6) var<storage, read_write> dA: array<f32>;
@group(0) @binding(7) var<storage, read_write> normPartials: array<f32>;

var<workgroup> tileA: array<vec4<f32>, 128>;
var<workgroup> tileW: array<vec4<f32>, 128>;
var<workgroup> partial: array<f32, 64>;

fn phiGrad(hv: f32) -> f32 {
  if (ACTIVATION == 1u) { return 1.0 - hv * hv; }
  if (ACTIVATION == 2u) { return select(0.0, 1.0, hv > 0.0); }
  return 1.0;
}

@compute @workgroup_size(8, 8)
fn main(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_id) lid: vec3<u32>,
  @builtin(local_invocation_index) li: u32,
) {
  let B = params.B;
  let h = params.h;
  let bh = B * h;
  let b0 = wg.y * TILE;
  let j0 = wg.x * TILE;

  var sumA: array<vec4<f32>, 4>;
  var sumH: array<vec4<f32>, 4>;
  for (var k = 0u; k < params.tau; k++) {
    // zeroed explicitly for every age: declared without an initializer, Dawn on
    // SwiftShader kept the previous age's sums (window(tau >= 3) was wrong)
    var acc = array<vec4<f32>, 4>(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
    if (k > 0u && params.first == 0u) {
      let src = params.offOld + (k - 1u) * bh;
      for (var k0 = 0u; k0 < h; k0 += TK) {
        for (var e = li; e < TK * TILE; e += 64u) {
          let row = e / TK;
          let kk = e % TK;
          var av = 0.0;
          if (b0 + row < B && k0 + kk < h) { av = slots[src + (b0 + row) * h + k0 + kk]; }
          tileA[kk * 8u + row / 4u][row % 4u] = av;
          let kw = e / TILE;
          let col = e % TILE;
          var wv = 0.0;
          if (j0 + col < h && k0 + kw < h) { wv = W[params.offWhh + (k0 + kw) * h + j0 + col]; }
          tileW[kw * 8u + col / 4u][col % 4u] = wv;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < TK; kk++) {
          let a = tileA[kk * 8u + lid.y];
          let w = tileW[kk * 8u + lid.x];
          acc[0] += a.x * w;
          acc[1] += a.y * w;
          acc[2] += a.z * w;
          acc[3] += a.w * w;
        }
        workgroupBarrier();
      }
    }
    for (var i = 0u; i < 4u; i++) {
      let b = b0 + 4u * lid.y + i;
      if (b >= B) { break; }
      for (var jj = 0u; jj < 4u; jj++) {
        let j = j0 + 4u * lid.x + jj;
        if (j >= h) { break; }
        let e = b * h + j;
        var dh = acc[i][jj];
        if (k == 0u) {
          dh = G[params.offG + e];
          if (params.first != 0u) { dh += dhT[e]; }
        }
        let a = dh * phiGrad(H[params.offH + e]);
        slots[params.offNew + k * bh + e] = a;
        sumA[i][jj] += a;
        sumH[i][jj] += dh;
      }
    }
  }

  var sumSq = 0.0;
  for (var i = 0u; i < 4u; i++) {
    let b = b0 + 4u * lid.y + i;
    if (b >= B) { break; }
    for (var jj = 0u; jj < 4u; jj++) {
      let j = j0 + 4u * lid.x + jj;
      if (j >= h) { break; }
      dA[params.offOut + b * h + j] = sumA[i][jj];
      sumSq += sumH[i][jj] * sumH[i][jj];
    }
  }

  if (params.normBase != 0xffffffffu) {
    partial[li] = sumSq;
    workgroupBarrier();
    for (var s = 32u; s > 0u; s >>= 1u) {
      if (li < s) { partial[li] += partial[li + s]; }
      workgroupBarrier();
    }
    if (li == 0u) { normPartials[params.normBase + wg.y * nwg.x + wg.x] = partial[0]; }
  }
}

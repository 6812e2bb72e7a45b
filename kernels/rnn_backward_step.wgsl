// rnn_backward_step: one step of the reverse sweep, fused with phi'
//
//   dH_t[b, j] = G_t[b, j] + xi_{t+1} * sum_i dA_{t+1}[b, i] * Whh[i, j]   (the carry is dhT at t = T)
//   dA_t[b, j] = dH_t[b, j] * phi'(a_t[b, j])                             (phi' read through h_t)
//
//   dA  [(T+1), B, h]  dA_t at offOut; dA_{t+1} at offNext. Slot 0 receives
//                      dh_0 = xi_1 * dA_1 Whh from the same kernel with
//                      useG = 0 and applyAct = 0 (no G, no phi').
//   G   [T, B, h]      dO Wqh for every step (one GEMM beforehand), G_t at offG
//   H   [(T+1), B, h]  h_t at offH, for phi'
//   dhT [B, h]         the gradient arriving at h_T (read when useCarry = 0)
//   Whh [h, h]         at offWhh in the parameter buffer
//   normPartials       ||dH_t||^2 per workgroup at normBase + workgroup index
//                      (summed in finalize.wgsl into gradNormPerStep)
//
// One dispatch per step. Work split as in matmul.wgsl: 8x8 invocations per
// workgroup compute a 32x32 tile (rows b, columns j), 4x4 per invocation, K = h
// staged 16 at a time in workgroup memory and read back as vec4.

struct Params {
  B: u32,
  h: u32,
  offNext: u32,
  offOut: u32,
  offG: u32,
  offH: u32,
  offWhh: u32,
  xi: f32,
  useCarry: u32, // 0 at t = T: the carry is dhT instead of xi * dA_{t+1} Whh
  useG: u32,
  applyAct: u32,
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
@group(0) @binding(5) var<storage, read_write> dA: array<f32>;
@group(0) @binding(6) var<storage, read_write> normPartials: array<f32>;

var<workgroup> tileA: array<vec4<f32>, 128>; // [TK][TILE/4]: dA_{t+1}[b0 + 4i..4i+3, k]
var<workgroup> tileW: array<vec4<f32>, 128>; // [TK][TILE/4]: Whh[k, j0 + 4j..4j+3]
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
  let b0 = wg.y * TILE;
  let j0 = wg.x * TILE;

  var acc: array<vec4<f32>, 4>;
  if (params.useCarry != 0u && params.xi != 0.0) {
    for (var k0 = 0u; k0 < h; k0 += TK) {
      for (var e = li; e < TK * TILE; e += 64u) {
        let row = e / TK;
        let kk = e % TK;
        var av = 0.0;
        if (b0 + row < B && k0 + kk < h) { av = dA[params.offNext + (b0 + row) * h + k0 + kk]; }
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

  var sumSq = 0.0;
  for (var i = 0u; i < 4u; i++) {
    let b = b0 + 4u * lid.y + i;
    if (b >= B) { break; }
    for (var jj = 0u; jj < 4u; jj++) {
      let j = j0 + 4u * lid.x + jj;
      if (j >= h) { break; }
      let e = b * h + j;
      var dh = params.xi * acc[i][jj];
      if (params.useCarry == 0u) { dh = dhT[e]; }
      if (params.useG != 0u) { dh += G[params.offG + e]; }
      sumSq += dh * dh;
      var v = dh;
      if (params.applyAct != 0u) { v = dh * phiGrad(H[params.offH + e]); }
      dA[params.offOut + e] = v;
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

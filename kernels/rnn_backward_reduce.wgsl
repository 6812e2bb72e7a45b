// rnn_backward_reduce: the reverse-sweep step's epilogue after rnn_step_split.wgsl
//
//   dH_t[b, j] = G_t[b, j] + xi_{t+1} * sum_{z = 0..splits-1} parts[z, b, j]   (z in increasing order;
//                                                                            the carry is dhT when useCarry = 0,
//                                                                            and 0 when xi_{t+1} = 0)
//   dA_t[b, j] = dH_t[b, j] * phi'(a_t[b, j])
//
//   parts [splits, B, h]  partial sums of dA_{t+1} Whh
//   G, H, dhT, dA, useG, applyAct, normBase: as in rnn_backward_step.wgsl
//   normPartials          ||dH_t|| over each workgroup's 64 elements (ceil(B*h/64) per step)
//
// The 'splitk' variant of the RnnModel reverse-sweep step
// (src/gpu/rnn-variants.ts). One invocation per element of dA_t, 64 per
// workgroup along b*h + j.

struct Params {
  n: u32, // B*h
  splits: u32,
  offOut: u32,
  offG: u32,
  offH: u32,
  xi: f32,
  useCarry: u32,
  useG: u32,
  applyAct: u32,
  normBase: u32, // 0xffffffff: no norm partials
}

override ACTIVATION: u32 = 1u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> G: array<f32>;
@group(0) @binding(2) var<storage, read> H: array<f32>;
@group(0) @binding(3) var<storage, read> parts: array<f32>;
@group(0) @binding(4) var<storage, read> dhT: array<f32>;
@group(0) @binding(5) var<storage, read_write> dA: array<f32>;
@group(0) @binding(6) var<storage, read_write> normPartials: array<f32>;

//! include activations
//! include finite
//! include tilenorm4

@compute @workgroup_size(64)
fn main(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(local_invocation_index) li: u32,
) {
  let e = wg.x * 64u + li;
  var dh = 0.0;
  if (e < params.n) {
    var acc = 0.0;
    if (params.xi != 0.0) {
      for (var z = 0u; z < params.splits; z++) { acc += parts[z * params.n + e]; }
    }
    dh = params.xi * acc;
    if (params.useCarry == 0u) { dh = dhT[e]; }
    if (params.useG != 0u) { dh += G[params.offG + e]; }
    var v = dh;
    if (params.applyAct != 0u) { v = dh * phiGrad(H[params.offH + e]); }
    dA[params.offOut + e] = v;
  }
  if (params.normBase != 0xffffffffu) {
    let z = vec4<f32>(0.0);
    let norm = tileNorm(li, vec4<f32>(dh, 0.0, 0.0, 0.0), z, z, z);
    if (li == 0u) { normPartials[params.normBase + wg.x] = norm; }
  }
}

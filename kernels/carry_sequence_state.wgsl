// carry_sequence_state: a trainer's carried states (h and, for lstm, c) of
// every layer-direction, advanced only by a step that was applied
//
//   state[0, k, b, j] <- Hs[k, slot_k, b, j]   (hT: slot T for the forward direction,
//                                              slot 1 for the reverse one; with lengths
//                                              the forward state at n_b was carried to T)
//   state[1, k, b, j] <- C[k, slot_k, b, j]    (cT, lstm: hasC = 1)
//   when stats.nonFinite = 0; a skipped step leaves the state as it was
//
//   saved  Hs [K, T+2, B, h] at offHs, C [K, T+2, B, h] at offC (cell_forward_step.wgsl)
//   stats               from finalize.wgsl
//   state  [2, K, B, h]  laid out as a batch's h0 then c0, so the next step copies it whole
//
// One invocation per element of state, 256 per workgroup, over x and y.

//! include stats

struct Params {
  T: u32,
  B: u32,
  h: u32,
  dirs: u32,
  K: u32,
  hasC: u32,
  offHs: u32,
  offC: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> saved: array<f32>;
@group(0) @binding(2) var<storage, read> stats: Stats;
@group(0) @binding(3) var<storage, read_write> state: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.y * nwg.x * 256u + gid.x;
  let B = params.B;
  let h = params.h;
  let T = params.T;
  let n = params.K * B * h;
  if (i >= (1u + params.hasC) * n || stats.nonFinite != 0.0) { return; }
  let e = i % n;
  let k = e / (B * h);
  let b = (e / h) % B;
  let j = e % h;
  let dir = k % params.dirs;
  let slot = select(T, 1u, dir == 1u);
  let at = (k * (T + 2u) + slot) * B * h + b * h + j;
  if (i < n) {
    state[i] = saved[params.offHs + at];
  } else {
    state[i] = saved[params.offC + at];
  }
}

// cell_forward_splitk: one time step of one layer, both directions, with the recurrent product
// split along k over SPLITS workgroups (the 'splitk' forward step of src/gpu/variants.ts)
//
// Two dispatches per step, the same params and bindings (those of cell_forward_step.wgsl, whose
// header gives the layout, and `scratch`):
//   REDUCE = false, grid [ceil(B*h/64), dirs, SPLITS]: for each valid row b (t <= n_b), unit j
//     and block z of k (kPer = ceil(h / SPLITS) terms, k in [z*kPer, min(h, (z+1)*kPer))):
//       scratch[dir, z, b*h + j] = sum_{k in block} Wh[g*h + j, k] h_prev[b, k], g = 0..G-1 (a vec4)
//   REDUCE = true, grid [ceil(B*h/64), dirs]: gh = sum_{z = 0..SPLITS-1} scratch[dir, z, b*h + j]
//     added in that fixed order (no atomics: bit-identical run after run), then the cell's finish
//     of cell_forward_step (lib/cell_step: bh, activations, state update, saved gates, Y); padded
//     rows pass their state through as there.
// Each invocation of the first pass loops over kPer terms instead of h: SPLITS times the
// workgroups of cell_forward_step, for shapes where B*h alone leaves a GPU's units idle.
//
//   scratch [dirs, SPLITS, B*h] vec4: the partial sums (gates x, y, z, w = rows j, h+j, 2h+j, 3h+j)

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
  offHs: u32, // dir 0's block of Hs in saved
  offC: u32, // dir 0's block of C in saved
  offS: u32, // dir 0's block of S in saved
  offH0: u32, // dir 0's block in state0: h0
  offC0: u32, // and c0
}

override CELL: u32 = 2u;
override ACTIVATION: u32 = 1u; // rnn only: 0 identity, 1 tanh, 2 relu
override SPLITS: u32 = 2u;
override REDUCE: bool = false;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> W: array<f32>;
@group(0) @binding(2) var<storage, read> Gx: array<f32>;
@group(0) @binding(3) var<storage, read> state0: array<f32>;
@group(0) @binding(4) var<storage, read> lengths: array<u32>;
@group(0) @binding(5) var<storage, read_write> Y: array<f32>;
@group(0) @binding(6) var<storage, read_write> saved: array<f32>;
@group(0) @binding(7) var<storage, read_write> scratch: array<vec4<f32>>;

//! include activations
//! include gates
//! include cell_step

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let h = params.h;
  let bh = params.B * h;
  let e = gid.x;
  if (e >= bh) { return; }
  let a = stepAt(e, gid.y);
  let part = (a.dir * SPLITS) * bh + e; // scratch of (dir, z = 0, e); z adds z*bh
  if (REDUCE) {
    if (a.t > a.n) {
      passPadded(a);
      return;
    }
    var acc = scratch[part];
    for (var z = 1u; z < SPLITS; z++) { acc += scratch[part + z * bh]; }
    finishStep(a, acc);
    return;
  }
  if (a.t > a.n) { return; } // no product at a padded row
  let z = gid.z;
  let kPer = (h + SPLITS - 1u) / SPLITS;
  let k1 = min(h, (z + 1u) * kPer);
  let G = gateCount();
  let pw = params.offWh + a.dir * params.strideK;
  let j = a.j;
  var acc = vec4<f32>(0.0);
  for (var k = z * kPer; k < k1; k++) {
    let hp = hPrevAt(a, k);
    acc.x += W[pw + j * h + k] * hp;
    if (G > 1u) {
      acc.y += W[pw + (h + j) * h + k] * hp;
      acc.z += W[pw + (2u * h + j) * h + k] * hp;
    }
    if (G > 3u) { acc.w += W[pw + (3u * h + j) * h + k] * hp; }
  }
  scratch[part + z * bh] = acc;
}

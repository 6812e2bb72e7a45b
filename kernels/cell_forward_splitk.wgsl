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

//! include cell_forward_io
override SPLITS: u32 = 2u;
override REDUCE: bool = false;
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

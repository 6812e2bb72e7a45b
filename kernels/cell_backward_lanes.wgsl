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

var<workgroup> red: array<f32, 64>;

//! include gates

//! include activations
//! include gate_grads
//! include finite
//! include tilenorm4
//! include cell_backward_finish

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
  // the carry's source step and scale (lib/cell_backward_finish)
  let n = lengths[b];
  let src = steps(dir).y;
  let xi = xiOf(dir, src, n);
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
  if (valid && lane == 0u) { dhHere = finishBackward(b, j, dir, red[li]); }
  let base = select(params.normBase0, params.normBase1, dir == 1u);
  if (params.normBase0 != 0xffffffffu) {
    let norm = tileNorm(li, vec4<f32>(dhHere, 0.0, 0.0, 0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
    if (li == 0u) { normPartials[base + wg.x] = norm; }
  }
}

// finalize: the few scalars of a gradient call, in one workgroup
//
//   stats.loss      = L = lossScale * sum_r rowLoss[r]            (when hasLoss)
//   stats.gradNorm  = ||g|| = sqrt(sum_i grad[i]^2)               the global norm before clipping (NaN if any g_i is not finite)
//   stats.clipScale = min(1, clipNorm / ||g||)                    (1 when clipNorm = 0 or not finite)
//   stats.nonFinite = 1 when ||g|| is NaN or infinite, else 0
//   stats.clipped   = 1 when clipped, else 0
//   stats.step      = updates applied so far (+1 here when countStep = 1 and finite): Adam's t
//   stats.perStep[t - 1] = ||dH_t|| = sqrt(sum of the step's norm partials), t = 1..T (T: every
//                   layer-direction's steps, k*T + t - 1, for a SequenceModel)
//
// One workgroup of 256 invocations: strided sums then tree reductions in
// workgroup memory, always in the same order (bit-identical run after run).

// The scalars of a gradient call, written by finalize.wgsl; the host reads
// them by member name through reflection (src/gpu/stats.ts), and every kernel
// that reads them declares this same struct (test/gpu-stats-struct.test.ts).
struct Stats {
  loss: f32, // L
  gradNorm: f32, // ||g|| before clipping (NaN if any g_i is not finite)
  clipScale: f32, // min(1, clipNorm / ||g||)
  nonFinite: f32, // 1 when ||g|| is NaN or infinite
  clipped: f32, // 1 when clipped
  step: f32, // updates applied so far: Adam's t
  perStep: array<f32>, // ||dH_t|| per (layer-direction,) step
}

struct Params {
  R: u32,
  hasLoss: u32,
  lossScale: f32,
  n: u32, // elements of grad
  clipNorm: f32,
  T: u32,
  stepParts: u32, // norm partials per step (0: no per-step norms)
  countStep: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> rowLoss: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read> stepPartials: array<f32>;
@group(0) @binding(4) var<storage, read_write> stats: Stats;

var<workgroup> red: array<f32, 256>;

fn reduce(li: u32, v: f32) -> f32 {
  red[li] = v;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s >>= 1u) {
    if (li < s) { red[li] += red[li + s]; }
    workgroupBarrier();
  }
  let total = red[0];
  workgroupBarrier();
  return total;
}

fn reduceMax(li: u32, v: f32) -> f32 {
  red[li] = v;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s >>= 1u) {
    if (li < s) { red[li] = max(red[li], red[li + s]); }
    workgroupBarrier();
  }
  let total = red[0];
  workgroupBarrier();
  return total;
}

fn isFinite(x: f32) -> bool {
  // Tested on the bits: a shader compiler may assume floats are never NaN or infinite.
  return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u;
}

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) li: u32) {
  var l = 0.0;
  if (params.hasLoss != 0u) {
    for (var r = li; r < params.R; r += 256u) { l += rowLoss[r]; }
  }
  let loss = reduce(li, l);
  // ||g|| = m * sqrt(sum (g_i / m)^2), m = max |g_i|: no overflow of the sum of
  // squares for gradients up to the largest f32 (the CPU reference works in
  // float64). Any NaN or infinite element makes the norm non-finite.
  var m = 0.0;
  var bad = 0.0;
  for (var i = li; i < params.n; i += 256u) {
    let g = grad[i];
    if (isFinite(g)) { m = max(m, abs(g)); } else { bad = 1.0; }
  }
  m = reduceMax(li, m);
  bad = reduceMax(li, bad);
  var n = 0.0;
  if (m > 0.0) {
    let inv = 1.0 / m;
    for (var i = li; i < params.n; i += 256u) {
      let r = grad[i] * inv;
      n += r * r;
    }
  }
  var norm = m * sqrt(reduce(li, n));
  if (bad != 0.0) {
    var nanBits = 0x7fc00000u; // a var: a NaN constant would be rejected when the shader is compiled
    norm = bitcast<f32>(nanBits);
  }

  for (var t = li; t < params.T * min(params.stepParts, 1u); t += 256u) {
    var s = 0.0;
    for (var p = 0u; p < params.stepParts; p++) { s += stepPartials[t * params.stepParts + p]; }
    stats.perStep[t] = sqrt(s);
  }

  if (li == 0u) {
    let finite = isFinite(norm);
    var scale = 1.0;
    var clipped = 0.0;
    if (finite && params.clipNorm > 0.0 && norm > params.clipNorm) {
      scale = params.clipNorm / norm;
      clipped = 1.0;
    }
    stats.loss = select(0.0, loss * params.lossScale, params.hasLoss != 0u);
    stats.gradNorm = norm;
    stats.clipScale = scale;
    stats.nonFinite = select(1.0, 0.0, finite);
    stats.clipped = clipped;
    if (params.countStep != 0u && finite) { stats.step = stats.step + 1.0; }
  }
}

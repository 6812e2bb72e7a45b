// finalize: the few scalars of a gradient call, in one workgroup
//
//   stats.loss      = L = lossScale * sum_r rowLoss[r]            (when hasLoss)
//   stats.gradNorm  = ||g|| = sqrt(sum_i grad[i]^2)               the global norm before clipping (NaN if any g_i is not finite)
//   stats.clipScale * stats.clipScale2 * stats.clipScale3 = clip scale = min(1, clipNorm / ||g||)
//                     (1 when clipNorm = 0 or not finite), in three factors of about equal size,
//                     applied one after the other, ((g * clipScale) * clipScale2) * clipScale3:
//                     clipNorm / ||g|| itself is below float32's normal range (flushed to zero by
//                     GPUs) once ||g|| is above about 8.5e37 times clipNorm, down to 2^-270
//   stats.nonFinite = 1 when ||g|| is NaN or infinite, else 0
//   stats.clipped   = 1 when clipped, else 0
//   stats.step      = updates applied so far (+1 here when countStep = 1 and finite): Adam's t
//   stats.perStep[t - 1] = ||dH_t|| = sqrt(sum_p n_p^2) over the step's per-tile norms n_p, t = 1..T
//                     (T: every layer-direction's steps, k*T + t - 1, for a SequenceModel), as
//                     M * sqrt(sum (n_p / M)^2), M = max n_p: finite up to the largest f32
//
// With PARTS > 0 (the variant 'multi' of src/gpu/rnn-variants.ts),
// finalize_parts.wgsl first reduces blocks of rowLoss and grad over PARTS
// workgroups and this kernel combines their partials.
// One workgroup of 256 invocations: strided sums then tree reductions in
// workgroup memory, always in the same order (bit-identical run after run).

//! include stats

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

// PARTS > 0: finalize_parts.wgsl ran first over PARTS workgroups; grad holds
// its partials (see main) and R, n are not read. 0: one workgroup does all.
override PARTS: u32 = 0u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> rowLoss: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read> stepPartials: array<f32>;
@group(0) @binding(4) var<storage, read_write> stats: Stats;

//! include group_reduce

//! include finite

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) li: u32) {
  var loss = 0.0;
  var m = 0.0; // the largest |g_i| (with PARTS: the largest partial norm); k = inverseFactors(m)
  var scaledNorm = 0.0; // ||g|| k
  var norm = 0.0;
  var bad = 0.0;
  if (PARTS == 0u) {
    var l = 0.0;
    if (params.hasLoss != 0u) {
      for (var r = li; r < params.R; r += 256u) { l += rowLoss[r]; }
    }
    loss = reduce(li, l);
    // ||g|| = sqrt(sum (g_i k)^2) / k, k about 1 / max |g_i| (two factors, see
    // inverseFactors): no overflow of the sum of squares, no flushed reciprocal,
    // for gradients up to the largest f32 (the CPU reference works in float64).
    // Any NaN or infinite element makes the norm non-finite.
    for (var i = li; i < params.n; i += 256u) {
      let g = grad[i];
      if (isFiniteF(g)) { m = max(m, abs(g)); } else { bad = 1.0; }
    }
    m = reduceMax(li, m);
    bad = reduceMax(li, bad);
    var n = 0.0;
    var k = vec2<f32>(1.0, 1.0);
    if (m > 0.0) {
      k = inverseFactors(m);
      for (var i = li; i < params.n; i += 256u) {
        let r = (grad[i] * k.x) * k.y;
        n += r * r;
      }
    }
    scaledNorm = sqrt(reduce(li, n)); // in [1, sqrt(n)] when m > 0
    norm = scaledNorm / k.y / k.x; // infinite only when ||g|| is beyond float32
  } else {
    // The partials of finalize_parts.wgsl, bound as grad: PARTS loss sums, PARTS
    // norms n_w of blocks of g, PARTS flags (1: a non-finite element). ||g|| =
    // sqrt(sum n_w^2) = sqrt(sum (n_w k)^2) / k, k about 1 / max n_w, as above.
    var l = 0.0;
    var b = 0.0;
    for (var w = li; w < PARTS; w += 256u) {
      l += grad[w];
      m = max(m, grad[PARTS + w]);
      b = max(b, grad[2u * PARTS + w]);
    }
    loss = reduce(li, l);
    m = reduceMax(li, m);
    bad = reduceMax(li, b);
    var n = 0.0;
    var k = vec2<f32>(1.0, 1.0);
    if (m > 0.0 && isFiniteF(m)) {
      k = inverseFactors(m);
      for (var w = li; w < PARTS; w += 256u) {
        let r = (grad[PARTS + w] * k.x) * k.y;
        n += r * r;
      }
    }
    scaledNorm = sqrt(reduce(li, n));
    norm = select(m, scaledNorm / k.y / k.x, isFiniteF(m)); // a block's norm beyond float32 stays infinite
  }
  if (bad != 0.0) {
    var nanBits = 0x7fc00000u; // a var: a NaN constant would be rejected when the shader is compiled
    norm = bitcast<f32>(nanBits);
  }

  for (var t = li; t < params.T * min(params.stepParts, 1u); t += 256u) {
    var M = 0.0;
    for (var p = 0u; p < params.stepParts; p++) { M = max(M, stepPartials[t * params.stepParts + p]); }
    var s = 0.0;
    var kt = vec2<f32>(1.0, 1.0);
    if (M > 0.0 && isFiniteF(M)) {
      kt = inverseFactors(M);
      for (var p = 0u; p < params.stepParts; p++) {
        let r = (stepPartials[t * params.stepParts + p] * kt.x) * kt.y;
        s += r * r;
      }
    }
    stats.perStep[t] = select(M, sqrt(s) / kt.y / kt.x, isFiniteF(M)); // an infinite tile norm stays infinite
  }

  if (li == 0u) {
    let finite = isFiniteF(norm);
    var scale = vec3<f32>(1.0, 1.0, 1.0);
    var clipped = 0.0;
    if (finite && params.clipNorm > 0.0 && norm > params.clipNorm) {
      // clipNorm / ||g|| = (fc / fs) 2^E with clipNorm = fc 2^ec, ||g|| k = fs 2^es, k = 2^-em:
      // E = ec - es - em, split in three (each factor 2^-91 or more: a normal f32)
      let c = frexp(params.clipNorm);
      let sn = frexp(scaledNorm);
      let E = c.exp - sn.exp - frexp(m).exp;
      let E1 = E / 3;
      let E2 = (E - E1) / 2;
      scale = vec3<f32>((c.fract / sn.fract) * exp2(f32(E1)), exp2(f32(E2)), exp2(f32(E - E1 - E2)));
      clipped = 1.0;
    }
    stats.loss = select(0.0, loss * params.lossScale, params.hasLoss != 0u);
    stats.gradNorm = norm;
    stats.clipScale = scale.x;
    stats.clipScale2 = scale.y;
    stats.clipScale3 = scale.z;
    stats.nonFinite = select(1.0, 0.0, finite);
    stats.clipped = clipped;
    if (params.countStep != 0u && finite) { stats.step = stats.step + 1.0; }
  }
}

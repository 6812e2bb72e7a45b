// Reductions over one workgroup of 256 invocations in a fixed order
// (bit-identical run after run): reduce (sum), reduceMax, both through `red`
// in workgroup memory and called by every invocation; inverseFactors, the
// scale of a sum of squares that cannot overflow. Used by finalize.wgsl and
// finalize_parts.wgsl.

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

/**
 * Two powers of two whose product k is about 1 / x (x > 0, finite), each a
 * normal f32 (2^-65 or more): v * k1 * k2 brings every |v| <= x to at most 1
 * without ever forming 1 / x, which is below the normal range for x above
 * about 8.5e37 and which GPUs flush to zero.
 */
fn inverseFactors(x: f32) -> vec2<f32> {
  let e = frexp(x).exp; // x = f * 2^e, f in [0.5, 1)
  let e1 = e / 2;
  return vec2<f32>(exp2(f32(-e1)), exp2(f32(e1 - e)));
}

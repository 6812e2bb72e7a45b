// lib/tilenorm4: ||v|| over a workgroup of 64 invocations that hold 16 values each (a 4x4 register
// tile as four vec4), for the per-step gradient norms. `//! include tilenorm4` after `//! include finite`.
// Also the vanilla reverse-sweep kernels' (rnn_backward_*.wgsl, window_backward_*.wgsl; one output
// per invocation passes its value as v0.x and zeros).

var<workgroup> partial: array<f32, 64>;

/**
 * sqrt(sum (v k)^2) / k with k about 1 / M, M the workgroup's largest |v|, so that no square
 * overflows (a plain sum of squares reads Infinity from |v| of about 1.8e19, the exploding
 * gradients the per-step norms exist to show); k in two power-of-two factors, each a normal f32
 * (1 / M is flushed to zero for M above about 8.5e37). +Infinity when a value is NaN or infinite.
 * Values outside the matrix must be 0. Every invocation of the workgroup calls it.
 */
fn tileNorm(li: u32, v0: vec4<f32>, v1: vec4<f32>, v2: vec4<f32>, v3: vec4<f32>) -> f32 {
  var infBits = 0x7f800000u; // a var: an infinite constant would be rejected when the shader is compiled
  let inf = bitcast<f32>(infBits);
  var m = 0.0;
  for (var k = 0u; k < 4u; k++) {
    let a = vec4<f32>(v0[k], v1[k], v2[k], v3[k]);
    for (var c = 0u; c < 4u; c++) {
      if (isFiniteF(a[c])) { m = max(m, abs(a[c])); } else { m = inf; }
    }
  }
  partial[li] = m;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s >>= 1u) {
    if (li < s) { partial[li] = max(partial[li], partial[li + s]); }
    workgroupBarrier();
  }
  let M = partial[0];
  workgroupBarrier();
  var q = 0.0;
  var k = vec2<f32>(1.0, 1.0);
  if (M > 0.0 && isFiniteF(M)) {
    let e = frexp(M).exp; // M = f * 2^e, f in [0.5, 1)
    k = vec2<f32>(exp2(f32(-(e / 2))), exp2(f32(e / 2 - e)));
    let s0 = (v0 * k.x) * k.y;
    let s1 = (v1 * k.x) * k.y;
    let s2 = (v2 * k.x) * k.y;
    let s3 = (v3 * k.x) * k.y;
    q = dot(s0, s0) + dot(s1, s1) + dot(s2, s2) + dot(s3, s3);
  }
  partial[li] = q;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s >>= 1u) {
    if (li < s) { partial[li] += partial[li + s]; }
    workgroupBarrier();
  }
  if (!isFiniteF(M)) { return inf; }
  return sqrt(partial[0]) / k.y / k.x;
}

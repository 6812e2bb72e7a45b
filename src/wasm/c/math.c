// Float32 elementary functions for the kernels (there is no libm in a
// freestanding wasm32 build). Each is accurate to a few float32 ulps, far
// inside the tests' rtol 2e-3 against the float64 reference; NaN stays NaN
// (wasm's f32x4.min/max propagate it).
#include "bptt.h"

// exp: x = n ln2 + r, |r| <= ln2/2, exp(r) by Cephes' degree-7 polynomial, 2^n into the exponent bits.
v128_t v_exp(v128_t x) {
  x = wasm_f32x4_min(wasm_f32x4_max(x, wasm_f32x4_splat(-87.3f)), wasm_f32x4_splat(88.7f));
  v128_t n = wasm_f32x4_nearest(wasm_f32x4_mul(x, wasm_f32x4_splat(1.44269504088896341f)));
  v128_t r = wasm_f32x4_sub(x, wasm_f32x4_mul(n, wasm_f32x4_splat(0.693359375f)));
  r = wasm_f32x4_sub(r, wasm_f32x4_mul(n, wasm_f32x4_splat(-2.12194440e-4f)));
  v128_t p = wasm_f32x4_splat(1.9875691500e-4f);
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.3981999507e-3f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(8.3334519073e-3f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(4.1665795894e-2f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.6666665459e-1f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(5.0000001201e-1f));
  p = wasm_f32x4_add(wasm_f32x4_add(wasm_f32x4_mul(p, wasm_f32x4_mul(r, r)), r), wasm_f32x4_splat(1.0f));
  // n in [-126, 128]: 2^n as n + 127 in the exponent field (n = 128 only for x near 88.7: p < 1 keeps it finite)
  v128_t e = wasm_i32x4_shl(wasm_i32x4_add(wasm_i32x4_trunc_sat_f32x4(n), wasm_i32x4_splat(126)), 23);
  return wasm_f32x4_mul(wasm_f32x4_mul(p, (v128_t)e), wasm_f32x4_splat(2.0f));
}

// tanh: Eigen's rational approximation on [-7.9, 7.9] (tanh rounds to +-1 in float32 beyond), x itself below 4e-4.
v128_t v_tanh(v128_t x0) {
  v128_t x = wasm_f32x4_min(wasm_f32x4_max(x0, wasm_f32x4_splat(-7.90531110763549805f)), wasm_f32x4_splat(7.90531110763549805f));
  v128_t x2 = wasm_f32x4_mul(x, x);
  v128_t p = wasm_f32x4_splat(-2.76076847742355e-16f);
  p = wasm_f32x4_add(wasm_f32x4_mul(p, x2), wasm_f32x4_splat(2.00018790482477e-13f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, x2), wasm_f32x4_splat(-8.60467152213735e-11f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, x2), wasm_f32x4_splat(5.12229709037114e-08f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, x2), wasm_f32x4_splat(1.48572235717979e-05f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, x2), wasm_f32x4_splat(6.37261928875436e-04f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, x2), wasm_f32x4_splat(4.89352455891786e-03f));
  p = wasm_f32x4_mul(p, x);
  v128_t q = wasm_f32x4_splat(1.19825839466702e-06f);
  q = wasm_f32x4_add(wasm_f32x4_mul(q, x2), wasm_f32x4_splat(1.18534705686654e-04f));
  q = wasm_f32x4_add(wasm_f32x4_mul(q, x2), wasm_f32x4_splat(2.26843463243900e-03f));
  q = wasm_f32x4_add(wasm_f32x4_mul(q, x2), wasm_f32x4_splat(4.89352518554385e-03f));
  v128_t t = wasm_f32x4_div(p, q);
  v128_t tiny = wasm_f32x4_lt(wasm_f32x4_abs(x0), wasm_f32x4_splat(0.0004f));
  return wasm_v128_bitselect(x0, t, tiny);
}

float s_exp(float x) { return wasm_f32x4_extract_lane(v_exp(wasm_f32x4_splat(x)), 0); }
float s_tanh(float x) { return wasm_f32x4_extract_lane(v_tanh(wasm_f32x4_splat(x)), 0); }

// log for x > 0 (sums of exponentials, >= 1): x = 2^e m, m in [sqrt(1/2), sqrt(2)), log m = 2 atanh((m-1)/(m+1)).
float s_log(float x) {
  union { float f; int32_t i; } u = { x };
  if (!(x > 0) || x != x || u.i >= 0x7f800000) return x > 0 ? x : (x == 0 ? -1.0f / 0.0f : 0.0f / 0.0f);
  int e = ((u.i >> 23) & 0xff) - 127;
  u.i = (u.i & 0x007fffff) | 0x3f800000;
  double m = u.f;
  if (m > 1.41421356237) { m *= 0.5; e++; }
  double s = (m - 1) / (m + 1), s2 = s * s;
  double l = 2 * s * (1 + s2 * (1.0 / 3 + s2 * (1.0 / 5 + s2 * (1.0 / 7 + s2 * (1.0 / 9 + s2 / 11)))));
  return (float)(e * 0.6931471805599453 + l);
}

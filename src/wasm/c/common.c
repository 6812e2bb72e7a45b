// The parts of a call outside the layers (seq.c): the loss and dO of the head's output rows, the reduction of
// the per-thread partial sums into loss, gradient norm, clip scale and the
// non-finite flag, and the clipping and optimizer update of the flat
// parameter vector. The CPU reference of each is in src/cpu/kernels.ts
// (lossAndOutputGrad) and src/cpu/optimizer.ts.
#include "bptt.h"

static inline int finite(double v) { return v - v == 0; }

__attribute__((noinline)) void loss_rows(int r0, int r1, const float *O, float *D, int q, int B, int T, const int32_t *len, int N, int kind, const void *labels, double *rowloss) {
  float scale = 1.0f / (float)N;
  for (int r = r0; r < r1; r++) {
    const float *src = O + r * q;
    float *o = D + r * q;
    rowloss[r] = 0;
    if (r / B + 1 > (len ? len[r % B] : T)) {  // padding: no loss, no gradient
      for (int k = 0; k < q; k++) o[k] = 0.0f;
      continue;
    }
    if (o != src) for (int k = 0; k < q; k++) o[k] = src[k];
    if (kind == 0) {
      int y = ((const int32_t *)labels)[r];
      float m = o[0];
      for (int k = 1; k < q; k++) m = o[k] > m ? o[k] : m;
      float oy = o[y], s = 0;
      int k = 0;
      for (; k + 4 <= q; k += 4) wasm_v128_store(o + k, v_exp(wasm_f32x4_sub(wasm_v128_load(o + k), wasm_f32x4_splat(m))));
      for (; k < q; k++) o[k] = s_exp(o[k] - m);
      for (k = 0; k < q; k++) s += o[k];
      rowloss[r] = (double)m + (double)s_log(s) - (double)oy;
      float inv = 1.0f / s;
      for (k = 0; k < q; k++) o[k] = (o[k] * inv - (k == y ? 1.0f : 0.0f)) * scale;
    } else {
      const float *y = (const float *)labels + r * q;
      double l = 0;
      for (int k = 0; k < q; k++) {
        float diff = o[k] - y[k];
        l += (double)diff * diff;
        o[k] = diff * scale;
      }
      rowloss[r] = 0.5 * l;
    }
  }
}

void col_sums(const float *g, int ld, int R, int e0, int e1, float *out) {
  for (int j = e0; j < e1; j += 16) {
    int n = e1 - j < 16 ? e1 - j : 16;
    if (n == 16) {
      v128_t a0 = wasm_f32x4_splat(0.0f), a1 = a0, a2 = a0, a3 = a0;
      for (int r = 0; r < R; r++) {
        const float *row = g + r * ld + j;
        a0 = wasm_f32x4_add(a0, wasm_v128_load(row));
        a1 = wasm_f32x4_add(a1, wasm_v128_load(row + 4));
        a2 = wasm_f32x4_add(a2, wasm_v128_load(row + 8));
        a3 = wasm_f32x4_add(a3, wasm_v128_load(row + 12));
      }
      wasm_v128_store(out + j, a0);
      wasm_v128_store(out + j + 4, a1);
      wasm_v128_store(out + j + 8, a2);
      wasm_v128_store(out + j + 12, a3);
    } else {
      float a[16] = {0};
      for (int r = 0; r < R; r++)
        for (int i = 0; i < n; i++) a[i] += g[r * ld + j + i];
      for (int i = 0; i < n; i++) out[j + i] = a[i];
    }
  }
}

double sum_in_order(const double *v, int n) {
  double a[4] = {0, 0, 0, 0};
  int i = 0;
  for (; i + 4 <= n; i += 4)
    for (int j = 0; j < 4; j++) a[j] += v[i + j];
  for (; i < n; i++) a[i & 3] += v[i];
  return (a[0] + a[1]) + (a[2] + a[3]);
}

double grad_sumsq(const float *g, int e0, int e1) {
  double s = 0;
  int bad = 0;
  for (int e = e0; e < e1; e++) {
    s += (double)g[e] * g[e];
    bad |= !finite(g[e]);
  }
  return bad ? __builtin_nan("") : s;  // a NaN or infinite gradient makes gradNorm NaN (README, non-finite values)
}

void finalize_out(const double *part, int nth, int stride, int steps, const double *clipNorm, int N, double *out) {
  double loss = 0, sq = 0;
  for (int i = 0; i < nth; i++) { loss += part[i * stride]; sq += part[i * stride + 1]; }
  for (int t = 0; t < steps; t++) {
    double n = 0;
    for (int i = 0; i < nth; i++) n += part[i * stride + 2 + t];
    out[4 + t] = __builtin_sqrt(n);
  }
  double clip = clipNorm ? *clipNorm : 0;
  double norm = __builtin_sqrt(sq);
  if (norm > 3.4028234663852886e38) norm = __builtin_inf();  // finite gradients whose norm is beyond float32
  out[0] = loss / N;
  out[1] = norm;
  out[3] = finite(norm) ? 0 : 1;
  out[2] = clip > 0 && finite(norm) && norm > clip ? clip / norm : 0;
}

void clip_and_update(float *p, float *g, float *m, float *v, int e0, int e1, const double *out, int opt, const int32_t *k) {
  // the clip scale in float64, element by element: clipNorm / norm can be far below float32's range
  double scale = out[2];
  if (scale != 0) for (int e = e0; e < e1; e++) g[e] = (float)((double)g[e] * scale);
  if (out[3] != 0 || opt == 0) return;
  union { int32_t i; float f; } u[OPT_CONSTS];
  for (int i = 0; i < OPT_CONSTS; i++) u[i].i = k[i];
  float lr = u[0].f;
  if (opt == 1) {
    for (int e = e0; e < e1; e++) p[e] -= lr * g[e];
    return;
  }
  // In double, with 1 - beta from the host (betas near 1 are legal), and v kept as its square
  // root r (stored as a float, it has the size of g): g^2 leaves float32's range below |g| of
  // about 1e-19 (subnormal, then 0) and above 1.8e19, and with a small epsilon the update was
  // lr * g / epsilon. As the WebGPU trainer's Adam does.
  double omb1 = u[6].f, omb2 = u[7].f, b1 = 1.0 - omb1, b2 = 1.0 - omb2;
  double eps = u[3].f, c1 = u[4].f, rootC2 = __builtin_sqrt((double)u[5].f);
  for (int e = e0; e < e1; e++) {
    double ge = g[e], r = v[e];
    double mi = b1 * m[e] + omb1 * ge;
    double ri = __builtin_sqrt(b2 * r * r + omb2 * ge * ge);
    m[e] = (float)mi;
    v[e] = (float)ri;
    p[e] = (float)(p[e] - (lr * (mi / c1)) / (ri / rootC2 + eps));
  }
}

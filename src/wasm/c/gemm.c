// Blocked matrix product with a fused epilogue, the one product of every phase:
//   C[m, n] = act(init[m, n] + bias[n] + sum_k A(m, k) B[k, n])
// A(m, k) = A[m*sam + k*sak] covers A (NN) and A^T (TN) without copies; B is
// always read along its rows, so every product vectorizes over n (f32x4).
// Register tile: 4 rows x 8 columns (8 f32x4 accumulators, 2 loads of B and
// 4 splats of A per k: 11 of the 16 SIMD registers of x86-64). Columns run in
// the outer loop, so the K x 8 panel of B stays in L1 across the row tiles.
// Every element is summed over k in order 0..K-1 with a separate multiply and
// add, whichever tile or thread computes it: results do not depend on the
// number of threads.
#include "bptt.h"

static inline v128_t epi(v128_t acc, const float *init, const float *bias, int n, int act) {
  if (init) acc = wasm_f32x4_add(wasm_v128_load(init), acc);
  if (bias) acc = wasm_f32x4_add(wasm_v128_load(bias + n), acc);
  if (act == 1) return v_tanh(acc);
  // relu(NaN) = 0, as on every engine (README, non-finite values): a compare, not f32x4.max, which keeps NaN
  if (act == 2) return wasm_v128_and(acc, wasm_f32x4_gt(acc, wasm_f32x4_splat(0.0f)));
  return acc;
}

static inline float epi1(float acc, const float *init, const float *bias, int n, int act) {
  if (init) acc = *init + acc;
  if (bias) acc = bias[n] + acc;
  if (act == 1) return s_tanh(acc);
  if (act == 2) return acc > 0.0f ? acc : 0.0f;
  return acc;
}

#define INIT(m, n) (init ? init + (m) * ldi + (n) : 0)

// rows m..m+3, columns n..n+7
static void k4x8(int m, int n, int K, const float *A, int sam, int sak, const float *B, int ldb, float *C, int ldc,
                 const float *init, int ldi, const float *bias, int act) {
  v128_t c00 = wasm_f32x4_splat(0), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
  const float *a = A + m * sam;
  const float *b = B + n;
  for (int k = 0; k < K; k++, a += sak, b += ldb) {
    v128_t b0 = wasm_v128_load(b), b1 = wasm_v128_load(b + 4);
    v128_t a0 = wasm_v128_load32_splat(a);
    c00 = wasm_f32x4_add(c00, wasm_f32x4_mul(a0, b0));
    c01 = wasm_f32x4_add(c01, wasm_f32x4_mul(a0, b1));
    v128_t a1 = wasm_v128_load32_splat(a + sam);
    c10 = wasm_f32x4_add(c10, wasm_f32x4_mul(a1, b0));
    c11 = wasm_f32x4_add(c11, wasm_f32x4_mul(a1, b1));
    v128_t a2 = wasm_v128_load32_splat(a + 2 * sam);
    c20 = wasm_f32x4_add(c20, wasm_f32x4_mul(a2, b0));
    c21 = wasm_f32x4_add(c21, wasm_f32x4_mul(a2, b1));
    v128_t a3 = wasm_v128_load32_splat(a + 3 * sam);
    c30 = wasm_f32x4_add(c30, wasm_f32x4_mul(a3, b0));
    c31 = wasm_f32x4_add(c31, wasm_f32x4_mul(a3, b1));
  }
  float *c = C + m * ldc + n;
  wasm_v128_store(c, epi(c00, INIT(m, n), bias, n, act));
  wasm_v128_store(c + 4, epi(c01, INIT(m, n + 4), bias, n + 4, act));
  c += ldc;
  wasm_v128_store(c, epi(c10, INIT(m + 1, n), bias, n, act));
  wasm_v128_store(c + 4, epi(c11, INIT(m + 1, n + 4), bias, n + 4, act));
  c += ldc;
  wasm_v128_store(c, epi(c20, INIT(m + 2, n), bias, n, act));
  wasm_v128_store(c + 4, epi(c21, INIT(m + 2, n + 4), bias, n + 4, act));
  c += ldc;
  wasm_v128_store(c, epi(c30, INIT(m + 3, n), bias, n, act));
  wasm_v128_store(c + 4, epi(c31, INIT(m + 3, n + 4), bias, n + 4, act));
}

// one row m, columns n..n+7
static void k1x8(int m, int n, int K, const float *A, int sam, int sak, const float *B, int ldb, float *C, int ldc,
                 const float *init, int ldi, const float *bias, int act) {
  v128_t c0 = wasm_f32x4_splat(0), c1 = c0;
  const float *a = A + m * sam;
  const float *b = B + n;
  for (int k = 0; k < K; k++, a += sak, b += ldb) {
    v128_t a0 = wasm_v128_load32_splat(a);
    c0 = wasm_f32x4_add(c0, wasm_f32x4_mul(a0, wasm_v128_load(b)));
    c1 = wasm_f32x4_add(c1, wasm_f32x4_mul(a0, wasm_v128_load(b + 4)));
  }
  float *c = C + m * ldc + n;
  wasm_v128_store(c, epi(c0, INIT(m, n), bias, n, act));
  wasm_v128_store(c + 4, epi(c1, INIT(m, n + 4), bias, n + 4, act));
}

// one row m, columns n..n+3
static void k1x4(int m, int n, int K, const float *A, int sam, int sak, const float *B, int ldb, float *C, int ldc,
                 const float *init, int ldi, const float *bias, int act) {
  v128_t c0 = wasm_f32x4_splat(0);
  const float *a = A + m * sam;
  const float *b = B + n;
  for (int k = 0; k < K; k++, a += sak, b += ldb) c0 = wasm_f32x4_add(c0, wasm_f32x4_mul(wasm_v128_load32_splat(a), wasm_v128_load(b)));
  wasm_v128_store(C + m * ldc + n, epi(c0, INIT(m, n), bias, n, act));
}

// one element
static void k1x1(int m, int n, int K, const float *A, int sam, int sak, const float *B, int ldb, float *C, int ldc,
                 const float *init, int ldi, const float *bias, int act) {
  float acc = 0;
  const float *a = A + m * sam;
  const float *b = B + n;
  for (int k = 0; k < K; k++, a += sak, b += ldb) acc += *a * *b;
  C[m * ldc + n] = epi1(acc, INIT(m, n), bias, n, act);
}

static void mm_block(int m0, int m1, int n0, int n1, int K, const float *A, int sam, int sak, const float *B, int ldb, float *C,
                     int ldc, const float *init, int ldi, const float *bias, int act) {
  int n = n0;
  for (; n + 8 <= n1; n += 8) {
    int m = m0;
    for (; m + 4 <= m1; m += 4) k4x8(m, n, K, A, sam, sak, B, ldb, C, ldc, init, ldi, bias, act);
    for (; m < m1; m++) k1x8(m, n, K, A, sam, sak, B, ldb, C, ldc, init, ldi, bias, act);
  }
  for (; n + 4 <= n1; n += 4)
    for (int m = m0; m < m1; m++) k1x4(m, n, K, A, sam, sak, B, ldb, C, ldc, init, ldi, bias, act);
  for (; n < n1; n++)
    for (int m = m0; m < m1; m++) k1x1(m, n, K, A, sam, sak, B, ldb, C, ldc, init, ldi, bias, act);
}

// K in blocks of KC rows of B (and columns of A): a product over all T*B rows (the weight gradients, K up to
// tens of thousands) then reads each block of A and B from L1/L2 once per tile instead of streaming both whole
// matrices from memory for every tile. The first block takes init and bias, the later ones add to C, the last
// applies the activation: still one fixed order of summation per element, whichever thread computes it.
#define KC 256

void mm(int m0, int m1, int n0, int n1, int K, const float *A, int sam, int sak, const float *B, int ldb, float *C, int ldc,
        const float *init, int ldi, const float *bias, int act) {
  if (m0 >= m1 || n0 >= n1) return;
  for (int k0 = 0; k0 < K || k0 == 0; k0 += KC) {
    int kc = K - k0 < KC ? K - k0 : KC;
    int first = k0 == 0, last = k0 + KC >= K;
    mm_block(m0, m1, n0, n1, kc, A + k0 * sak, sam, sak, B + k0 * ldb, ldb, C, ldc, first ? init : C, first ? ldi : ldc,
             first ? bias : 0, last ? act : 0);
  }
}

static void split(int tid, int nth, int blocks, int unit, int total, int *lo, int *hi) {
  int b0 = (int)((int64_t)blocks * tid / nth), b1 = (int)((int64_t)blocks * (tid + 1) / nth);
  *lo = b0 * unit < total ? b0 * unit : total;
  *hi = b1 * unit < total ? b1 * unit : total;
}

void part(int tid, int nth, int M, int N, int mode, int *m0, int *m1, int *n0, int *n1) {
  int mb = (M + 3) / 4, nb = (N + 7) / 8;
  if (mode == 0) mode = mb >= nb ? 1 : 2;
  *m0 = 0; *m1 = M; *n0 = 0; *n1 = N;
  if (mode == 1) split(tid, nth, mb, 4, M, m0, m1);
  else split(tid, nth, nb, 8, N, n0, n1);
}

void part_range(int tid, int nth, int n, int *e0, int *e1) { split(tid, nth, (n + 3) / 4, 4, n, e0, e1); }

void transpose(const float *in, float *out, int M, int N, int m0, int m1) {
  for (int m = m0; m < m1; m++)
    for (int n = 0; n < N; n++) out[n * M + m] = in[m * N + n];
}

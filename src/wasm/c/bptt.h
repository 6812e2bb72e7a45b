// Shared declarations of the WebAssembly kernels (float32, 128-bit SIMD).
//
// The host (src/wasm/) writes one context block of 32-bit slots into linear
// memory (enum SeqSlot in seq.h) and every thread calls seq_run(ctx, tid, nth)
// on it; the phases of the call are separated by barriers (barrier.c).
#pragma once
#include <stdint.h>
#include <wasm_simd128.h>

#define PTR(c, i, type) ((type *)(uintptr_t)(c)->s[i])

// The host's clock in milliseconds (performance.now), for the phase profile.
__attribute__((import_module("env"), import_name("now"))) double host_now(void);

// barrier.c
void barrier(volatile int32_t *bar, int nth, int may_wait);

// math.c: float32 elementary functions, SIMD and scalar
v128_t v_exp(v128_t x);
v128_t v_tanh(v128_t x);
float s_exp(float x);
float s_tanh(float x);
float s_log(float x);

// gemm.c: C[m, n] = act(init[m, n] + bias[n] + sum_k A(m, k) B[k, n]) over the rectangle m0..m1 x n0..n1,
// A(m, k) = A[m * sam + k * sak] (sam = lda, sak = 1 for A; sam = 1, sak = lda for A^T).
// init and bias may be 0 (absent); act as Q_ACT (seq.h): 0 identity, 1 tanh, 2 relu.
void mm(int m0, int m1, int n0, int n1, int K, const float *A, int sam, int sak, const float *B, int ldb, float *C, int ldc,
        const float *init, int ldi, const float *bias, int act);
// The rectangle of an M x N output that thread tid computes: mode 0 splits the longer side, 1 rows, 2 columns.
// Rows split in blocks of 4 and columns in blocks of 8 (the register tile), so a thread's share never splits a tile.
void part(int tid, int nth, int M, int N, int mode, int *m0, int *m1, int *n0, int *n1);
// The share [e0, e1) of n elements that thread tid takes, in multiples of 4 (one f32x4).
void part_range(int tid, int nth, int n, int *e0, int *e1);
// out[N, M] = in[M, N]^T for rows m0..m1 of in.
void transpose(const float *in, float *out, int M, int N, int m0, int m1);

// common.c: the parts of a call outside the layers (seq.c).
// The loss of each row r0..r1 of O [R, q] into rowloss[r] and dO into D (D = O: in place); kind 0 cross-entropy
// (labels: i32 class ids [R]), 1 mse (labels: f32 targets [R, q]); rows past len[b] (len may be 0) are padding (loss 0).
void loss_rows(int r0, int r1, const float *O, float *D, int q, int B, int T, const int32_t *len, int N, int kind, const void *labels, double *rowloss);
// out[j] = sum over r = 0..R-1, in order, of g[r * ld + j], for j in e0..e1 (a bias gradient): the sums are kept in
// registers and written once, so threads whose columns share a cache line do not pass it back and forth every row.
void col_sums(const float *g, int ld, int R, int e0, int e1, float *out);
// v[0] + ... + v[n-1] in one fixed order, whoever calls it: four running sums (element i into sum i mod 4, so the
// additions do not wait on each other), then (s0 + s1) + (s2 + s3).
double sum_in_order(const double *v, int n);
// Sum of squares of g[e0..e1) in double; NaN when any element is not finite.
double grad_sumsq(const float *g, int e0, int e1);
// Thread 0 after the last barrier: part [nth][stride] holds per thread loss, sum of squares, then `steps` squared
// step norms; out [4 + steps] gets loss / N, gradNorm, clip scale (0: not clipped), nonFinite, the step norms.
void finalize_out(const double *part, int nth, int stride, int steps, const double *clipNorm, int N, double *out);
// Clipping of g[e0..e1) by out[2], then (unless out[3] says non-finite, or opt is 0) the update of p: opt 1 SGD,
// 2 Adam with moments m, v; k: the OPT_CONSTS f32 slots lr, b1, b2, eps, c1, c2, 1 - b1, 1 - b2, in that order.
#define OPT_CONSTS 8
void clip_and_update(float *p, float *g, float *m, float *v, int e0, int e1, const double *out, int opt, const int32_t *k);

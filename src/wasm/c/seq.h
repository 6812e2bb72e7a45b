// The context block of seq_run (seq.c), a SequenceModel call: one 32-bit slot
// per name, in the order src/wasm/context.ts lists as SEQ_SLOTS (a test reads
// both files and compares them). Q_* are sizes, flags or f32 constants, QP_*
// byte offsets into linear memory (0 = absent). K = L*dirs layer-directions,
// w = dirs*h, R = T*B, Gh = G*h; layouts as the CPU reference's
// (src/cpu/sequence/kernels.ts), per layer-direction k where it says [K, ...].
#pragma once
#include "bptt.h"

enum SeqSlot {
  Q_T, Q_B, Q_D, Q_H, Q_Q, Q_L, Q_DIRS,
  Q_CELL,       // 0 rnn, 1 gru, 2 lstm
  Q_ACT,        // rnn: 0 identity, 1 tanh, 2 relu
  Q_TOKENS,     // x holds token ids [T, B]
  Q_HEAD,       // a head W [q, w] (where it lies, and whether it has b, are in QP_LAYOUT)
  Q_CHAPTER,    // the rnn recipe runs the chapter's own steps (seq_chapter.c): the host's runsChapterKernels
  Q_LOSS,       // 0 cross-entropy, 1 mse, 2 none
  Q_WINDOW,     // 0: xi-based truncation, else window(tau) with tau = Q_WINDOW (one direction)
  Q_DX,         // also compute dx
  Q_N,          // valid (t, b) positions
  Q_FORWARD,    // a forward-only call: stop after the outputs and the loss
  Q_FORWARD_O,  // ... and compute O
  Q_OPT,        // 0 no update, 1 sgd, 2 adam
  Q_LR, Q_B1, Q_B2, Q_EPS, Q_C1, Q_C2, Q_OMB1, Q_OMB2,  // f32 bits: optimizer constants, c1 = 1 - b1^k, c2 = 1 - b2^k, then 1 - b1, 1 - b2 from the host in
                // double (for b near 1, 1 - b in f32 keeps few digits); common.c reads them in this order
  QP_LAYOUT,    // i32 [4K + 3]: where each tensor of QP_PARAMS lies, in floats: per k Wx, Wh, bx, bh (-1: absent), then
                // head W, head b (-1: absent), the total; a SequenceModel's layout (src/sequence-params.ts) or an RnnModel's
                // [Whx | Whh | Wqh | bh | bq] (src/params.ts sequenceLayoutOfRnn), so a trainer keeps either as it is
  QP_PARAMS,    // the flat parameters, laid out as QP_LAYOUT says
  QP_GRADS,     // the same layout
  QP_M, QP_V,   // Adam moments
  QP_X,         // [T, B, d] values (padded rows zero) or i32 [T, B] ids
  QP_LABELS,    // i32 [T, B] class ids or f32 [T, B, q] targets
  QP_DOIN,      // [T, B, q] the caller's dO (loss 'none' with a head), padded rows zero
  QP_H0, QP_C0, QP_DHT, QP_DCT,  // [K, B, h] (0: zeros)
  QP_XI,        // [T]
  QP_LEN,       // i32 [B] (0: every sequence has T steps)
  QP_WXT,       // per k Wx^T [n_in, Gh] (k < dirs: n_in = d, else w), packed
  QP_WHT,       // [K, h, Gh]
  QP_WT,        // head W^T [w, q]
  QP_GX,        // [dirs, R, Gh] input projection of the current layer
  QP_YS,        // [L, R, w] every layer's output
  QP_HP,        // [K, R, h] the previous state each step read (h0 at a direction's first step, zero at padding);
                // under Q_CHAPTER [T+1, B, h], H_0 = h0, with QP_YS pointing at H_1: each step's output is the next one's state
  QP_S,         // [K, R, 4h] saved gates (gru: r, z, n, gh_n; lstm: i, f, g, o)
  QP_C,         // [K, R, h] lstm cell states
  QP_GH,        // [dirs, B, Gh] recurrent products of one step
  QP_HT, QP_CT, // [K, B, h]
  QP_O,         // [R, q] outputs (dO in place in a gradient call)
  QP_DO,        // [R, q] where a forward call's dO goes (0: in place)
  QP_DY1, QP_DY2,  // [max(tau,1), R, w] the upstream gradient of the current layer and of the one below (by age under
                 // window); without a head the host writes the caller's dY (padded rows zero) into QP_DY1
  QP_DGX, QP_DGH,  // [dirs, R, Gh]; an rnn cell's two are equal: the host points QP_DGH at QP_DGX, written once
  QP_DGXS,      // [tau, R, Gh] window: dGx per age, for the layer below (L > 1)
  QP_CH, QP_CC, // [dirs, B, h] carries into the next step of the sweep
  QP_DIRH, QP_DIRC,  // [max(tau, dirs), B, h] the direct paths to the previous state (gru z dh; lstm dc f)
  QP_CP,        // [dirs, B, h] the product dGh Wh of a step
  QP_SL1, QP_SL2, QP_SLC1, QP_SLC2,  // window slots [tau, B, h] of h and c (ping-pong)
  QP_GHS,       // [tau, B, Gh] window: dGh per age of a step
  QP_DH0, QP_DC0,  // [K, B, h]
  QP_DX,        // [R, d]
  QP_DWXT,      // [d, Gh] token ids: the scatter-add of dWx of layer 0 by rows (contiguous), transposed after
  QP_ROWLOSS,   // f64 [R] the loss of each row (the loss is their sum in row order, whatever the thread count)
  QP_GSQ,       // f64 [ceil(total / GBLK)] the sum of squares of each block of GBLK gradient elements
  QP_NSQ,       // f64 [K*T, B, ceil(h/8)] ||dL/dh_t||^2 of each row and 8-unit block
  QP_PART,      // f64 [2 + K*T] loss, sum of squares, squared step norms, summed from the three above in a fixed order
  QP_CLIP,      // f64 clipNorm (0: none)
  QP_OUT,       // f64 [4 + K*T]: loss, gradNorm, clip scale, nonFinite, ||dL/dh_t|| per k, t
  QP_PROF,      // f64 [9]: thread 0's milliseconds per part of the call (see seq.c)
  QP_BARRIER,   // 3 x i32
  Q_COUNT
};

typedef struct { int32_t s[Q_COUNT]; } SeqCtx;

// What every part of seq_run reads: the call's sizes and shared pointers, and the thread's place.
typedef struct {
  const SeqCtx *c;
  int T, B, d, h, q, L, dirs, cell, act, G, Gh, w, K, R, tokens, tau, lstm, chapter;
  const int32_t *lay;  // QP_LAYOUT
  const int32_t *len;
  const float *xi;
  float *P, *Gr;  // parameters, gradients (flat layout)
  volatile int32_t *bar;
  int tid, nth, wait;
} Seq;

typedef struct { float *Wx, *Wh, *bx, *bh; } Layer;

#define F(slot) PTR(s->c, slot, float)
#define ADD wasm_f32x4_add
#define SUB wasm_f32x4_sub
#define MUL wasm_f32x4_mul

static inline void sync(const Seq *s) { barrier(s->bar, s->nth, s->wait); }
static inline int steps_of(const Seq *s, int b) { return s->len ? s->len[b] : s->T; }
static inline int first_t(int dir, int n) { return dir == 0 ? 1 : n; }  // the step that reads the initial state
static inline int last_t(int dir, int n) { return dir == 0 ? n : 1; }   // the step whose state is hT
static inline int n_in(const Seq *s, int k) { return k < s->dirs ? s->d : s->w; }
// A tensor of the flat layout (parameters or gradients) at a QP_LAYOUT entry; 0 where it is absent.
static inline float *at_of(float *base, int32_t off) { return off >= 0 ? base + off : 0; }

static inline Layer layer_of(const Seq *s, float *base, int k) {
  const int32_t *o = s->lay + 4 * k;
  Layer y = { at_of(base, o[0]), at_of(base, o[1]), at_of(base, o[2]), at_of(base, o[3]) };
  return y;
}

static inline float *wxt_of(const Seq *s, int k) {
  return F(QP_WXT) + (k < s->dirs ? k * s->d : s->dirs * s->d + (k - s->dirs) * s->w) * s->Gh;
}

// 4 lanes from p, or the first n (< 4) of them and zeros
static inline v128_t ld(const float *p, int n) {
  if (n >= 4) return wasm_v128_load(p);
  float t[4] = {0, 0, 0, 0};
  for (int i = 0; i < n; i++) t[i] = p[i];
  return wasm_v128_load(t);
}
static inline void st(float *p, v128_t v, int n) {
  if (n >= 4) {
    wasm_v128_store(p, v);
    return;
  }
  float t[4];
  wasm_v128_store(t, v);
  for (int i = 0; i < n; i++) p[i] = t[i];
}
static inline v128_t splat(float x) { return wasm_f32x4_splat(x); }
// sigma(x) = 1 / (1 + e^-x) as float32 computes it: NaN stays NaN (v_exp keeps it), +Inf gives 1, and below
// -88.7 (where e^-x overflows float32) exactly 0. v_exp clamps its argument there, which would leave 3e-39: a
// saturated gate's sigma' must be 0, as in the reference and on WebGPU, or a huge operand behind it (an h0 of
// 1e18, an infinite weight) turns 3e-39 into a gradient of its own size, or Inf where 0 * Inf is NaN.
static inline v128_t v_sig(v128_t x) {
  v128_t s = wasm_f32x4_div(splat(1.0f), ADD(splat(1.0f), v_exp(wasm_f32x4_neg(x))));
  return wasm_v128_andnot(s, wasm_f32x4_lt(x, splat(-88.72283935546875f)));
}
// phi'(a) of an rnn cell written through h = phi(a): tanh 1 - h^2, relu [h > 0], identity 1
static inline v128_t v_dphi(v128_t y, int act) {
  v128_t one = splat(1.0f);
  return act == 1 ? SUB(one, MUL(y, y)) : act == 2 ? wasm_v128_and(one, wasm_f32x4_gt(y, splat(0.0f))) : one;
}
// (a^2 + c^2) + (b^2 + d^2) of the lanes a, b, c, d, in double, two lanes at a time
static inline double sumsq(v128_t v) {
  v128_t lo = wasm_f64x2_promote_low_f32x4(v), hi = wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(v, v, 2, 3, 2, 3));
  v128_t sq = wasm_f64x2_add(wasm_f64x2_mul(lo, lo), wasm_f64x2_mul(hi, hi));
  return wasm_f64x2_extract_lane(sq, 0) + wasm_f64x2_extract_lane(sq, 1);
}
static inline void zero(float *p, int n) { for (int i = 0; i < n; i++) p[i] = 0.0f; }

// The cell state before step t of direction dir (lstm): c0 (or zeros) at the first step, else C at the previous one.
static inline const float *prev_cell(const Seq *s, int k, int dir, int t, int n, int b) {
  if (t == first_t(dir, n)) {
    const float *c0 = F(QP_C0);
    return c0 ? c0 + (k * s->B + b) * s->h : 0;
  }
  int tp = dir == 0 ? t - 1 : t + 1;
  return F(QP_C) + k * s->R * s->h + ((tp - 1) * s->B + b) * s->h;
}

// seq_chapter.c: the rnn recipe's own steps where Q_CHAPTER says so (the chapter's, as rnn.c ran them for an RnnModel):
// the forward step on H [T+1, B, h], and the reverse sweeps of full/chunked/randomized and window(tau) truncation
// from dY into dA = QP_DGX (which is dGh too: QP_DGH points there for an rnn cell).
void chapter_forward_step(const Seq *s, int t, int b0, int b1, int j0, int j1);
void chapter_sweep_xi(const Seq *s, const float *dY);
void chapter_sweep_window(const Seq *s, const float *dY);
// seq_step.c: phase 2, forward step `step` (1..T) of layer l, both directions, on this thread's rectangle.
void seq_forward_step(const Seq *s, int l, int step, int b0, int b1, int j0, int j1);
// seq_sweep.c: phase 5, the reverse sweep of layer l from its upstream gradient dY, the squared step norms into
// QP_NSQ per row and 8-unit block (so that their sums do not depend on the thread count).
void seq_sweep_xi(const Seq *s, int l, const float *dY);
void seq_sweep_window(const Seq *s, int l, const float *dY);
// Gradient elements per partial sum of squares (QP_GSQ).
#define GBLK 1024
// The squared norm partials of (k, t) and row b: ceil(h/8) of them, one per block of 8 units.
static inline double *nsq_of(const Seq *s, int k, int t, int b) {
  int hb = (s->h + 7) / 8;
  return PTR(s->c, QP_NSQ, double) + (((k * s->T + t - 1) * s->B + b) * hb);
}
// Adds the squares of lanes j..j+3 of v to the partial of their 8-unit block (the first of its two chunks sets it).
static inline void nsq_add(double *row, int j, v128_t v) {
  double q = sumsq(v);
  if ((j & 7) == 0) row[j >> 3] = q;
  else row[j >> 3] += q;
}
// Zeroes the partials of units j0..j1 (whole 8-unit blocks) of a row: padding.
static inline void nsq_zero(double *row, int j0, int j1) {
  for (int jb = j0 >> 3; jb < (j1 + 7) >> 3; jb++) row[jb] = 0;
}

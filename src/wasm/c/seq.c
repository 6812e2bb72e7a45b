// One gradient call (or trainer step, or forward-only call) of a SequenceModel,
// MATH.md part 2, in float32 on nth threads: seq_run(ctx, tid, nth) runs on
// every thread, each computing its share of each phase; barriers separate the
// phases. The plan is the CPU reference's (src/cpu/sequence/, one function per
// step), shaped for a CPU:
//   0  transposes Wx^T, Wh^T, W^T (every product reads its B operand along rows); the previous-state
//      table HP gets h0 at each direction's first step and zeros at padding
//   per layer l, bottom up:
//   1  Gx_k = X_l Wx_k^T + bx_k over all T*B rows, all gates at once (a row gather of Wx^T for token ids)
//   2  per step s, both directions (t = s forward, T+1-s reverse): gh = HP_t Wh^T + bh as one blocked
//      product per gate block over the batch rows, then the cell's gates and state update fused after
//      it; h_t into Y_l and into HP of the direction's next step, c_t into C, the gates into S, hT/cT
//   3  O = Y_top W^T + b, the loss and dO in place (each thread owns whole rows)
//   4  dY_top = dO W, head dW = dO^T Y_top, db
//   per layer l, top down:
//   5  reverse sweep, per step both directions: dh = dY + carry (+ dhT), the cell's backward into dGx,
//      dGh; then the carry dh_prev = xi (dGh Wh + direct) as one product (window(tau): tau slots)
//   6  dY_{l-1} = sum over dir of dGx_k Wx_k (per age under window) or dx; dWx = dGx^T X (a scatter-add
//      for token ids), dWh = dGh^T HP, dbx, dbh
//   7  global norm, per-step norms, clipping, the optimizer update of a trainer step (common.c)
// Each thread owns a rectangle (batch rows x hidden units, all gates of its units) in phases 2 and 5,
// so the fused cell math needs no barrier after its product; one barrier per step and layer.
// Every product sums each element in one fixed order (gemm.c), so results do not depend on the
// number of threads.
#include "seq.h"

typedef struct {
  const SeqCtx *c;
  int T, B, d, h, q, L, dirs, cell, act, G, Gh, w, K, R, tokens, bias, tau, lstm;
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
static inline int layer_size(const Seq *s, int k) { return s->Gh * (n_in(s, k) + s->h) + (s->bias ? 2 * s->Gh : 0); }
static inline int layer_off(const Seq *s, int k) {
  return k < s->dirs ? k * layer_size(s, 0) : s->dirs * layer_size(s, 0) + (k - s->dirs) * layer_size(s, s->dirs);
}

static Layer layer_of(const Seq *s, float *base, int k) {
  Layer y;
  y.Wx = base + layer_off(s, k);
  y.Wh = y.Wx + s->Gh * n_in(s, k);
  y.bx = s->bias ? y.Wh + s->Gh * s->h : 0;
  y.bh = s->bias ? y.bx + s->Gh : 0;
  return y;
}

static float *wxt_of(const Seq *s, int k) {
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
static inline double sumsq(v128_t v) {
  double a = wasm_f32x4_extract_lane(v, 0), b = wasm_f32x4_extract_lane(v, 1), c = wasm_f32x4_extract_lane(v, 2), d = wasm_f32x4_extract_lane(v, 3);
  return a * a + b * b + c * c + d * d;
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

// Phase 2: forward step `step` of layer l, both directions, on rows b0..b1 and units j0..j1.
static void forward_step(const Seq *s, int l, int step, int b0, int b1, int j0, int j1) {
  int B = s->B, h = s->h, Gh = s->Gh, w = s->w, T = s->T, R = s->R;
  for (int dir = 0; dir < s->dirs; dir++) {
    int k = l * s->dirs + dir, t = dir == 0 ? step : T + 1 - step;
    Layer P = layer_of(s, s->P, k);
    const float *WhT = F(QP_WHT) + k * h * Gh;
    float *HP = F(QP_HP) + k * R * h, *HPt = HP + (t - 1) * B * h;
    float *Gx = F(QP_GX) + dir * R * Gh + (t - 1) * B * Gh;
    float *Y = F(QP_YS) + l * R * w + (t - 1) * B * w + dir * h;
    float *GH = F(QP_GH) + dir * B * Gh;
    // rnn: h = phi(gx + bh + h_prev Wh^T), the activation fused into the product's epilogue
    if (s->cell == 0) mm(b0, b1, j0, j1, h, HPt, h, 1, WhT, Gh, Y, w, Gx, Gh, P.bh, s->act);
    else for (int g = 0; g < s->G; g++) mm(b0, b1, g * h + j0, g * h + j1, h, HPt, h, 1, WhT, Gh, GH, Gh, 0, 0, P.bh, 0);
    for (int b = b0; b < b1; b++) {
      int n = steps_of(s, b);
      float *y = Y + b * w;
      int row = (t - 1) * B + b;
      float *S = s->cell ? F(QP_S) + (k * R + row) * 4 * h : 0;
      float *C = s->lstm ? F(QP_C) + (k * R + row) * h : 0;
      if (t > n) {  // padding: zero output, nothing saved
        zero(y + j0, j1 - j0);
        if (S) for (int g = 0; g < 4; g++) zero(S + g * h + j0, j1 - j0);
        if (C) zero(C + j0, j1 - j0);
        continue;
      }
      const float *gx = Gx + b * Gh, *gh = GH + b * Gh, *hp = HPt + b * h;
      if (s->cell == 1) {
        for (int j = j0; j < j1; j += 4) {
          int m = j1 - j;
          v128_t r = v_sig(ADD(ld(gx + j, m), ld(gh + j, m)));
          v128_t z = v_sig(ADD(ld(gx + h + j, m), ld(gh + h + j, m)));
          v128_t ghn = ld(gh + 2 * h + j, m);
          v128_t nn = v_tanh(ADD(ld(gx + 2 * h + j, m), MUL(r, ghn)));
          st(y + j, ADD(MUL(SUB(splat(1.0f), z), nn), MUL(z, ld(hp + j, m))), m);
          st(S + j, r, m);
          st(S + h + j, z, m);
          st(S + 2 * h + j, nn, m);
          st(S + 3 * h + j, ghn, m);
        }
      } else if (s->lstm) {
        const float *cp = prev_cell(s, k, dir, t, n, b);
        for (int j = j0; j < j1; j += 4) {
          int m = j1 - j;
          v128_t i = v_sig(ADD(ld(gx + j, m), ld(gh + j, m)));
          v128_t f = v_sig(ADD(ld(gx + h + j, m), ld(gh + h + j, m)));
          v128_t g = v_tanh(ADD(ld(gx + 2 * h + j, m), ld(gh + 2 * h + j, m)));
          v128_t o = v_sig(ADD(ld(gx + 3 * h + j, m), ld(gh + 3 * h + j, m)));
          v128_t c = ADD(MUL(f, cp ? ld(cp + j, m) : splat(0.0f)), MUL(i, g));
          st(C + j, c, m);
          st(y + j, MUL(o, v_tanh(c)), m);
          st(S + j, i, m);
          st(S + h + j, f, m);
          st(S + 2 * h + j, g, m);
          st(S + 3 * h + j, o, m);
        }
      }
      // the state the direction's next step reads (the reverse one's next step is t - 1 < n_b: never its first)
      int tn = dir == 0 ? t + 1 : t - 1;
      if (tn >= 1 && tn <= n) for (int j = j0; j < j1; j++) HP[(tn - 1) * B * h + b * h + j] = y[j];
      if (t == last_t(dir, n)) {
        float *hT = F(QP_HT) + (k * B + b) * h;
        for (int j = j0; j < j1; j++) hT[j] = y[j];
        if (C) {
          float *cT = F(QP_CT) + (k * B + b) * h;
          for (int j = j0; j < j1; j++) cT[j] = C[j];
        }
      }
    }
  }
}

typedef struct { v128_t gx[4], gh[4], dirh, dirc; } CellGrad;

// The cell's backward at (k, t, b), lanes j..j+3: from dh (and dc, lstm) on h_t (c_t) to the gate gradients
// on the gx side and the gh side (equal but for the GRU's n block, dGh_n = dGx_n r), and the direct paths to
// the previous state (gru: z dh; lstm: dc_total f). As cellBackward in src/cpu/sequence/cell.ts.
static inline void cell_backward(const Seq *s, int k, int dir, int t, int n, int b, int j, int m, v128_t dh, v128_t dc, CellGrad *o) {
  int h = s->h, B = s->B, R = s->R, row = (t - 1) * B + b;
  v128_t one = splat(1.0f);
  if (s->cell == 0) {
    v128_t y = ld(F(QP_YS) + (k / s->dirs) * R * s->w + row * s->w + (k % s->dirs) * h + j, m);
    v128_t g = s->act == 1 ? SUB(one, MUL(y, y)) : s->act == 2 ? wasm_v128_and(one, wasm_f32x4_gt(y, splat(0.0f))) : one;
    o->gx[0] = o->gh[0] = MUL(dh, g);
    o->dirh = o->dirc = splat(0.0f);
    return;
  }
  const float *S = F(QP_S) + (k * R + row) * 4 * h;
  if (s->cell == 1) {
    v128_t r = ld(S + j, m), z = ld(S + h + j, m), nn = ld(S + 2 * h + j, m), ghn = ld(S + 3 * h + j, m);
    v128_t hp = ld(F(QP_HP) + (k * R + row) * h + j, m);
    v128_t dan = MUL(MUL(dh, SUB(one, z)), SUB(one, MUL(nn, nn)));
    v128_t dr = MUL(MUL(MUL(dan, ghn), r), SUB(one, r));
    v128_t dz = MUL(MUL(MUL(dh, SUB(hp, nn)), z), SUB(one, z));
    o->gx[0] = o->gh[0] = dr;
    o->gx[1] = o->gh[1] = dz;
    o->gx[2] = dan;
    o->gh[2] = MUL(dan, r);
    o->dirh = MUL(z, dh);
    o->dirc = splat(0.0f);
    return;
  }
  v128_t i = ld(S + j, m), f = ld(S + h + j, m), g = ld(S + 2 * h + j, m), ou = ld(S + 3 * h + j, m);
  v128_t tc = v_tanh(ld(F(QP_C) + (k * R + row) * h + j, m));
  const float *cp = prev_cell(s, k, dir, t, n, b);
  v128_t cpv = cp ? ld(cp + j, m) : splat(0.0f);
  v128_t dct = ADD(dc, MUL(MUL(dh, ou), SUB(one, MUL(tc, tc))));
  o->gx[0] = MUL(MUL(MUL(dct, g), i), SUB(one, i));
  o->gx[1] = MUL(MUL(MUL(dct, cpv), f), SUB(one, f));
  o->gx[2] = MUL(MUL(dct, i), SUB(one, MUL(g, g)));
  o->gx[3] = MUL(MUL(MUL(dh, tc), ou), SUB(one, ou));
  for (int q = 0; q < 4; q++) o->gh[q] = o->gx[q];
  o->dirh = splat(0.0f);
  o->dirc = MUL(dct, f);
}

// Phase 5, full, chunked and randomized truncation: the carry of direction dir out of step t goes to t - 1
// (forward, scaled by xi_t) or t + 1 (reverse, by xi_{t+1}); at a direction's first step to dh0, dc0
// (forward scaled by xi_1, reverse unscaled). A zero factor carries nothing, even from non-finite values.
static void sweep_xi(const Seq *s, int l, const float *dY, double *n2) {
  int T = s->T, B = s->B, h = s->h, Gh = s->Gh, w = s->w, R = s->R, G = s->G;
  int b0, b1, j0, j1;
  part(s->tid, s->nth, B, h, 0, &b0, &b1, &j0, &j1);
  float *CH = F(QP_CH), *CC = F(QP_CC), *DIRH = F(QP_DIRH), *DIRC = F(QP_DIRC), *CP = F(QP_CP);
  const float *dhT = F(QP_DHT), *dcT = F(QP_DCT);
  for (int dir = 0; dir < s->dirs; dir++)
    for (int b = b0; b < b1; b++) {
      zero(CH + (dir * B + b) * h + j0, j1 - j0);
      if (s->lstm) zero(CC + (dir * B + b) * h + j0, j1 - j0);
    }
  for (int step = 1; step <= T; step++) {
    for (int dir = 0; dir < s->dirs; dir++) {
      int k = l * s->dirs + dir, t = dir == 0 ? T + 1 - step : step;
      float *dGx = F(QP_DGX) + dir * R * Gh, *dGh = F(QP_DGH) + dir * R * Gh;
      double ss = 0;
      for (int b = b0; b < b1; b++) {
        int n = steps_of(s, b), row = (t - 1) * B + b, o = (dir * B + b) * h, ko = (k * B + b) * h;
        float *gxr = dGx + row * Gh, *ghr = dGh + row * Gh;
        if (t > n) {
          for (int g = 0; g < G; g++) {
            zero(gxr + g * h + j0, j1 - j0);
            zero(ghr + g * h + j0, j1 - j0);
          }
          continue;
        }
        int last = t == last_t(dir, n);
        for (int j = j0; j < j1; j += 4) {
          int m = j1 - j;
          v128_t dh = ADD(ld(dY + row * w + dir * h + j, m), ld(CH + o + j, m));
          if (last && dhT) dh = ADD(dh, ld(dhT + ko + j, m));
          v128_t dc = splat(0.0f);
          if (s->lstm) {
            dc = ld(CC + o + j, m);
            if (last && dcT) dc = ADD(dc, ld(dcT + ko + j, m));
          }
          ss += sumsq(dh);
          CellGrad cg;
          cell_backward(s, k, dir, t, n, b, j, m, dh, dc, &cg);
          for (int g = 0; g < G; g++) {
            st(gxr + g * h + j, cg.gx[g], m);
            st(ghr + g * h + j, cg.gh[g], m);
          }
          st(DIRH + o + j, cg.dirh, m);
          st(DIRC + o + j, cg.dirc, m);
        }
      }
      n2[k * T + t - 1] += ss;
    }
    sync(s);
    for (int dir = 0; dir < s->dirs; dir++) {
      int k = l * s->dirs + dir, t = dir == 0 ? T + 1 - step : step;
      const float *dGh = F(QP_DGH) + dir * R * Gh + (t - 1) * B * Gh;
      float *cp = CP + dir * B * h;
      Layer P = layer_of(s, s->P, k);
      if (!(dir == 0 && s->xi[t - 1] == 0.0f)) mm(b0, b1, j0, j1, Gh, dGh, Gh, 1, P.Wh, h, cp, h, 0, 0, 0, 0);
      for (int b = b0; b < b1; b++) {
        int n = steps_of(s, b), o = (dir * B + b) * h, ko = (k * B + b) * h;
        if (t > n) continue;
        int first = t == first_t(dir, n);
        float factor = dir == 0 ? s->xi[t - 1] : first ? 1.0f : s->xi[t];
        float *dst = first ? F(QP_DH0) + ko : CH + o;
        float *dstc = s->lstm ? (first ? F(QP_DC0) + ko : CC + o) : 0;
        for (int j = j0; j < j1; j++) {
          dst[j] = factor == 0.0f ? 0.0f : factor * (cp[b * h + j] + DIRH[o + j]);
          if (dstc) dstc[j] = factor == 0.0f ? 0.0f : factor * DIRC[o + j];
        }
      }
    }
  }
}

// Phase 5 for window(tau), one direction: slot a holds the gradient of the loss term a steps later than the
// state it reaches (its age, kept down the stack: dY of a lower layer comes per age). At each
// step every age goes through the cell's backward; ages move up by one into the previous step (the oldest is
// dropped); at t = 1 every age reaches h0, c0. As sequenceWindowBackwardStep in src/cpu/sequence/window.ts.
static void sweep_window(const Seq *s, int l, const float *dY, double *n2) {
  int T = s->T, B = s->B, h = s->h, Gh = s->Gh, R = s->R, G = s->G, tau = s->tau, k = l;
  int b0, b1, j0, j1;
  part(s->tid, s->nth, B, h, 0, &b0, &b1, &j0, &j1);
  float *sin = F(QP_SL1), *sout = F(QP_SL2), *scin = F(QP_SLC1), *scout = F(QP_SLC2);
  float *DIRH = F(QP_DIRH), *DIRC = F(QP_DIRC), *GHS = F(QP_GHS), *DGXS = l > 0 ? F(QP_DGXS) : 0;
  float *dGx = F(QP_DGX), *dGh = F(QP_DGH);
  const float *dhT = F(QP_DHT), *dcT = F(QP_DCT);
  Layer P = layer_of(s, s->P, k);
  for (int a = 0; a < tau; a++)
    for (int b = b0; b < b1; b++) {
      zero(sin + (a * B + b) * h + j0, j1 - j0);
      if (s->lstm) zero(scin + (a * B + b) * h + j0, j1 - j0);
    }
  for (int step = 1; step <= T; step++) {
    int t = T + 1 - step;
    double ss = 0;
    for (int b = b0; b < b1; b++) {
      int n = steps_of(s, b), row = (t - 1) * B + b, ko = (k * B + b) * h;
      float *gxr = dGx + row * Gh, *ghr = dGh + row * Gh;
      if (t > n) {
        for (int g = 0; g < G; g++) {
          zero(gxr + g * h + j0, j1 - j0);
          zero(ghr + g * h + j0, j1 - j0);
          if (DGXS) for (int a = 0; a < tau; a++) zero(DGXS + a * R * Gh + row * Gh + g * h + j0, j1 - j0);
        }
        continue;
      }
      int last = t == n;
      for (int j = j0; j < j1; j += 4) {
        int m = j1 - j;
        v128_t sumH = splat(0.0f), sgx[4], sgh[4];
        for (int g = 0; g < G; g++) sgx[g] = sgh[g] = splat(0.0f);
        for (int a = 0; a < tau; a++) {
          int so = (a * B + b) * h + j;
          v128_t dh = ADD(ld(dY + a * R * h + row * h + j, m), ld(sin + so, m));
          if (a == 0 && last && dhT) dh = ADD(dh, ld(dhT + ko + j, m));
          v128_t dc = splat(0.0f);
          if (s->lstm) {
            dc = ld(scin + so, m);
            if (a == 0 && last && dcT) dc = ADD(dc, ld(dcT + ko + j, m));
          }
          sumH = ADD(sumH, dh);
          CellGrad cg;
          cell_backward(s, k, 0, t, n, b, j, m, dh, dc, &cg);
          for (int g = 0; g < G; g++) {
            sgx[g] = ADD(sgx[g], cg.gx[g]);
            sgh[g] = ADD(sgh[g], cg.gh[g]);
            if (DGXS) st(DGXS + a * R * Gh + row * Gh + g * h + j, cg.gx[g], m);
            if (a < tau - 1) st(GHS + (a * B + b) * Gh + g * h + j, cg.gh[g], m);
          }
          st(DIRH + so, cg.dirh, m);
          st(DIRC + so, cg.dirc, m);
        }
        ss += sumsq(sumH);
        for (int g = 0; g < G; g++) {
          st(gxr + g * h + j, sgx[g], m);
          st(ghr + g * h + j, sgh[g], m);
        }
      }
    }
    n2[k * T + t - 1] += ss;
    sync(s);
    if (t == 1) {
      // every age reaches the initial state: the summed dGh through Wh, plus the direct paths of every age
      float *dh0 = F(QP_DH0) + k * B * h, *dc0 = s->lstm ? F(QP_DC0) + k * B * h : 0;
      mm(b0, b1, j0, j1, Gh, dGh, Gh, 1, P.Wh, h, dh0, h, 0, 0, 0, 0);
      for (int b = b0; b < b1; b++)
        for (int j = j0; j < j1; j++) {
          float sh = 0, sc = 0;
          for (int a = 0; a < tau; a++) {
            sh += DIRH[(a * B + b) * h + j];
            sc += DIRC[(a * B + b) * h + j];
          }
          dh0[b * h + j] += sh;
          if (dc0) dc0[b * h + j] = sc;
        }
      break;
    }
    for (int a = 0; a + 1 < tau; a++) mm(b0, b1, j0, j1, Gh, GHS + a * B * Gh, Gh, 1, P.Wh, h, sout + (a + 1) * B * h, h, 0, 0, 0, 0);
    for (int b = b0; b < b1; b++) {
      int pad = t > steps_of(s, b);
      for (int j = j0; j < j1; j++) {
        sout[b * h + j] = 0.0f;  // age 0 at t - 1 starts from that step's own loss term (in dY)
        if (s->lstm) scout[b * h + j] = 0.0f;
        for (int a = 0; a + 1 < tau; a++) {
          int from = (a * B + b) * h + j, to = from + B * h;
          sout[to] = pad ? 0.0f : sout[to] + DIRH[from];
          if (s->lstm) scout[to] = pad ? 0.0f : DIRC[from];
        }
      }
    }
    float *tmp = sin; sin = sout; sout = tmp;
    tmp = scin; scin = scout; scout = tmp;
  }
}

__attribute__((export_name("seq_run"))) void seq_run(SeqCtx *c, int tid, int nth, int wait) {
  Seq sq, *s = &sq;
  s->c = c;
  s->T = c->s[Q_T]; s->B = c->s[Q_B]; s->d = c->s[Q_D]; s->h = c->s[Q_H]; s->q = c->s[Q_Q]; s->L = c->s[Q_L];
  s->dirs = c->s[Q_DIRS]; s->cell = c->s[Q_CELL]; s->act = c->s[Q_ACT]; s->tokens = c->s[Q_TOKENS]; s->bias = c->s[Q_BIAS];
  s->G = s->cell == 0 ? 1 : s->cell == 1 ? 3 : 4;
  s->lstm = s->cell == 2;
  s->Gh = s->G * s->h; s->w = s->dirs * s->h; s->K = s->L * s->dirs; s->R = s->T * s->B; s->tau = c->s[Q_WINDOW];
  s->len = PTR(c, QP_LEN, int32_t); s->xi = PTR(c, QP_XI, float);
  s->P = PTR(c, QP_PARAMS, float); s->Gr = PTR(c, QP_GRADS, float);
  s->bar = PTR(c, QP_BARRIER, int32_t); s->tid = tid; s->nth = nth; s->wait = wait;
  int T = s->T, B = s->B, d = s->d, h = s->h, q = s->q, L = s->L, dirs = s->dirs, Gh = s->Gh, w = s->w, K = s->K, R = s->R;
  int head = c->s[Q_HEAD], loss = c->s[Q_LOSS], forward = c->s[Q_FORWARD], tau = s->tau;
  int total = layer_off(s, K) + (head ? q * w + (c->s[Q_HEAD_BIAS] ? q : 0) : 0);
  float *W = head ? s->P + layer_off(s, K) : 0, *bq = head && c->s[Q_HEAD_BIAS] ? W + q * w : 0;
  float *dW = head ? s->Gr + layer_off(s, K) : 0, *dbq = bq ? dW + q * w : 0;
  float *Ys = F(QP_YS), *Ytop = Ys + (L - 1) * R * w, *O = F(QP_O);
  int stride = 2 + K * T;
  double *mine = PTR(c, QP_PART, double) + tid * stride;
  double *prof = tid == 0 ? PTR(c, QP_PROF, double) : 0, t_last = 0;
  // milliseconds per part, thread 0: 0 transposes, 1 input projections, 2 forward recurrence, 3 output and loss,
  // 4 dY_top and the head's gradients, 5 reverse sweeps, 6 gradients to the layer below and weight gradients, 7 the rest
#define MARK(i) if (prof) { double now_ = host_now(); prof[i] += now_ - t_last; t_last = now_; }
  if (prof) {
    for (int i = 0; i < 9; i++) prof[i] = 0;
    t_last = host_now();
  }
  int m0, m1, n0, n1, e0, e1;
  for (int i = 0; i < stride; i++) mine[i] = 0;

  // 0
  for (int k = 0; k < K; k++) {
    Layer P = layer_of(s, s->P, k);
    part_range(tid, nth, Gh, &e0, &e1);
    transpose(P.Wx, wxt_of(s, k), Gh, n_in(s, k), e0, e1);
    transpose(P.Wh, F(QP_WHT) + k * h * Gh, Gh, h, e0, e1);
    // the previous state of each direction's first step is h0, and padding rows read zeros
    const float *h0 = F(QP_H0);
    float *HP = F(QP_HP) + k * R * h;
    part_range(tid, nth, B * h, &e0, &e1);
    for (int e = e0; e < e1; e++) {
      int b = e / h, n = steps_of(s, b), first = first_t(k % dirs, n);
      for (int t = 1; t <= T; t++) {
        if (t == first) HP[(t - 1) * B * h + e] = h0 ? h0[k * B * h + e] : 0.0f;
        else if (t > n) HP[(t - 1) * B * h + e] = 0.0f;
      }
    }
  }
  if (head) {
    part_range(tid, nth, q, &e0, &e1);
    transpose(W, F(QP_WT), q, w, e0, e1);
  }
  sync(s);
  MARK(0);

  // 1, 2
  for (int l = 0; l < L; l++) {
    int k0 = l * dirs, nIn = n_in(s, k0);
    const float *X = l == 0 ? F(QP_X) : Ys + (l - 1) * R * w;
    if (l == 0 && s->tokens) {
      const int32_t *x = PTR(c, QP_X, int32_t);
      part(tid, nth, R, Gh, 1, &m0, &m1, &n0, &n1);
      for (int dir = 0; dir < dirs; dir++) {
        const float *WxT = wxt_of(s, dir), *bx = layer_of(s, s->P, dir).bx;
        float *Gx = F(QP_GX) + dir * R * Gh;
        for (int r = m0; r < m1; r++)
          for (int j = 0; j < Gh; j++) Gx[r * Gh + j] = WxT[x[r] * Gh + j] + (bx ? bx[j] : 0.0f);
      }
    } else {
      part(tid, nth, R, Gh, 0, &m0, &m1, &n0, &n1);
      for (int dir = 0; dir < dirs; dir++)
        mm(m0, m1, n0, n1, nIn, X, nIn, 1, wxt_of(s, k0 + dir), Gh, F(QP_GX) + dir * R * Gh, Gh, 0, 0, layer_of(s, s->P, k0 + dir).bx, 0);
    }
    sync(s);
    MARK(1);
    int b0, b1, j0, j1;
    part(tid, nth, B, h, 0, &b0, &b1, &j0, &j1);
    for (int step = 1; step <= T; step++) {
      forward_step(s, l, step, b0, b1, j0, j1);
      sync(s);
    }
    MARK(2);
  }

  // 3
  int withO = head && (loss != 2 || (forward && c->s[Q_FORWARD_O]));
  if (withO) {
    part(tid, nth, R, q, 1, &m0, &m1, &n0, &n1);
    mm(m0, m1, 0, q, w, Ytop, w, 1, F(QP_WT), q, O, q, 0, 0, bq, 0);
    float *D = F(QP_DO) ? F(QP_DO) : O;
    if (loss != 2) mine[0] = loss_rows(m0, m1, O, D, q, B, T, s->len, c->s[Q_N], loss, PTR(c, QP_LABELS, void));
    if (forward)
      for (int r = m0; r < m1; r++)
        if (r / B + 1 > steps_of(s, r % B)) zero(O + r * q, q);
  }
  if (forward) {  // a forward-only call ends here: Y, hT, cT, O and the loss
    sync(s);
    if (tid == 0) {
      double sum = 0;
      for (int i = 0; i < nth; i++) sum += PTR(c, QP_PART, double)[i * stride];
      PTR(c, QP_OUT, double)[0] = sum / c->s[Q_N];
    }
    return;
  }
  sync(s);
  MARK(3);

  // 4
  float *dYcur = F(QP_DY1), *dYnext = F(QP_DY2);
  if (tau > 1) {  // ages >= 1 of the top layer's upstream gradient are zero
    part_range(tid, nth, (tau - 1) * R * w, &e0, &e1);
    zero(dYcur + R * w + e0, e1 - e0);
  }
  if (head) {
    const float *dO = loss != 2 ? O : F(QP_DOIN);
    part(tid, nth, R, w, 0, &m0, &m1, &n0, &n1);
    mm(m0, m1, n0, n1, q, dO, q, 1, W, w, dYcur, w, 0, 0, 0, 0);
    part(tid, nth, q, w, 0, &m0, &m1, &n0, &n1);
    mm(m0, m1, n0, n1, R, dO, 1, q, Ytop, w, dW, w, 0, 0, 0, 0);
    if (dbq) {
      part_range(tid, nth, q, &e0, &e1);
      zero(dbq + e0, e1 - e0);
      for (int r = 0; r < R; r++) for (int j = e0; j < e1; j++) dbq[j] += dO[r * q + j];
    }
  }
  sync(s);
  MARK(4);

  // 5, 6
  for (int l = L - 1; l >= 0; l--) {
    if (tau) sweep_window(s, l, dYcur, mine + 2);
    else sweep_xi(s, l, dYcur, mine + 2);
    sync(s);
    MARK(5);
    int k0 = l * dirs;
    float *dGx = F(QP_DGX), *dGh = F(QP_DGH);
    if (l > 0) {
      if (tau) {
        part(tid, nth, tau * R, w, 0, &m0, &m1, &n0, &n1);
        mm(m0, m1, n0, n1, Gh, F(QP_DGXS), Gh, 1, layer_of(s, s->P, k0).Wx, w, dYnext, w, 0, 0, 0, 0);
      } else {
        part(tid, nth, R, w, 0, &m0, &m1, &n0, &n1);
        for (int dir = 0; dir < dirs; dir++)
          mm(m0, m1, n0, n1, Gh, dGx + dir * R * Gh, Gh, 1, layer_of(s, s->P, k0 + dir).Wx, w, dYnext, w, dir ? dYnext : 0, w, 0, 0);
      }
    } else if (c->s[Q_DX]) {
      float *dx = F(QP_DX);
      part(tid, nth, R, d, 0, &m0, &m1, &n0, &n1);
      for (int dir = 0; dir < dirs; dir++) mm(m0, m1, n0, n1, Gh, dGx + dir * R * Gh, Gh, 1, layer_of(s, s->P, dir).Wx, d, dx, d, dir ? dx : 0, d, 0, 0);
    }
    const float *X = l == 0 ? F(QP_X) : Ys + (l - 1) * R * w;
    int nIn = n_in(s, k0);
    for (int dir = 0; dir < dirs; dir++) {
      int k = k0 + dir;
      Layer Gk = layer_of(s, s->Gr, k);
      const float *gx = dGx + dir * R * Gh, *gh = dGh + dir * R * Gh;
      if (l == 0 && s->tokens) {
        const int32_t *x = PTR(c, QP_X, int32_t);
        part_range(tid, nth, Gh, &e0, &e1);
        zero(Gk.Wx + e0 * d, (e1 - e0) * d);
        for (int r = 0; r < R; r++) {
          float *col = Gk.Wx + x[r];
          for (int i = e0; i < e1; i++) col[i * d] += gx[r * Gh + i];
        }
      } else {
        part(tid, nth, Gh, nIn, 0, &m0, &m1, &n0, &n1);
        mm(m0, m1, n0, n1, R, gx, 1, Gh, X, nIn, Gk.Wx, nIn, 0, 0, 0, 0);
      }
      part(tid, nth, Gh, h, 0, &m0, &m1, &n0, &n1);
      mm(m0, m1, n0, n1, R, gh, 1, Gh, F(QP_HP) + k * R * h, h, Gk.Wh, h, 0, 0, 0, 0);
      if (s->bias) {
        part_range(tid, nth, Gh, &e0, &e1);
        zero(Gk.bx + e0, e1 - e0);
        zero(Gk.bh + e0, e1 - e0);
        for (int r = 0; r < R; r++)
          for (int i = e0; i < e1; i++) {
            Gk.bx[i] += gx[r * Gh + i];
            Gk.bh[i] += gh[r * Gh + i];
          }
      }
    }
    sync(s);
    MARK(6);
    float *tmp = dYcur; dYcur = dYnext; dYnext = tmp;
  }

  // 7
  part_range(tid, nth, total, &e0, &e1);
  mine[1] = grad_sumsq(s->Gr, e0, e1);
  sync(s);
  double *out = PTR(c, QP_OUT, double);
  if (tid == 0) finalize_out(PTR(c, QP_PART, double), nth, stride, K * T, PTR(c, QP_CLIP, double), c->s[Q_N], out);
  sync(s);
  clip_and_update(s->P, s->Gr, PTR(c, QP_M, float), PTR(c, QP_V, float), e0, e1, out, c->s[Q_OPT], &c->s[Q_LR]);
  MARK(7);
}

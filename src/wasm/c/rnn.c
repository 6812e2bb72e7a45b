// One gradient call (or trainer step) of the vanilla RNN, MATH.md part 1,
// in float32 on nth threads: bptt_run(ctx, tid, nth) runs on every thread, each
// computing its share of each phase; barriers separate the phases.
//   1  transposes Whx^T, Whh^T, Wqh^T (so every product reads B along rows); H_0 = h0
//   2  P = X Whx^T + bh over all T*B rows (a row gather of Whx^T for token ids)
//   3  H_t = phi(P_t + H_{t-1} Whh^T), t = 1..T: one blocked product per step, activation fused
//   4  O = H Wqh^T + bq, then the loss and dO in place (each thread owns whole rows)
//   5  G = dO Wqh
//   6  reverse sweep, t = T..1: dH_t = G_t + xi_{t+1} dA_{t+1} Whh (or window(tau)'s slots), dA_t = dH_t phi'(a_t)
//   7  dWhx = dA^T X (a scatter-add for token ids), dWhh = dA^T H_prev, dWqh = dO^T H, dbh, dbq, dx = dA Whx
//   8  global norm, per-step norms, clipping, then the optimizer update when the call is a trainer step
// The CPU reference of each phase is the function of the same role in src/cpu/kernels.ts.
#include "bptt.h"

#define ROWS(...) for (int b = m0; b < m1; b++) for (int j = n0; j < n1; j++) { int e = b * h + j; __VA_ARGS__; }

static inline float dphi(float hv, int act) {  // phi'(a) written through h = phi(a)
  return act == 1 ? 1.0f - hv * hv : act == 2 ? (hv > 0.0f ? 1.0f : 0.0f) : 1.0f;
}

// n_b: the steps of sequence b (packed sequences); steps t > n_b are padding.
static inline int steps_of(const Ctx *c, int b) {
  const int32_t *len = PTR(c, P_LEN, int32_t);
  return len ? len[b] : c->s[S_T];
}

// Full, chunked and randomized truncation: dH_t = G_t + xi_{t+1} dA_{t+1} Whh, the carry of the last step dhT.
static void sweep_xi(const Ctx *c, int tid, int nth, volatile int32_t *bar, int wait, const float *Whh, double *n2) {
  int T = c->s[S_T], B = c->s[S_B], h = c->s[S_H], act = c->s[S_ACT], bh = B * h;
  const float *xi = PTR(c, P_XI, float), *dhT = PTR(c, P_DHT, float);
  float *G = PTR(c, P_G, float), *dA = PTR(c, P_DA, float), *H = PTR(c, P_HS, float), *carry = PTR(c, P_S1, float);
  int m0, m1, n0, n1;
  part(tid, nth, B, h, 0, &m0, &m1, &n0, &n1);
  for (int t = T; t >= 1; t--) {
    const float *Gt = G + (t - 1) * bh, *Ht = H + t * bh;
    float *dAt = dA + (t - 1) * bh;
    float x = t < T ? xi[t] : 0.0f;  // xi_{t+1}
    int carried = x != 0.0f;
    if (carried) mm(m0, m1, n0, n1, h, dA + t * bh, h, 1, Whh, h, carry, h, 0, 0, 0, 0);
    double s = 0;
    for (int b = m0; b < m1; b++) {
      int n = steps_of(c, b);
      for (int j = n0; j < n1; j++) {
        int e = b * h + j;
        if (t > n) {  // padding
          dAt[e] = 0.0f;
          continue;
        }
        // the carry into step t: dhT at the sequence's own end (no xi between n_b and T), else xi_{t+1} dA_{t+1} Whh
        float in = t == n ? (dhT ? dhT[e] : 0.0f) : carried ? x * carry[e] : 0.0f;
        float dh = Gt[e] + in;
        s += (double)dh * dh;
        dAt[e] = dh * dphi(Ht[e], act);
      }
    }
    n2[t - 1] = s;
    barrier(bar, nth, wait);
  }
  float *dh0 = PTR(c, P_DH0, float);
  if (xi[0] != 0.0f) {
    mm(m0, m1, n0, n1, h, dA, h, 1, Whh, h, dh0, h, 0, 0, 0, 0);
    ROWS(dh0[e] *= xi[0]);
  } else {
    ROWS(dh0[e] = 0.0f);
  }
}

// window(tau): slot k holds dA^(k)_{t+1}, the part of dA_{t+1} that came from the loss term k steps later; the
// slots ping-pong between two buffers. Each thread owns columns n0..n1 of every age, so the product of step t
// and the sums over ages need no barrier between them.
static void sweep_window(const Ctx *c, int tid, int nth, volatile int32_t *bar, int wait, const float *Whh, double *n2) {
  int T = c->s[S_T], B = c->s[S_B], h = c->s[S_H], act = c->s[S_ACT], bh = B * h;
  int tau = c->s[S_WINDOW] < T ? c->s[S_WINDOW] : T;
  const float *dhT = PTR(c, P_DHT, float);
  float *G = PTR(c, P_G, float), *dA = PTR(c, P_DA, float), *H = PTR(c, P_HS, float), *next = PTR(c, P_NEXT, float);
  float *sin = PTR(c, P_S1, float), *sout = PTR(c, P_S2, float);
  int m0, m1, n0, n1;
  part(tid, nth, B, h, 2, &m0, &m1, &n0, &n1);
  for (int t = T; t >= 1; t--) {
    const float *Gt = G + (t - 1) * bh, *Ht = H + t * bh;
    float *dAt = dA + (t - 1) * bh;
    if (tau > 1 && t < T) mm(0, (tau - 1) * B, n0, n1, h, sin, h, 1, Whh, h, next + bh, h, 0, 0, 0, 0);
    else for (int k = 1; k < tau; k++) ROWS(next[k * bh + e] = 0.0f);
    double s = 0;
    for (int b = m0; b < m1; b++) {
      int n = steps_of(c, b);
      for (int j = n0; j < n1; j++) {
        int e = b * h + j;
        if (t > n) {  // padding: no loss term here, and nothing older reaches it
          for (int k = 0; k < tau; k++) sout[k * bh + e] = 0.0f;
          dAt[e] = 0.0f;
          continue;
        }
        next[e] = Gt[e] + (t == n && dhT ? dhT[e] : 0.0f);  // age 0: the loss term of step t, and dhT at the sequence's end
        float g = dphi(Ht[e], act), sumH = 0, sumA = 0;
        for (int k = 0; k < tau; k++) {
          float v = next[k * bh + e];
          sumH += v;
          float a = v * g;
          sout[k * bh + e] = a;
          sumA += a;
        }
        s += (double)sumH * sumH;
        dAt[e] = sumA;
      }
    }
    n2[t - 1] = s;
    barrier(bar, nth, wait);
    float *tmp = sin; sin = sout; sout = tmp;
  }
  mm(m0, m1, n0, n1, h, dA, h, 1, Whh, h, PTR(c, P_DH0, float), h, 0, 0, 0, 0);
}

// may_wait: this thread may block (memory.atomic.wait) at a barrier; a browser's main thread may not.
__attribute__((export_name("bptt_run"))) void bptt_run(Ctx *c, int tid, int nth, int wait) {
  int T = c->s[S_T], B = c->s[S_B], d = c->s[S_D], h = c->s[S_H], q = c->s[S_Q], act = c->s[S_ACT];
  int tokens = c->s[S_TOKENS], bias = c->s[S_BIAS], R = T * B, bh = B * h;
  volatile int32_t *bar = PTR(c, P_BARRIER, int32_t);
  float *Whx = PTR(c, P_PARAMS, float), *Whh = Whx + h * d, *Wqh = Whh + h * h;
  float *bhv = bias ? Wqh + q * h : 0, *bq = bias ? bhv + h : 0;
  float *dWhx = PTR(c, P_GRADS, float), *dWhh = dWhx + h * d, *dWqh = dWhh + h * h;
  float *dbh = bias ? dWqh + q * h : 0, *dbq = bias ? dbh + h : 0;
  int total = h * d + h * h + q * h + (bias ? h + q : 0);
  float *WhxT = PTR(c, P_WHXT, float), *WhhT = PTR(c, P_WHHT, float), *WqhT = PTR(c, P_WQHT, float);
  float *P = PTR(c, P_P, float), *H = PTR(c, P_HS, float), *O = PTR(c, P_O, float), *G = PTR(c, P_G, float);
  float *dA = PTR(c, P_DA, float);
  double *mine = PTR(c, P_PART, double) + tid * (2 + T);
  double *prof = tid == 0 ? PTR(c, P_PROF, double) : 0;
#define PHASE(k) if (prof) prof[k] = host_now()
  int m0, m1, n0, n1, e0, e1;

  // 1
  PHASE(0);
  part_range(tid, nth, h, &e0, &e1);
  transpose(Whx, WhxT, h, d, e0, e1);
  transpose(Whh, WhhT, h, h, e0, e1);
  part_range(tid, nth, q, &e0, &e1);
  transpose(Wqh, WqhT, q, h, e0, e1);
  part_range(tid, nth, bh, &e0, &e1);
  const float *h0 = PTR(c, P_H0, float);
  for (int e = e0; e < e1; e++) H[e] = h0 ? h0[e] : 0.0f;
  barrier(bar, nth, wait);

  // 2
  PHASE(1);
  if (tokens) {
    const int32_t *x = PTR(c, P_X, int32_t);
    part(tid, nth, R, h, 1, &m0, &m1, &n0, &n1);
    for (int r = m0; r < m1; r++)
      for (int j = 0; j < h; j++) P[r * h + j] = WhxT[x[r] * h + j] + (bhv ? bhv[j] : 0.0f);
  } else {
    part(tid, nth, R, h, 0, &m0, &m1, &n0, &n1);
    mm(m0, m1, n0, n1, d, PTR(c, P_X, float), d, 1, WhxT, h, P, h, 0, 0, bhv, 0);
  }
  barrier(bar, nth, wait);

  // 3
  PHASE(2);
  part(tid, nth, B, h, 0, &m0, &m1, &n0, &n1);
  for (int t = 1; t <= T; t++) {
    mm(m0, m1, n0, n1, h, H + (t - 1) * bh, h, 1, WhhT, h, H + t * bh, h, P + (t - 1) * bh, h, 0, act);
    // past its end a sequence keeps its state, so H_T holds each sequence's h at n_b (its hT)
    for (int b = m0; b < m1; b++)
      if (t > steps_of(c, b)) for (int j = n0; j < n1; j++) H[t * bh + b * h + j] = H[(t - 1) * bh + b * h + j];
    barrier(bar, nth, wait);
  }

  // 4
  PHASE(3);
  float *dO = O;
  mine[0] = 0;
  if (c->s[S_LOSS] != 2) {
    part(tid, nth, R, q, 1, &m0, &m1, &n0, &n1);
    mm(m0, m1, 0, q, h, H + bh, h, 1, WqhT, q, O, q, 0, 0, bq, 0);
    mine[0] = loss_rows(m0, m1, O, c->s[S_FORWARD] ? G : O, q, B, T, PTR(c, P_LEN, int32_t), c->s[S_N], c->s[S_LOSS], PTR(c, P_Y, void));
  } else {
    dO = PTR(c, P_DOIN, float);
  }
  if (c->s[S_FORWARD]) {  // a forward-only call ends here: O (zero at padded steps), H and the loss
    part(tid, nth, R, q, 1, &m0, &m1, &n0, &n1);
    if (!c->s[S_FORWARD_O]) m1 = m0;
    else if (c->s[S_LOSS] == 2) mm(m0, m1, 0, q, h, H + bh, h, 1, WqhT, q, O, q, 0, 0, bq, 0);
    for (int r = m0; r < m1; r++)
      if (r / B + 1 > steps_of(c, r % B)) for (int k = 0; k < q; k++) O[r * q + k] = 0.0f;
    barrier(bar, nth, wait);
    if (tid == 0) {
      double loss = 0;
      for (int i = 0; i < nth; i++) loss += PTR(c, P_PART, double)[i * (2 + T)];
      PTR(c, P_OUT, double)[0] = loss / c->s[S_N];
    }
    return;
  }
  barrier(bar, nth, wait);

  // 5
  PHASE(4);
  part(tid, nth, R, h, 0, &m0, &m1, &n0, &n1);
  mm(m0, m1, n0, n1, q, dO, q, 1, Wqh, h, G, h, 0, 0, 0, 0);
  barrier(bar, nth, wait);

  // 6
  PHASE(5);
  if (c->s[S_WINDOW]) sweep_window(c, tid, nth, bar, wait, Whh, mine + 2);
  else sweep_xi(c, tid, nth, bar, wait, Whh, mine + 2);
  barrier(bar, nth, wait);

  // 7
  PHASE(6);
  part(tid, nth, h, h, 0, &m0, &m1, &n0, &n1);
  mm(m0, m1, n0, n1, R, dA, 1, h, H, h, dWhh, h, 0, 0, 0, 0);
  part(tid, nth, q, h, 0, &m0, &m1, &n0, &n1);
  mm(m0, m1, n0, n1, R, dO, 1, q, H + bh, h, dWqh, h, 0, 0, 0, 0);
  float *dWhxT = PTR(c, P_DWHXT, float);
  if (tokens) {
    const int32_t *x = PTR(c, P_X, int32_t);
    part(tid, nth, d, h, 2, &m0, &m1, &n0, &n1);
    for (int k = 0; k < d; k++) for (int j = n0; j < n1; j++) dWhxT[k * h + j] = 0.0f;
    for (int r = 0; r < R; r++) for (int j = n0; j < n1; j++) dWhxT[x[r] * h + j] += dA[r * h + j];
  } else {
    part(tid, nth, h, d, 0, &m0, &m1, &n0, &n1);
    mm(m0, m1, n0, n1, R, dA, 1, h, PTR(c, P_X, float), d, dWhx, d, 0, 0, 0, 0);
  }
  if (bias) {
    part_range(tid, nth, h, &e0, &e1);
    for (int j = e0; j < e1; j++) dbh[j] = 0.0f;
    for (int r = 0; r < R; r++) for (int j = e0; j < e1; j++) dbh[j] += dA[r * h + j];
    part_range(tid, nth, q, &e0, &e1);
    for (int j = e0; j < e1; j++) dbq[j] = 0.0f;
    for (int r = 0; r < R; r++) for (int j = e0; j < e1; j++) dbq[j] += dO[r * q + j];
  }
  if (c->s[S_DX]) {
    part(tid, nth, R, d, 0, &m0, &m1, &n0, &n1);
    mm(m0, m1, n0, n1, h, dA, h, 1, Whx, d, PTR(c, P_DX, float), d, 0, 0, 0, 0);
  }
  barrier(bar, nth, wait);
  if (tokens) {
    part_range(tid, nth, d, &e0, &e1);
    transpose(dWhxT, dWhx, d, h, e0, e1);
    barrier(bar, nth, wait);
  }

  // 8
  PHASE(7);
  part_range(tid, nth, total, &e0, &e1);
  mine[1] = grad_sumsq(dWhx, e0, e1);
  barrier(bar, nth, wait);
  double *out = PTR(c, P_OUT, double);
  if (tid == 0) finalize_out(PTR(c, P_PART, double), nth, 2 + T, T, PTR(c, P_CLIP, double), c->s[S_N], out);
  barrier(bar, nth, wait);
  PHASE(8);
  clip_and_update(Whx, dWhx, PTR(c, P_M, float), PTR(c, P_V, float), e0, e1, out, c->s[S_OPT], &c->s[S_LR]);
}

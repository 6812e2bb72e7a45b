// The rnn recipe's own steps, the chapter's (MATH.md part 1), for the one case
// runsChapterKernels names (src/sequence-model.ts): one rnn layer in one
// direction, every sequence T steps, a head, one bias per product. seq.c runs
// them instead of seq_step.c and seq_sweep.c where the host sets Q_CHAPTER.
// They are what rnn.c ran before the RnnModel became a case of the walk, and
// they stay because they are faster there (bench/wasm-walk.mjs): the state
// lives in one array H [T+1, B, h] (QP_HP, with QP_YS = H_1), so a forward
// step is one product with the activation fused and nothing copied after it,
// and the sweep writes dA once (dGx and dGh of an rnn cell are equal) with the
// carry xi dA Wh added in the same pass, no direct-path arrays.
//   forward   H_t = phi(Gx_t + H_{t-1} Wh^T)                    (Gx_t = X_t Wx^T + bx, phase 1)
//   sweep     dH_t = dY_t + xi_{t+1} dA_{t+1} Wh (+ dhT at t = T), dA_t = dH_t phi'(a_t)
//   window    slot k: the part of dA_{t+1} from the loss term k steps later (ping-pong buffers)
// The CPU reference is rnnForwardStep, rnnBackwardStep and windowBackwardStep in src/cpu/kernels.ts.
// The squared step norms go into QP_NSQ per row and 8-unit block, as the walk's, so that they are the
// same bits for any thread count.
#include "seq.h"

__attribute__((noinline)) void chapter_forward_step(const Seq *s, int t, int b0, int b1, int j0, int j1) {
  int h = s->h, bh = s->B * h;
  float *H = F(QP_HP);
  mm(b0, b1, j0, j1, h, H + (t - 1) * bh, h, 1, F(QP_WHT), h, H + t * bh, h, F(QP_GX) + (t - 1) * bh, h, 0, s->act);
  if (t == s->T) {
    float *hT = F(QP_HT);
    for (int b = b0; b < b1; b++)
      for (int j = j0; j < j1; j++) hT[b * h + j] = H[t * bh + b * h + j];
  }
}

// Full, chunked and randomized truncation: the carry into step t is xi_{t+1} dA_{t+1} Wh, at T the caller's dhT;
// dh0 = xi_1 dA_1 Wh. A zero factor carries nothing, even from non-finite values.
__attribute__((noinline)) void chapter_sweep_xi(const Seq *s, const float *dY) {
  int T = s->T, B = s->B, h = s->h, act = s->act, bh = B * h;
  const float *xi = s->xi, *dhT = F(QP_DHT), *Wh = layer_of(s, s->P, 0).Wh;
  float *dA = F(QP_DGX), *H = F(QP_HP), *carry = F(QP_CH);
  int m0, m1, n0, n1;
  part(s->tid, s->nth, B, h, 0, &m0, &m1, &n0, &n1);
  for (int t = T; t >= 1; t--) {
    const float *Gt = dY + (t - 1) * bh, *Ht = H + t * bh;
    float *dAt = dA + (t - 1) * bh;
    float x = t < T ? xi[t] : 0.0f;  // xi_{t+1}
    int carried = x != 0.0f;
    if (carried) mm(m0, m1, n0, n1, h, dA + t * bh, h, 1, Wh, h, carry, h, 0, 0, 0, 0);
    for (int b = m0; b < m1; b++) {
      double *nr = nsq_of(s, 0, t, b);
      for (int j = n0; j < n1; j += 4) {
        int e = b * h + j, m = n1 - j;
        v128_t in = t == T ? (dhT ? ld(dhT + e, m) : splat(0.0f)) : carried ? MUL(splat(x), ld(carry + e, m)) : splat(0.0f);
        v128_t dh = ADD(ld(Gt + e, m), in);
        nsq_add(nr, j, dh);
        st(dAt + e, MUL(dh, v_dphi(ld(Ht + e, m), act)), m);
      }
    }
    sync(s);
  }
  float *dh0 = F(QP_DH0);
  if (xi[0] != 0.0f) {
    mm(m0, m1, n0, n1, h, dA, h, 1, Wh, h, dh0, h, 0, 0, 0, 0);
    for (int b = m0; b < m1; b++)
      for (int j = n0; j < n1; j++) dh0[b * h + j] *= xi[0];
  } else {
    for (int b = m0; b < m1; b++) zero(dh0 + b * h + n0, n1 - n0);
  }
}

// window(tau): slot k holds dA^(k)_{t+1}; next (QP_DIRH) gets each age's carry, the slots ping-pong between QP_SL1
// and QP_SL2. Each thread owns columns n0..n1 of every age, so the product of step t and the sums over ages need
// no barrier between them.
__attribute__((noinline)) void chapter_sweep_window(const Seq *s, const float *dY) {
  int T = s->T, B = s->B, h = s->h, act = s->act, bh = B * h, tau = s->tau;
  const float *dhT = F(QP_DHT), *Wh = layer_of(s, s->P, 0).Wh;
  float *dA = F(QP_DGX), *H = F(QP_HP), *next = F(QP_DIRH), *sin = F(QP_SL1), *sout = F(QP_SL2);
  int m0, m1, n0, n1;
  part(s->tid, s->nth, B, h, 2, &m0, &m1, &n0, &n1);
  for (int t = T; t >= 1; t--) {
    const float *Gt = dY + (t - 1) * bh, *Ht = H + t * bh;
    float *dAt = dA + (t - 1) * bh;
    if (tau > 1 && t < T) mm(0, (tau - 1) * B, n0, n1, h, sin, h, 1, Wh, h, next + bh, h, 0, 0, 0, 0);
    else
      for (int k = 1; k < tau; k++)
        for (int b = m0; b < m1; b++) zero(next + k * bh + b * h + n0, n1 - n0);
    for (int b = m0; b < m1; b++) {
      double *nr = nsq_of(s, 0, t, b);
      for (int j = n0; j < n1; j += 4) {
        int e = b * h + j, m = n1 - j;
        // age 0: the loss term of step t, and dhT at the end
        v128_t v0 = ld(Gt + e, m);
        if (t == T && dhT) v0 = ADD(v0, ld(dhT + e, m));
        st(next + e, v0, m);
        v128_t g = v_dphi(ld(Ht + e, m), act), sumH = splat(0.0f), sumA = splat(0.0f);
        for (int k = 0; k < tau; k++) {
          v128_t v = ld(next + k * bh + e, m);
          sumH = ADD(sumH, v);
          v128_t a = MUL(v, g);
          st(sout + k * bh + e, a, m);
          sumA = ADD(sumA, a);
        }
        nsq_add(nr, j, sumH);
        st(dAt + e, sumA, m);
      }
    }
    sync(s);
    float *tmp = sin; sin = sout; sout = tmp;
  }
  mm(m0, m1, n0, n1, h, dA, h, 1, Wh, h, F(QP_DH0), h, 0, 0, 0, 0);
}

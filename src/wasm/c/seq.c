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
// number of threads. The step kernels are seq_step.c and seq_sweep.c, and for the chapter's case (Q_CHAPTER,
// the host's runsChapterKernels) the rnn recipe's own, seq_chapter.c; the shared helpers seq.h.
#include "seq.h"

__attribute__((export_name("seq_run"))) void seq_run(SeqCtx *c, int tid, int nth, int wait) {
  Seq sq, *s = &sq;
  s->c = c;
  s->T = c->s[Q_T]; s->B = c->s[Q_B]; s->d = c->s[Q_D]; s->h = c->s[Q_H]; s->q = c->s[Q_Q]; s->L = c->s[Q_L];
  s->dirs = c->s[Q_DIRS]; s->cell = c->s[Q_CELL]; s->act = c->s[Q_ACT]; s->tokens = c->s[Q_TOKENS];
  s->G = s->cell == 0 ? 1 : s->cell == 1 ? 3 : 4;
  s->lstm = s->cell == 2;
  s->Gh = s->G * s->h; s->w = s->dirs * s->h; s->K = s->L * s->dirs; s->R = s->T * s->B; s->tau = c->s[Q_WINDOW];
  s->len = PTR(c, QP_LEN, int32_t); s->xi = PTR(c, QP_XI, float);
  s->P = PTR(c, QP_PARAMS, float); s->Gr = PTR(c, QP_GRADS, float);
  s->lay = PTR(c, QP_LAYOUT, int32_t); s->chapter = c->s[Q_CHAPTER];
  s->bar = PTR(c, QP_BARRIER, int32_t); s->tid = tid; s->nth = nth; s->wait = wait;
  int T = s->T, B = s->B, d = s->d, h = s->h, q = s->q, L = s->L, dirs = s->dirs, Gh = s->Gh, w = s->w, K = s->K, R = s->R;
  int head = c->s[Q_HEAD], loss = c->s[Q_LOSS], forward = c->s[Q_FORWARD], tau = s->tau;
  const int32_t *hl = s->lay + 4 * K;  // head W, head b, total
  int total = hl[2];
  float *W = head ? at_of(s->P, hl[0]) : 0, *bq = head ? at_of(s->P, hl[1]) : 0;
  float *dW = head ? at_of(s->Gr, hl[0]) : 0, *dbq = head ? at_of(s->Gr, hl[1]) : 0;
  float *Ys = F(QP_YS), *Ytop = Ys + (L - 1) * R * w, *O = F(QP_O);
  double *rowloss = PTR(c, QP_ROWLOSS, double);
  double *prof = tid == 0 ? PTR(c, QP_PROF, double) : 0, t_last = 0;
  // milliseconds per part, thread 0: 0 transposes, 1 input projections, 2 forward recurrence, 3 output and loss,
  // 4 dY_top and the head's gradients, 5 reverse sweeps, 6 gradients to the layer below and weight gradients, 7 the rest
#define MARK(i) if (prof) { double now_ = host_now(); prof[i] += now_ - t_last; t_last = now_; }
  if (prof) {
    for (int i = 0; i < 9; i++) prof[i] = 0;
    t_last = host_now();
  }
  int m0, m1, n0, n1, e0, e1;

  // 0
  for (int k = 0; k < K; k++) {
    Layer P = layer_of(s, s->P, k);
    part_range(tid, nth, Gh, &e0, &e1);
    transpose(P.Wx, wxt_of(s, k), Gh, n_in(s, k), e0, e1);
    transpose(P.Wh, F(QP_WHT) + k * h * Gh, Gh, h, e0, e1);
    // the previous state of each direction's first step is h0, and padding rows read zeros (the chapter's
    // steps: H_0 = h0, the rest is written by the steps)
    const float *h0 = F(QP_H0);
    float *HP = F(QP_HP) + k * R * h;
    part_range(tid, nth, B * h, &e0, &e1);
    for (int e = e0; e < e1;) {  // by rows of h units
      int b = e / h, n = steps_of(s, b), end = (b + 1) * h < e1 ? (b + 1) * h : e1;
      float *first = HP + (first_t(k % dirs, n) - 1) * B * h;
      for (int i = e; i < end; i++) first[i] = h0 ? h0[k * B * h + i] : 0.0f;
      for (int t = n + 1; t <= T; t++) zero(HP + (t - 1) * B * h + e, end - e);
      e = end;
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
      if (s->chapter) chapter_forward_step(s, step, b0, b1, j0, j1);
      else seq_forward_step(s, l, step, b0, b1, j0, j1);
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
    // per row: the loss is then the sum of rowloss in one order (sum_in_order), whatever rows each thread took
    if (loss != 2) loss_rows(m0, m1, O, D, q, B, T, s->len, c->s[Q_N], loss, PTR(c, QP_LABELS, void), rowloss);
    if (forward)
      for (int r = m0; r < m1; r++)
        if (r / B + 1 > steps_of(s, r % B)) zero(O + r * q, q);
  }
  if (forward) {  // a forward-only call ends here: Y, hT, cT, O and the loss
    sync(s);
    if (tid == 0 && loss != 2) {
      PTR(c, QP_OUT, double)[0] = sum_in_order(rowloss, R) / c->s[Q_N];
    }
    return;
  }
  sync(s);
  MARK(3);

  // 4
  float *dYcur = F(QP_DY1), *dYnext = F(QP_DY2);
  if (tau > 1 && !s->chapter) {  // ages >= 1 of the top layer's upstream gradient are zero
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
      col_sums(dO, q, R, e0, e1, dbq);
    }
  }
  sync(s);
  MARK(4);

  // 5, 6
  for (int l = L - 1; l >= 0; l--) {
    if (s->chapter) {
      if (tau) chapter_sweep_window(s, dYcur);
      else chapter_sweep_xi(s, dYcur);
    } else if (tau) {
      seq_sweep_window(s, l, dYcur);
    } else {
      seq_sweep_xi(s, l, dYcur);
    }
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
      const float *gx = dGx + dir * R * Gh, *gh = dGh + dir * R * Gh;  // rnn: the same (QP_DGH is QP_DGX)
      if (l == 0 && s->tokens) {
        // into dWx^T by rows, which vectorizes (a column of dWx is d floats apart), then transposed into dWx.
        // Each thread scatters its units e0..e1 into a block of its own, [d, e1 - e0] at e0 * d (no cache line
        // shared with another thread's), and reads back only what it wrote, so no barrier.
        const int32_t *x = PTR(c, QP_X, int32_t);
        part_range(tid, nth, Gh, &e0, &e1);
        int n = e1 - e0;
        float *acc = F(QP_DWXT) + e0 * d;
        zero(acc, d * n);
        for (int r = 0; r < R; r++) {
          float *row = acc + x[r] * n;
          const float *g = gx + r * Gh + e0;
          for (int i = 0; i < n; i++) row[i] += g[i];
        }
        for (int i = 0; i < n; i++)
          for (int v = 0; v < d; v++) Gk.Wx[(e0 + i) * d + v] = acc[v * n + i];
      } else {
        part(tid, nth, Gh, nIn, 0, &m0, &m1, &n0, &n1);
        mm(m0, m1, n0, n1, R, gx, 1, Gh, X, nIn, Gk.Wx, nIn, 0, 0, 0, 0);
      }
      part(tid, nth, Gh, h, 0, &m0, &m1, &n0, &n1);
      mm(m0, m1, n0, n1, R, gh, 1, Gh, F(QP_HP) + k * R * h, h, Gk.Wh, h, 0, 0, 0, 0);
      // an RnnModel's one bias per product is bx alone
      part_range(tid, nth, Gh, &e0, &e1);
      if (Gk.bx) col_sums(gx, Gh, R, e0, e1, Gk.bx);
      if (Gk.bh) col_sums(gh, Gh, R, e0, e1, Gk.bh);
    }
    sync(s);
    MARK(6);
    float *tmp = dYcur; dYcur = dYnext; dYnext = tmp;
  }

  // 7: every partial sum is of a fixed block (rows, 8-unit blocks, GBLK gradient elements), added in one order
  // (sum_in_order) by one thread, so loss, gradNorm and the step norms are the same bits for any number of threads
  int nblk = (total + GBLK - 1) / GBLK, g0 = (int)((int64_t)nblk * tid / nth), g1 = (int)((int64_t)nblk * (tid + 1) / nth);
  double *gsq = PTR(c, QP_GSQ, double), *sums = PTR(c, QP_PART, double);
  for (int g = g0; g < g1; g++) gsq[g] = grad_sumsq(s->Gr, g * GBLK, (g + 1) * GBLK < total ? (g + 1) * GBLK : total);
  // each thread the step norms of its (k, t), from their per-row, per-8-unit partials
  const double *nsq = PTR(c, QP_NSQ, double);
  int per = B * ((h + 7) / 8), kt0 = (int)((int64_t)K * T * tid / nth), kt1 = (int)((int64_t)K * T * (tid + 1) / nth);
  for (int kt = kt0; kt < kt1; kt++) sums[2 + kt] = sum_in_order(nsq + kt * per, per);
  sync(s);
  double *out = PTR(c, QP_OUT, double);
  if (tid == 0) {
    sums[0] = loss != 2 ? sum_in_order(rowloss, R) : 0;
    sums[1] = 0;
    for (int g = 0; g < nblk; g++) sums[1] += gsq[g];
    finalize_out(sums, 1, 2 + K * T, K * T, PTR(c, QP_CLIP, double), c->s[Q_N], out);
  }
  sync(s);
  part_range(tid, nth, total, &e0, &e1);
  clip_and_update(s->P, s->Gr, PTR(c, QP_M, float), PTR(c, QP_V, float), e0, e1, out, c->s[Q_OPT], &c->s[Q_LR]);
  MARK(7);
}

// Phase 5 of seq_run (seq.c): a layer's reverse sweep, both directions, per step the cell's backward on
// this thread's rectangle, a barrier, then the carry into the previous state as one product. The CPU
// reference is sequenceBackwardStep (src/cpu/sequence/kernels.ts) and sequenceWindowBackwardStep (window.ts),
// on cellBackward and carryToPrevious (cell.ts).
#include "seq.h"

typedef struct { v128_t gx[4], gh[4], dirh, dirc; } CellGrad;

// The cell's backward at (k, t, b), lanes j..j+3: from dh (and dc, lstm) on h_t (c_t) to the gate gradients
// on the gx side and the gh side (equal but for the GRU's n block, dGh_n = dGx_n r), and the direct paths to
// the previous state (gru: z dh; lstm: dc_total f). As cellBackward in src/cpu/sequence/cell.ts.
static inline void cell_backward(const Seq *s, int k, int dir, int t, int n, int b, int j, int m, v128_t dh, v128_t dc, CellGrad *o) {
  int h = s->h, B = s->B, R = s->R, row = (t - 1) * B + b;
  v128_t one = splat(1.0f);
  if (s->cell == 0) {
    v128_t y = ld(F(QP_YS) + (k / s->dirs) * R * s->w + row * s->w + (k % s->dirs) * h + j, m);
    o->gx[0] = o->gh[0] = MUL(dh, v_dphi(y, s->act));
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
__attribute__((noinline)) void seq_sweep_xi(const Seq *s, int l, const float *dY) {
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
      for (int b = b0; b < b1; b++) {
        int n = steps_of(s, b), row = (t - 1) * B + b, o = (dir * B + b) * h, ko = (k * B + b) * h;
        float *gxr = dGx + row * Gh, *ghr = dGh + row * Gh;
        double *nr = nsq_of(s, k, t, b);
        if (t > n) {
          for (int g = 0; g < G; g++) {
            zero(gxr + g * h + j0, j1 - j0);
            if (s->cell) zero(ghr + g * h + j0, j1 - j0);  // rnn: dGh is dGx (the host points QP_DGH there)
          }
          nsq_zero(nr, j0, j1);
          continue;
        }
        int last = t == last_t(dir, n);
        if (s->cell == 0) {  // rnn: dGx = dh phi'(a) is all there is (dGh is dGx, no direct path): one pass, no cell switch
          const float *y = F(QP_YS) + l * R * w + row * w + dir * h;
          for (int j = j0; j < j1; j += 4) {
            int m = j1 - j;
            v128_t dh = ADD(ld(dY + row * w + dir * h + j, m), ld(CH + o + j, m));
            if (last && dhT) dh = ADD(dh, ld(dhT + ko + j, m));
            nsq_add(nr, j, dh);
            st(gxr + j, MUL(dh, v_dphi(ld(y + j, m), s->act)), m);
          }
          continue;
        }
        for (int j = j0; j < j1; j += 4) {
          int m = j1 - j;
          v128_t dh = ADD(ld(dY + row * w + dir * h + j, m), ld(CH + o + j, m));
          if (last && dhT) dh = ADD(dh, ld(dhT + ko + j, m));
          v128_t dc = splat(0.0f);
          if (s->lstm) {
            dc = ld(CC + o + j, m);
            if (last && dcT) dc = ADD(dc, ld(dcT + ko + j, m));
          }
          nsq_add(nr, j, dh);
          CellGrad cg;
          cell_backward(s, k, dir, t, n, b, j, m, dh, dc, &cg);
          for (int g = 0; g < G; g++) {
            st(gxr + g * h + j, cg.gx[g], m);
            if (s->cell) st(ghr + g * h + j, cg.gh[g], m);
          }
          if (s->cell) st(DIRH + o + j, cg.dirh, m);  // rnn: no direct path to the previous state
          if (s->lstm) st(DIRC + o + j, cg.dirc, m);
        }
      }
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
        if (factor == 0.0f) {  // nothing carried, even from non-finite values
          zero(dst + j0, j1 - j0);
          if (dstc) zero(dstc + j0, j1 - j0);
          continue;
        }
        v128_t f = splat(factor);
        for (int j = j0; j < j1; j += 4) {
          int m = j1 - j;
          v128_t v = ld(cp + b * h + j, m);
          st(dst + j, MUL(f, s->cell ? ADD(v, ld(DIRH + o + j, m)) : v), m);
          if (dstc) st(dstc + j, MUL(f, ld(DIRC + o + j, m)), m);
        }
      }
    }
  }
}

// Phase 5 for window(tau), one direction: slot a holds the gradient of the loss term a steps later than the
// state it reaches (its age, kept down the stack: dY of a lower layer comes per age). At each
// step every age goes through the cell's backward; ages move up by one into the previous step (the oldest is
// dropped); at t = 1 every age reaches h0, c0. As sequenceWindowBackwardStep in src/cpu/sequence/window.ts.
__attribute__((noinline)) void seq_sweep_window(const Seq *s, int l, const float *dY) {
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
    for (int b = b0; b < b1; b++) {
      int n = steps_of(s, b), row = (t - 1) * B + b, ko = (k * B + b) * h;
      float *gxr = dGx + row * Gh, *ghr = dGh + row * Gh;
      double *nr = nsq_of(s, k, t, b);
      if (t > n) {
        for (int g = 0; g < G; g++) {
          zero(gxr + g * h + j0, j1 - j0);
          if (s->cell) zero(ghr + g * h + j0, j1 - j0);
          if (DGXS) for (int a = 0; a < tau; a++) zero(DGXS + a * R * Gh + row * Gh + g * h + j0, j1 - j0);
        }
        nsq_zero(nr, j0, j1);
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
        nsq_add(nr, j, sumH);
        for (int g = 0; g < G; g++) {
          st(gxr + g * h + j, sgx[g], m);
          if (s->cell) st(ghr + g * h + j, sgh[g], m);
        }
      }
    }
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

// Phase 2 of seq_run (seq.c): one step of a layer's forward recurrence, both directions: the recurrent
// product of each gate block over the batch rows, then the cell's gates and state update on the same
// thread's rectangle. The CPU reference is sequenceForwardStep in src/cpu/sequence/kernels.ts.
#include "seq.h"

// Phase 2: forward step `step` of layer l, both directions, on rows b0..b1 and units j0..j1.
__attribute__((noinline)) void seq_forward_step(const Seq *s, int l, int step, int b0, int b1, int j0, int j1) {
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
    if (s->cell == 0) {  // rnn: the product made y; padding rows zeroed, the rest copied where the next step reads it
      int tn = dir == 0 ? t + 1 : t - 1;
      for (int b = b0; b < b1; b++) {
        int n = steps_of(s, b);
        float *y = Y + b * w;
        if (t > n) {
          zero(y + j0, j1 - j0);
          continue;
        }
        float *next = tn >= 1 && tn <= n ? HP + (tn - 1) * B * h + b * h : 0;
        float *hT = t == last_t(dir, n) ? F(QP_HT) + (k * B + b) * h : 0;
        for (int j = j0; j < j1; j += 4) {
          int m = j1 - j;
          v128_t v = ld(y + j, m);
          if (next) st(next + j, v, m);
          if (hT) st(hT + j, v, m);
        }
      }
      continue;
    }
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

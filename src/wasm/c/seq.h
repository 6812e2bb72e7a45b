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
  Q_BIAS,       // bx, bh in every layer
  Q_HEAD,       // a head W [q, w]
  Q_HEAD_BIAS,  // ... with b [q]
  Q_LOSS,       // 0 cross-entropy, 1 mse, 2 none
  Q_WINDOW,     // 0: xi-based truncation, else window(tau) with tau = Q_WINDOW (one direction)
  Q_DX,         // also compute dx
  Q_N,          // valid (t, b) positions
  Q_FORWARD,    // a forward-only call: stop after the outputs and the loss
  Q_FORWARD_O,  // ... and compute O
  Q_OPT,        // 0 no update, 1 sgd, 2 adam
  Q_LR, Q_B1, Q_B2, Q_EPS, Q_C1, Q_C2, Q_OMB1, Q_OMB2,  // f32 bits, as S_LR.. in bptt.h (common.c reads them in this order)
  QP_PARAMS,    // the flat layout of src/sequence-params.ts: per k Wx, Wh, bx, bh; then head W, b
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
  QP_HP,        // [K, R, h] the previous state each step read (h0 at a direction's first step, zero at padding)
  QP_S,         // [K, R, 4h] saved gates (gru: r, z, n, gh_n; lstm: i, f, g, o)
  QP_C,         // [K, R, h] lstm cell states
  QP_GH,        // [dirs, B, Gh] recurrent products of one step
  QP_HT, QP_CT, // [K, B, h]
  QP_O,         // [R, q] outputs (dO in place in a gradient call)
  QP_DO,        // [R, q] where a forward call's dO goes (0: in place)
  QP_DY1, QP_DY2,  // [max(tau,1), R, w] the upstream gradient of the current layer and of the one below (by age under
                 // window); without a head the host writes the caller's dY (padded rows zero) into QP_DY1
  QP_DGX, QP_DGH,  // [dirs, R, Gh]
  QP_DGXS,      // [tau, R, Gh] window: dGx per age, for the layer below (L > 1)
  QP_CH, QP_CC, // [dirs, B, h] carries into the next step of the sweep
  QP_DIRH, QP_DIRC,  // [max(tau, dirs), B, h] the direct paths to the previous state (gru z dh; lstm dc f)
  QP_CP,        // [dirs, B, h] the product dGh Wh of a step
  QP_SL1, QP_SL2, QP_SLC1, QP_SLC2,  // window slots [tau, B, h] of h and c (ping-pong)
  QP_GHS,       // [tau, B, Gh] window: dGh per age of a step
  QP_DH0, QP_DC0,  // [K, B, h]
  QP_DX,        // [R, d]
  QP_PART,      // f64 [nth, 2 + K*T]
  QP_CLIP,      // f64 clipNorm (0: none)
  QP_OUT,       // f64 [4 + K*T]: loss, gradNorm, clip scale, nonFinite, ||dL/dh_t|| per k, t
  QP_PROF,      // f64 [9]: thread 0's milliseconds per part of the call (see seq.c)
  QP_BARRIER,   // 3 x i32
  Q_COUNT
};

typedef struct { int32_t s[Q_COUNT]; } SeqCtx;

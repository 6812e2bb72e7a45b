// The rnn recipe's own steps, the chapter's (src/cpu/kernels.ts, one call per
// GPU dispatch of rnn_forward_step.wgsl, rnn_backward_step.wgsl and
// window_backward_step.wgsl), on the layer walk's arrays. They serve one rnn
// layer in one direction without lengths, with a head and one bias per product
// (runsChapterKernels): h_t = phi(gx_t + Wh h_{t-1}), gx_t holding the input
// bias, so the states are H [(T+1), B, h] with h0 in slot 0 (Y is its view from
// slot 1) and the reverse sweep's dA [(T+1), B, h] holds dh0 in slot 0 (dGx =
// dGh is its view from slot 1), as the GPU buffers do.
import { rnnBackwardStep, rnnForwardStep, windowBackwardStep, type RnnBackwardFlags } from '../kernels.js';
import type { SequenceProblem } from '../../validate-sequence.js';
import type { LayerAdjoints, LayerBackward, LayerSteps } from './recipe.js';

const SWEEP_STEP: RnnBackwardFlags = { useCarry: true, useG: true, applyAct: true };
const FIRST_STEP: RnnBackwardFlags = { useCarry: false, useG: true, applyAct: true }; // t = T, the sweep's first: the carry is dhT
const DH0_STEP: RnnBackwardFlags = { useCarry: true, useG: false, applyAct: false }; // t = 0: dh_0 = xi_1 * dA_1 Whh

/** The extra step of the sweep: dh_0 into slot 0 of dA, then out to the walk's dh0; dGx = dGh = dA_1..dA_T. */
function finishSweep(a: LayerBackward, dA: Float64Array, G: Float64Array, xi1: number, p: SequenceProblem): LayerAdjoints {
  const bh = p.B * p.h;
  rnnBackwardStep(dA, G, a.states.H!, a.Wh, null, xi1, 0, p.B, p.h, p.activation, DH0_STEP);
  a.dh0.set(dA.subarray(0, bh));
  const dGx = dA.subarray(bh);
  return { dGx, dGh: dGx, dGxSlots: null };
}

export const chapterSteps: LayerSteps = {
  name: 'chapter',
  forward(a, p) {
    const { T, B, h } = p;
    const bh = B * h;
    const H = new Float64Array((T + 1) * bh);
    H.set(a.h0);
    for (let t = 1; t <= T; t++) rnnForwardStep(H, a.Gx, a.Wh, t, B, h, p.activation);
    a.hT.set(H.subarray(T * bh));
    return { Y: H.subarray(bh), C: null, S: null, H };
  },
  backward(a, xi, p) {
    const { T, B, h } = p;
    const H = a.states.H!;
    const dA = new Float64Array((T + 1) * B * h);
    for (let t = T; t >= 1; t--) {
      // xi_{t+1} scales the carry from step t+1 (none at t = T)
      a.norms[t - 1] += rnnBackwardStep(dA, a.dY, H, a.Wh, a.dhT, t === T ? 1 : xi[t], t, B, h, p.activation, t === T ? FIRST_STEP : SWEEP_STEP);
    }
    return finishSweep(a, dA, a.dY, xi[0], p);
  },
  window(a, tau, p) {
    const { T, B, h } = p;
    const G = a.dY.subarray(0, T * B * h); // age 0: one layer, so no older ages arrive from above
    const dA = new Float64Array((T + 1) * B * h);
    const slots = new Float64Array(2 * tau * B * h);
    for (let t = T; t >= 1; t--) a.norms[t - 1] += windowBackwardStep(dA, slots, G, a.states.H!, a.Wh, a.dhT, t, T, tau, B, h, p.activation);
    return finishSweep(a, dA, G, 1, p); // every slot reaches h_0: xi = 1
  },
};

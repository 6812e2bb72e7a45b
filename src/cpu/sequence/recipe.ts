// A cell's recipe on the CPU: the step functions the layer walk calls for one
// layer, in the order the GPU walk records its step kernels (src/gpu/sequence-encode.ts).
// Every cell runs the shared cell steps (kernels.ts, window.ts: cell_*.wgsl on
// the GPU); the rnn recipe runs the chapter's own functions instead
// (chapter.ts: rnn_*.wgsl, window_backward_step.wgsl) exactly when
// runsChapterKernels says the GPU does, so that a failing GPU test compares
// against the same kernels, one by one. Everything around the recurrence (input
// projection, head, loss, weight gradients, norms, clipping) is the walk's own
// code (forward.ts, gradients.ts) for every recipe.
import type { CellKind } from '../../types.js';
import type { SequenceProblem } from '../../validate-sequence.js';
import { chapterCaseOf, runsChapterKernels } from '../../sequence-model.js';
import type { Vec } from './cell.js';
import { sequenceBackwardStep, sequenceForwardStep, sequenceWindowBackwardStep } from './kernels.js';
import { chapterSteps } from './chapter.js';

/** One layer's forward inputs, and the final states it fills. Layouts as in kernels.ts. */
export interface LayerForward {
  Gx: Vec; // [dirs, T, B, G*h], the input projection
  Wh: Vec; // [dirs, G*h, h]
  bh: Vec | null; // [dirs, G*h]
  h0: Vec; // [dirs, B, h]
  c0: Vec | null;
  hT: Vec; // out: [dirs, B, h]
  cT: Vec | null; // out (lstm)
}

/** What a layer's forward sweep leaves for the head, the layer above and the reverse sweep. */
export interface LayerStates {
  Y: Vec; // [T, B, dirs*h]
  C: Vec | null; // [dirs, T, B, h] (lstm)
  S: Vec | null; // [dirs, T, B, 4h] (gru, lstm)
  H: Vec | null; // [(T+1), B, h] with H_0 = h0, Y its view from slot 1: the chapter's layout (else null)
}

/** One layer's reverse-sweep inputs, and what it adds to the initial-state gradients and the norms. */
export interface LayerBackward {
  states: LayerStates;
  dY: Vec; // [T, B, dirs*h]; under window [tau, T, B, h] by age (age 0: the loss terms at t)
  Wh: Vec;
  h0: Vec;
  c0: Vec | null;
  dhT: Float32Array | null; // [dirs, B, h]
  dcT: Float32Array | null;
  dh0: Vec; // out: [dirs, B, h]
  dc0: Vec | null; // out (lstm)
  norms: Vec; // out, added to: [dirs, T] squared ||dL/dh_t||
}

/** The gate gradients of a layer after its reverse sweep, for the weight gradients and the layer below. */
export interface LayerAdjoints {
  dGx: Vec; // [dirs, T, B, G*h]
  dGh: Vec; // [dirs, T, B, G*h] (the same array where they are equal throughout, as dA in the chapter)
  dGxSlots: Vec | null; // window: [tau, T, B, G*h] by age, for the layer below
}

/** The step functions of a recipe, each a loop of one step kernel over t (plus the chapter's dh0 step). */
export interface LayerSteps {
  name: 'cell' | 'chapter';
  forward(a: LayerForward, p: SequenceProblem): LayerStates;
  /** Full, chunked and randomized truncation: xi [T]. */
  backward(a: LayerBackward, xi: Float32Array, p: SequenceProblem): LayerAdjoints;
  /** window(tau), tau <= T, one direction. */
  window(a: LayerBackward, tau: number, p: SequenceProblem): LayerAdjoints;
}

/** The cell steps every recipe shares: sequenceForwardStep, sequenceBackwardStep, sequenceWindowBackwardStep per step s. */
export const cellSteps: LayerSteps = {
  name: 'cell',
  forward(a, p) {
    const { T, B, h, dirs, cell } = p;
    const rows = T * B;
    const Y = new Float64Array(rows * dirs * h);
    const C = cell === 'lstm' ? new Float64Array(dirs * rows * h) : null;
    const S = cell === 'rnn' ? null : new Float64Array(dirs * rows * 4 * h);
    for (let s = 1; s <= T; s++) sequenceForwardStep(Y, C, S, a.hT, a.cT, a.Gx, a.Wh, a.bh, a.h0, a.c0, p.lengths, cell, p.activation, s, T, B, h, dirs);
    return { Y, C, S, H: null };
  },
  backward(a, xi, p) {
    const { T, B, h, dirs, cell } = p;
    const span = dirs * T * B * p.G * h;
    const dGx = new Float64Array(span);
    const dGh = new Float64Array(span);
    const carryH = new Float64Array(dirs * B * h);
    const carryC = cell === 'lstm' ? new Float64Array(dirs * B * h) : null;
    const { Y, C, S } = a.states;
    for (let s = 1; s <= T; s++) {
      sequenceBackwardStep(dGx, dGh, carryH, carryC, a.dh0, a.dc0, a.norms, a.dY, Y, C, S, a.Wh, a.h0, a.c0, a.dhT, a.dcT, xi, p.lengths, cell, p.activation, s, T, B, h, dirs);
    }
    return { dGx, dGh, dGxSlots: null };
  },
  window(a, tau, p) {
    const { T, B, h, cell } = p;
    const span = T * B * p.G * h;
    const dGx = new Float64Array(span);
    const dGh = new Float64Array(span);
    const dGxSlots = new Float64Array(tau * span);
    const slotsH = new Float64Array(tau * B * h);
    const slotsC = cell === 'lstm' ? new Float64Array(tau * B * h) : null;
    const { Y, C, S } = a.states;
    for (let s = 1; s <= T; s++) {
      sequenceWindowBackwardStep(dGx, dGh, dGxSlots, slotsH, slotsC, a.dh0, a.dc0, a.norms, a.dY, Y, C, S, a.Wh, a.h0, a.c0, a.dhT, a.dcT, p.lengths, cell, p.activation, s, T, tau, B, h);
    }
    return { dGx, dGh, dGxSlots };
  },
};

/** Per cell: the steps it runs, and the chapter's own where it has them (the rnn cell only). */
export const CPU_RECIPES: Record<CellKind, { steps: LayerSteps; chapter: LayerSteps | null }> = {
  rnn: { steps: cellSteps, chapter: chapterSteps },
  gru: { steps: cellSteps, chapter: null },
  lstm: { steps: cellSteps, chapter: null },
};

/** The steps a call's layers run: the chapter's where runsChapterKernels holds (as on the GPU), else the cell's. */
export function layerSteps(
  p: Pick<SequenceProblem, 'cell' | 'L' | 'dirs' | 'lengths'>,
  layout: { layers: { bx: number; bh: number }[]; head: { b: number } | null },
): LayerSteps {
  const recipe = CPU_RECIPES[p.cell];
  return recipe.chapter && runsChapterKernels(chapterCaseOf(p, layout)) ? recipe.chapter : recipe.steps;
}

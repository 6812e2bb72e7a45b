// What a SequenceModel is made of, in one place: each cell's recipe, the sizes
// of its layers, and the vanilla RnnModel as one case of it.
import type { AnyModel, CellKind, GradientResult, RnnModel, SequenceGradients, SequenceModel } from './types.js';

/**
 * A cell's recipe: what every engine needs to know of it. Its step kernels are the cell
 * kernels every recipe shares (kernels/cell_*.wgsl, their CELL override = `code`; the CPU's
 * cellSteps in src/cpu/sequence/recipe.ts; seq_step.c on wasm), and for the rnn cell also
 * the chapter's own (runsChapterKernels below: src/gpu/chapter-kernels.ts, src/cpu/sequence/chapter.ts,
 * src/wasm/c/seq_chapter.c).
 */
export interface CellRecipe {
  gates: number; // G: gate blocks, stacked along the rows of Wx and Wh in PyTorch's order
  saved: number; // values per hidden unit each forward step saves for the backward (rnn: none, it reads h_t; gru: r, z, n, gh_n; lstm: i, f, g, o)
  code: number; // the CELL override of the cell kernels (kernels/lib/gates.wgsl)
  chapterKernels: boolean; // has step kernels of its own for the chapter's model
}

export const RECIPES: Record<CellKind, CellRecipe> = {
  rnn: { gates: 1, saved: 0, code: 0, chapterKernels: true },
  gru: { gates: 3, saved: 4, code: 1, chapterKernels: false },
  lstm: { gates: 4, saved: 4, code: 2, chapterKernels: false },
};

/** G per cell (RECIPES[cell].gates). */
export const GATES: Record<CellKind, number> = { rnn: RECIPES.rnn.gates, gru: RECIPES.gru.gates, lstm: RECIPES.lstm.gates };

export const CELLS: CellKind[] = ['rnn', 'gru', 'lstm'];

/**
 * Whether a call runs the rnn recipe's own step kernels, the chapter's (kernels/rnn_*.wgsl and
 * window_*.wgsl on the GPU, rnnForwardStep, rnnBackwardStep and windowBackwardStep of src/cpu/kernels.ts
 * on the CPU, seq_chapter.c's steps on wasm), instead of the cell kernels every recipe shares (cell_*.wgsl with CELL = rnn). They
 * serve the chapter's model and only it: one rnn layer in one direction, every sequence T steps, a
 * head, and one bias per product (h_t = phi(Whx x_t + Whh h_{t-1} + bh), o_t = Wqh h_t + bq), or none.
 * An RnnModel without lengths is that case; a SequenceModel is when its one rnn layer has no biases
 * (a SequenceModel's biases come in pairs bx, bh) and its head none. Measured on SwiftShader, a
 * gradient call on the chapter's kernels takes 0.95 of the cell kernels' time (bench/step-variants.mjs).
 */
export function runsChapterKernels(c: ChapterCase): boolean {
  return RECIPES[c.cell].chapterKernels && c.L === 1 && c.dirs === 1 && c.hasHead && !c.lengths && !c.recurrentBias && c.inputBias === c.headBias;
}

export interface ChapterCase {
  cell: CellKind;
  L: number;
  dirs: number;
  hasHead: boolean;
  lengths: Int32Array | null;
  inputBias: boolean; // bx (an RnnModel's bh)
  recurrentBias: boolean; // bh of the layer (an RnnModel has none of its own)
  headBias: boolean;
}

/** The ChapterCase of a call from where its parameters lie (bx, bh, b are -1 when absent). */
export function chapterCaseOf(
  p: { cell: CellKind; L: number; dirs: number; lengths: Int32Array | null },
  layout: { layers: { bx: number; bh: number }[]; head: { b: number } | null },
): ChapterCase {
  const first = layout.layers[0];
  return {
    ...p,
    hasHead: layout.head !== null,
    inputBias: first.bx >= 0,
    recurrentBias: first.bh >= 0,
    headBias: layout.head !== null && layout.head.b >= 0,
  };
}

export function isSequenceModel(model: AnyModel): model is SequenceModel {
  return typeof model === 'object' && model !== null && 'cell' in model;
}

/** L, dirs and the input width of layer l (d for l = 0, dirs*h above). */
export function stackShape(model: SequenceModel): { L: number; dirs: number; G: number; inputWidth: (l: number) => number } {
  const L = model.numLayers ?? 1;
  const dirs = model.bidirectional ? 2 : 1;
  return { L, dirs, G: GATES[model.cell], inputWidth: (l) => (l === 0 ? model.inputSize : dirs * model.hiddenSize) };
}

/**
 * An RnnModel as a SequenceModel: one 'rnn' layer whose single bias bh is bx (there is no bh),
 * with the head (Wqh, bq). The arrays are shared, not copied. Internal: the public
 * validation asks for both biases or neither.
 */
export function rnnAsSequence(model: RnnModel): SequenceModel {
  const layer = model.bh ? { Wx: model.Whx, Wh: model.Whh, bx: model.bh } : { Wx: model.Whx, Wh: model.Whh };
  return {
    cell: 'rnn',
    inputSize: model.inputSize,
    hiddenSize: model.hiddenSize,
    activation: model.activation,
    layers: [layer],
    head: model.bq ? { outputSize: model.outputSize, W: model.Wqh, b: model.bq } : { outputSize: model.outputSize, W: model.Wqh },
  };
}

/** The GradientResult of an RnnModel from the gradients of its rnnAsSequence model (bx is bh, the head is Wqh, bq). */
export function rnnGradientsOf(r: SequenceGradients): GradientResult {
  const result: GradientResult = {
    loss: r.loss,
    dWhx: r.layers[0].dWx,
    dWhh: r.layers[0].dWh,
    dWqh: r.head!.dW,
    dh0: r.dh0,
    hT: r.hT,
    gradNorm: r.gradNorm,
    clipped: r.clipped,
    nonFinite: r.nonFinite,
  };
  if (r.layers[0].dbx && r.head!.db) {
    result.dbh = r.layers[0].dbx;
    result.dbq = r.head!.db;
  }
  if (r.dx) result.dx = r.dx;
  if (r.gradNormPerStep) result.gradNormPerStep = r.gradNormPerStep;
  if (r.xi) result.xi = r.xi;
  return result;
}

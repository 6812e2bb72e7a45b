// The kernel variants an engine can run, and the tuning options and table of
// createEngine({ tuning }) / engine.tuning(). Shared by engine.ts and src/gpu/
// (neither imports the other for these).

/**
 * The forward step of every cell:
 * - 'tile4' (the default): each invocation a register tile of 4 rows b by 4
 *   rows of Wh (one unit's G gates, or 4 units of rnn), as the vanilla
 *   rnn_forward_step.wgsl (cell_forward_tile4.wgsl; the fastest measured on
 *   SwiftShader, bench/step-variants.mjs);
 * - 'direct': one invocation per output (b, j) reads its rows of Wh straight
 *   from storage (cell_forward_step.wgsl; the default before 'tile4');
 * - 'lanes4', 'lanes16': 4 or 16 invocations per output split each dot product,
 *   neighbours reading neighbouring words of Wh (coalesced), partial sums met
 *   in workgroup memory; 4 or 16 times the workgroups (cell_forward_lanes.wgsl);
 * - 'subgroup4': as 'lanes4' with the partial sums met by subgroup shuffles
 *   (adapters with the 'subgroups' feature; cell_forward_subgroup.wgsl);
 * - 'persistent': every step of a layer in ONE dispatch, one workgroup per
 *   direction looping over time with h_prev staged in workgroup memory; only
 *   where B*h fits the adapter's workgroup storage;
 * - 'splitk': the recurrent product Wh h_prev split along k over S workgroups
 *   (grid z) into partial sums, then a second dispatch adding the S partials in
 *   a fixed order and finishing the cell (cell_forward_splitk.wgsl, its REDUCE
 *   override): two dispatches per step, S times the workgroups of 'direct'
 *   (S = forwardSplits in src/gpu/variants.ts). The tuner tries it only where
 *   B*h <= 8192 (the char shape's 32*256: 'direct' launches 128 workgroups or fewer there).
 */
export type ForwardStepVariant = 'tile4' | 'direct' | 'lanes4' | 'lanes16' | 'subgroup4' | 'persistent' | 'splitk';
/**
 * The reverse-sweep step: 'tile4' (the default: each invocation a 4x4 register
 * tile of the carry dGh Wh, cell_backward_tile4.wgsl; window(tau) too,
 * cell_window_backward_tile4.wgsl), 'direct' (one invocation per (b, j),
 * cell_backward_step.wgsl) or the carry split over 4 or 16 lanes
 * (cell_backward_lanes.wgsl); or 'persistent': a layer's whole sweep (every step, dh0 included) in
 * ONE dispatch, one workgroup per direction looping over time, the carry and the gate gradients it
 * is made of in workgroup memory (cell_backward_sweep.wgsl); only where about 4*(G+1)*B*h + 8*256 bytes
 * fit the adapter's workgroup storage. window(tau) runs cell_window_backward_tile4 with 'tile4' and
 * cell_window_backward_step with every other choice.
 */
export type BackwardStepVariant = 'tile4' | 'direct' | 'lanes4' | 'lanes16' | 'persistent';
/**
 * The matmul's tile of C per workgroup: 32x32 (the default), 16x16 (4x the
 * workgroups), 64x64; 'tile32pad': 32x32 with the staged rows of workgroup
 * memory padded by one vec4 (a stride of 36 words, not 32: the 16 rows a
 * staging pass writes fall in different banks).
 */
export type MatmulVariant = 'tile32' | 'tile16' | 'tile64' | 'tile32pad';

export interface KernelChoice {
  forwardStep: ForwardStepVariant;
  backwardStep: BackwardStepVariant;
  matmul: MatmulVariant;
  /** Unidirectional stacks: layer l's step t and layer l+1's step t-1 in one dispatch (T + L - 1 step dispatches). */
  wavefront: boolean;
  /**
   * The reverse sweep's wavefront (unidirectional stacks, not with a 'persistent' backwardStep or
   * window truncation): layer l+1's step t and layer l's step t+1 in one dispatch, the gradient into
   * each layer's output made inline in the step (cell_backward_sweep.wgsl): T + L backward step
   * dispatches instead of L*(T+1), and none of the L-1 products dY_{l-1}. A field of its own, apart
   * from `wavefront` (the forward's), so that each is measured by itself; absent means false
   * (tables from before it stay valid).
   */
  backwardWavefront?: boolean;
  // The chapter's kernels, which an RnnModel call runs (src/gpu/chapter-kernels.ts); absent: the default.
  /** The forward step of an RnnModel (see RnnForwardStepVariant). */
  rnnForwardStep?: RnnForwardStepVariant;
  /** The reverse-sweep step of an RnnModel under full, chunked or randomized truncation. */
  rnnBackwardStep?: RnnBackwardStepVariant;
  /** The reverse-sweep step of an RnnModel under window(tau). */
  windowStep?: WindowStepVariant;
  /** The gradient norm and loss of an RnnModel call: one workgroup, or partial sums over many then one. */
  finalize?: FinalizeVariant;
}

/**
 * The forward step of an RnnModel, H_t = phi(P_t + H_{t-1} Whh^T):
 * - 'direct' (default): 32x32 tiles of H_t, 4x4 per invocation (rnn_forward_step.wgsl; fastest on SwiftShader);
 * - 'small': 8x8 tiles, one output per invocation: 16x the workgroups (rnn_forward_small.wgsl);
 * - 'coalesced': 64 invocations along j reading a transposed copy of Whh made
 *   once per call, neighbours reading neighbouring words (rnn_forward_small.wgsl, TRANSPOSED);
 * - 'splitk': the product split over k across workgroups into partial sums,
 *   then a reduce dispatch adding P_t and applying phi in a fixed order
 *   (rnn_step_split.wgsl, rnn_forward_reduce.wgsl): two dispatches per step;
 * - 'subgroup4': 4 lanes per output over k, neighbours reading neighbouring
 *   words of a row of Whh, the lanes' sums met by subgroup shuffles (adapters
 *   with the 'subgroups' feature; rnn_forward_subgroup.wgsl).
 */
export type RnnForwardStepVariant = 'direct' | 'small' | 'coalesced' | 'splitk' | 'subgroup4';
/** 'direct' (default, rnn_backward_step.wgsl), 'small' (8x8 tiles, rnn_backward_small.wgsl), 'splitk' (rnn_step_split.wgsl + rnn_backward_reduce.wgsl). */
export type RnnBackwardStepVariant = 'direct' | 'small' | 'splitk';
/** 'direct' (default, window_backward_step.wgsl) or 'small' (8x8 tiles, window_backward_small.wgsl). */
export type WindowStepVariant = 'direct' | 'small';
/** 'single' (default: finalize.wgsl in one workgroup) or 'multi' (finalize_parts.wgsl over many workgroups, then finalize.wgsl over their partials). */
export type FinalizeVariant = 'single' | 'multi';

/** What engine.tuning() returns, and what createEngine({ tuning: { table } }) takes back. */
export interface TuningTable {
  /** The adapter the choices were measured on ("vendor architecture device"). */
  adapter: string;
  /**
   * Per shape class (see shapeClass in src/gpu/variants.ts): the choice; where it
   * was measured, the ms of each candidate's call, the ms spent on the class and
   * its longest single run (the bound is budgetMs + longestRunMs).
   */
  classes: Record<string, KernelChoice & { measured?: Record<string, number>; spentMs?: number; longestRunMs?: number }>;
}

export interface TuningOptions {
  /** 'lazy' (default): a shape class is tuned on the first call that meets it; 'manual': only by engine.tune(). */
  mode?: 'lazy' | 'manual';
  /** Wall-clock time one shape class may take to tune (default 500 ms); no candidate starts after it has passed. */
  budgetMs?: number;
  /** Fixes these kernels' variants for every shape class (no measuring for them). */
  fixed?: Partial<KernelChoice>;
  /** Choices measured before (engine.tuning() of an earlier engine), used as given for their classes. */
  table?: TuningTable;
}

/**
 * 'auto' (the default): lazy tuning on a hardware adapter; on a software adapter
 * (SwiftShader) the defaults, which were measured best there. 'off': the defaults.
 */
export type TuningOption = 'auto' | 'off' | TuningOptions;

export const DEFAULT_CHOICE: KernelChoice = { forwardStep: 'tile4', backwardStep: 'tile4', matmul: 'tile32', wavefront: false, backwardWavefront: false };
export const FORWARD_STEP_VARIANTS: readonly ForwardStepVariant[] = ['tile4', 'direct', 'lanes4', 'lanes16', 'subgroup4', 'persistent', 'splitk'];
export const BACKWARD_STEP_VARIANTS: readonly BackwardStepVariant[] = ['tile4', 'direct', 'lanes4', 'lanes16', 'persistent'];
export const MATMUL_VARIANTS: readonly MatmulVariant[] = ['tile32', 'tile16', 'tile64', 'tile32pad'];
/** The defaults of the vanilla kernels, which an RnnModel call runs when its choice leaves them out. */
export const DEFAULT_RNN_CHOICE: Required<Pick<KernelChoice, 'rnnForwardStep' | 'rnnBackwardStep' | 'windowStep' | 'finalize'>> = {
  rnnForwardStep: 'direct',
  rnnBackwardStep: 'direct',
  windowStep: 'direct',
  finalize: 'single',
};
export const RNN_FORWARD_STEP_VARIANTS: readonly RnnForwardStepVariant[] = ['direct', 'small', 'coalesced', 'splitk', 'subgroup4'];
export const RNN_BACKWARD_STEP_VARIANTS: readonly RnnBackwardStepVariant[] = ['direct', 'small', 'splitk'];
export const WINDOW_STEP_VARIANTS: readonly WindowStepVariant[] = ['direct', 'small'];
export const FINALIZE_VARIANTS: readonly FinalizeVariant[] = ['single', 'multi'];

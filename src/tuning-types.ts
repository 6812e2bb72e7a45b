// The kernel variants an engine can run, and the tuning options and table of
// createEngine({ tuning }) / engine.tuning(). Shared by engine.ts and src/gpu/
// (neither imports the other for these).

/**
 * The forward step of every cell:
 * - 'direct': one invocation per output (b, j) reads its rows of Wh straight
 *   from storage (cell_forward_step.wgsl; the fastest measured on SwiftShader);
 * - 'lanes4', 'lanes16': 4 or 16 invocations per output split each dot product,
 *   neighbours reading neighbouring words of Wh (coalesced), partial sums met
 *   in workgroup memory; 4 or 16 times the workgroups (cell_forward_lanes.wgsl);
 * - 'subgroup4': as 'lanes4' with the partial sums met by subgroup shuffles
 *   (adapters with the 'subgroups' feature; cell_forward_subgroup.wgsl);
 * - 'persistent': every step of a layer in ONE dispatch, one workgroup per
 *   direction looping over time with h_prev staged in workgroup memory; only
 *   where B*h fits the adapter's workgroup storage.
 */
export type ForwardStepVariant = 'direct' | 'lanes4' | 'lanes16' | 'subgroup4' | 'persistent';
/**
 * The reverse-sweep step: 'direct' (cell_backward_step.wgsl) or the carry split over 4 or 16 lanes
 * (cell_backward_lanes.wgsl); or 'persistent': a layer's whole sweep (every step, dh0 included) in
 * ONE dispatch, one workgroup per direction looping over time, the carry and the gate gradients it
 * is made of in workgroup memory (cell_backward_sweep.wgsl); only where about 4*(G+1)*B*h + 8*256 bytes
 * fit the adapter's workgroup storage. window(tau) keeps its own kernel whatever is chosen.
 */
export type BackwardStepVariant = 'direct' | 'lanes4' | 'lanes16' | 'persistent';
/** The matmul's tile of C per workgroup: 32x32 (the default), 16x16 (4x the workgroups), 64x64. */
export type MatmulVariant = 'tile32' | 'tile16' | 'tile64';

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
}

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

export const DEFAULT_CHOICE: KernelChoice = { forwardStep: 'direct', backwardStep: 'direct', matmul: 'tile32', wavefront: false, backwardWavefront: false };
export const FORWARD_STEP_VARIANTS: readonly ForwardStepVariant[] = ['direct', 'lanes4', 'lanes16', 'subgroup4', 'persistent'];
export const BACKWARD_STEP_VARIANTS: readonly BackwardStepVariant[] = ['direct', 'lanes4', 'lanes16', 'persistent'];
export const MATMUL_VARIANTS: readonly MatmulVariant[] = ['tile32', 'tile16', 'tile64'];

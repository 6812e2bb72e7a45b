// Records one BPTT computation into a Recorder: everything that is not
// sequential in time as one large product over T*B rows, the recurrence as one
// fused dispatch per step. The same recording serves engine.gradients, the
// trainer and the device-level API; only the buffers differ.
import type { Activation, LossKind } from '../types.js';
import type { ParamLayout } from '../params.js';
import type { Recorder } from './context.js';
import { kernel } from './kernels.js';
import { statsLayout } from './stats.js';
import type { KernelChoice } from '../tuning-types.js';
import { applyMatmulChoice, recordFinalize, recordRnnBackwardStep, recordRnnForwardSteps, recordWindowStep, rnnExtraDispatches, rnnExtraSizes } from './rnn-variants.js';

/** The ACTIVATION override of every kernel with phi: 0 identity, 1 tanh, 2 relu. */
export const ACTIVATION_CODE: Record<Activation, number> = { identity: 0, tanh: 1, relu: 2 };
const TILE = 32; // C tile of matmul.wgsl and of the step kernels
const NO_NORM = 0xffffffff;

/** Sizes and strategy of one computation, with the derived dispatch geometry. */
export interface GpuShape {
  T: number;
  B: number;
  d: number;
  h: number;
  q: number;
  tokens: boolean;
  hasBias: boolean;
  activation: Activation;
  loss: LossKind;
  window: number; // tau for window(tau), else 0
  xi: Float32Array | null; // xi_1..xi_T for full, chunked and randomized
  layout: ParamLayout;
  splits: number; // split-K blocks of the weight-gradient reductions
  kPerSplit: number;
  stepParts: number; // workgroups of one step kernel = norm partials per step
  choice?: KernelChoice; // the kernel variants (src/gpu/rnn-variants.ts: withRnnChoice); absent: the defaults
}

export function planShape(
  dims: { T: number; B: number; d: number; h: number; q: number },
  flags: { tokens: boolean; hasBias: boolean; activation: Activation; loss: LossKind; window: number; xi: Float32Array | null },
  layout: ParamLayout,
): GpuShape {
  const R = dims.T * dims.B;
  // Split-K blocks so that dWhh = dA^T H_prev has about 128 workgroups, each
  // block at least 256 rows: more splits only add partial sums to reduce
  // (on SwiftShader 4 splits of the char case were 1.5x slower than 2).
  const tiles = Math.ceil(dims.h / TILE) ** 2;
  const splits0 = Math.max(1, Math.min(8, Math.floor(R / 256), Math.ceil(128 / tiles)));
  const kPerSplit = Math.ceil(R / splits0 / 16) * 16;
  const splits = Math.ceil(R / kPerSplit);
  const stepParts = Math.ceil(dims.h / TILE) * Math.ceil(dims.B / TILE);
  // window(tau) with tau >= T is full BPTT; more slots than steps would only hold zeros.
  const window = flags.window > 0 ? Math.min(flags.window, dims.T) : 0;
  return { ...dims, ...flags, window, layout, splits, kPerSplit, stepParts };
}

/** The buffers of one computation. Sizes in elements (f32 unless noted). */
export interface GpuBuffers {
  params: GPUBuffer; // [total]                   Whx | Whh | Wqh | bh | bq
  x: GPUBuffer; // [T*B*d], or i32 [T*B] token ids
  csr: GPUBuffer | null; // u32 [d + 1 + T*B]     rows grouped by token id (tokens; null: scan every row)
  labels: GPUBuffer; // i32 [T*B]                 class ids (cross-entropy; any buffer otherwise)
  targets: GPUBuffer; // [T*B*q]                  mse targets (any buffer otherwise)
  H: GPUBuffer; // [(T+1)*B*h]                    H_0 = h0, then H_1..H_T
  P: GPUBuffer; // [T*B*h]                        X Whx^T + bh
  O: GPUBuffer; // [T*B*q]                        o, then dO in place (or dO uploaded, loss 'none')
  G: GPUBuffer; // [T*B*h]                        dO Wqh
  dA: GPUBuffer; // [(T+1)*B*h]                   dh_0, then dA_1..dA_T
  dhT: GPUBuffer; // [B*h]
  slots: GPUBuffer | null; // [2*tau*B*h]         window(tau) only
  partials: GPUBuffer; // [splits*total]          split-K partial gradients
  grad: GPUBuffer; // [total]                     dWhx | dWhh | dWqh | dbh | dbq
  stepPartials: GPUBuffer; // [T*stepParts]
  rowLoss: GPUBuffer; // [T*B]
  stats: GPUBuffer; // Stats of kernels/finalize.wgsl, T per-step norms
  dx: GPUBuffer | null; // [T*B*d]
  WhhT: GPUBuffer | null; // [h*h]                Whh transposed ('coalesced' and 'splitk' forward variants)
  stepScratch: GPUBuffer | null; // [splits*B*h]  partial sums of the 'splitk' step variants
  finalParts: GPUBuffer | null; // [3*parts]      partials of the 'multi' finalize
}

/** Element counts of every buffer of a shape, for allocation and limit checks. */
export function bufferSizes(s: GpuShape, withDx: boolean): Record<keyof GpuBuffers, number> {
  const R = s.T * s.B;
  return {
    params: s.layout.total,
    x: s.tokens ? R : R * s.d,
    csr: s.tokens ? s.d + 1 + R : 0,
    labels: R,
    targets: s.loss === 'mse' ? R * s.q : 1,
    H: (s.T + 1) * s.B * s.h,
    P: R * s.h,
    O: R * s.q,
    G: R * s.h,
    dA: (s.T + 1) * s.B * s.h,
    dhT: s.B * s.h,
    slots: s.window > 0 ? 2 * s.window * s.B * s.h : 0,
    partials: s.splits * s.layout.total,
    grad: s.layout.total,
    stepPartials: s.T * s.stepParts,
    rowLoss: R,
    stats: statsLayout().perStep + s.T,
    dx: withDx ? R * s.d : 0,
    ...rnnExtraSizes(s),
  };
}

/** Workgroups for n elements at 256 per workgroup, folded over x and y. */
export function elementwise(n: number): [number, number] {
  const groups = Math.max(1, Math.ceil(n / 256));
  const x = Math.min(groups, 65535);
  return [x, Math.ceil(groups / x)];
}

function folded(groups: number): [number, number] {
  const x = Math.min(Math.max(groups, 1), 65535);
  return [x, Math.ceil(groups / x)];
}

interface MatmulArgs {
  A: GPUBuffer;
  B: GPUBuffer;
  C: GPUBuffer;
  bias?: GPUBuffer;
  M: number;
  N: number;
  K: number;
  offA?: number;
  offB?: number;
  offC?: number;
  offBias?: number;
  transA?: boolean;
  transB?: boolean;
  splits?: number;
  kPerSplit?: number;
  splitStride?: number;
  lda?: number; // row stride of the stored A (default: dense)
  ldb?: number; // row stride of the stored B (default: dense)
  accumulate?: boolean; // C += product
}

export function recordMatmul(rec: Recorder, m: MatmulArgs): void {
  const splits = m.splits ?? 1;
  // 8x8 invocations (32x32 tiles of C) unless the recorder carries a tuned
  // variant (src/gpu/variants.ts): the kernel also takes WG = 16 (64x64 tiles;
  // on SwiftShader 1.2-2.5x slower for every product here) and WG = 4.
  const wg = rec.matmulWG;
  const tile = 4 * wg;
  const direct = Math.min(m.K, m.kPerSplit ?? m.K) <= 64;
  rec.dispatch(
    kernel('matmul'),
    // Short products (K <= 64: one to four stages) read operands directly; staging
    // them in workgroup memory costs more in barriers than it saves. PAD (the
    // 'tile32pad' variant) pads the staged rows; only where there are any.
    { TRANS_A: m.transA ?? false, TRANS_B: m.transB ?? false, DIRECT: direct, WG: wg, ...(rec.matmulPad && !direct ? { PAD: rec.matmulPad } : {}) },
    { A: m.A, B: m.B, bias: m.bias ?? m.B, C: m.C },
    {
      M: m.M,
      N: m.N,
      K: m.K,
      offA: m.offA ?? 0,
      offB: m.offB ?? 0,
      offC: m.offC ?? 0,
      offBias: m.offBias ?? 0,
      hasBias: m.bias ? 1 : 0,
      kPerSplit: m.kPerSplit ?? m.K,
      splitStride: m.splitStride ?? 0,
      lda: m.lda ?? (m.transA ? m.M : m.K),
      ldb: m.ldb ?? (m.transB ? m.K : m.N),
      accumulate: m.accumulate ? 1 : 0,
    },
    [Math.ceil(m.N / tile), Math.ceil(m.M / tile), splits],
  );
}

/** P = X Whx^T + bh (or the gather of Whx columns), then H_t = phi(P_t + H_{t-1} Whh^T) for t = 1..T. */
export function recordForward(rec: Recorder, s: GpuShape, b: Pick<GpuBuffers, 'x' | 'params' | 'P' | 'H' | 'WhhT' | 'stepScratch'>): void {
  const { T, B, d, h, layout: L } = s;
  const R = T * B;
  applyMatmulChoice(rec, s);
  if (s.tokens) {
    rec.dispatch(
      kernel('gather_columns'),
      {},
      { ids: b.x, W: b.params, P: b.P },
      { R, d, h, offWhx: L.Whx, offBias: L.bh, hasBias: s.hasBias ? 1 : 0, offP: 0 },
      elementwise(R * h),
    );
  } else {
    recordMatmul(rec, { A: b.x, B: b.params, C: b.P, bias: s.hasBias ? b.params : undefined, M: R, N: h, K: d, offB: L.Whx, offBias: L.bh, transB: true });
  }
  recordRnnForwardSteps(rec, s, b); // the fused step kernel of the chosen variant (rnn-variants.ts)
}

/** O = H Wqh^T + bq over the T*B rows of H_1..H_T. */
export function recordOutput(rec: Recorder, s: GpuShape, b: Pick<GpuBuffers, 'H' | 'params' | 'O'>): void {
  const { T, B, h, q, layout: L } = s;
  recordMatmul(rec, { A: b.H, B: b.params, C: b.O, bias: s.hasBias ? b.params : undefined, M: T * B, N: q, K: h, offA: B * h, offB: L.Wqh, offBias: L.bq, transB: true });
}

/** O = H Wqh^T + bq, then the loss and dO fused, in place. */
export function recordOutputAndLoss(rec: Recorder, s: GpuShape, b: GpuBuffers): void {
  if (s.loss === 'none') return; // dO was uploaded into O
  recordOutput(rec, s, b);
  recordLoss(rec, s, b);
}

/** The row losses of O and, in place over O, dO (output_loss.wgsl). */
export function recordLoss(rec: Recorder, s: GpuShape, b: Pick<GpuBuffers, 'labels' | 'targets' | 'O' | 'rowLoss'>): void {
  const R = s.T * s.B;
  rec.dispatch(
    kernel('output_loss'),
    { LOSS: s.loss === 'cross-entropy' ? 0 : 1 },
    { labels: b.labels, targets: b.targets, O: b.O, rowLoss: b.rowLoss },
    { R, q: s.q, scale: 1 / R },
    folded(Math.ceil(R / 64)),
  );
}

export interface BackwardOptions {
  dh0: boolean; // compute dh_0 into dA slot 0
  perStepNorms: boolean;
  dx: boolean;
  clipNorm: number; // 0: no clipping
  applyClip: boolean; // scale the gradients in place (engine.gradients); the trainer folds the scale into its update
  countStep: boolean; // advance the Adam step counter in stats
}

/** G = dO Wqh, the reverse sweep, the weight gradients, their norm, clipping, dx. */
export function recordBackward(rec: Recorder, s: GpuShape, b: GpuBuffers, o: BackwardOptions): void {
  const { T, B, d, h, q, layout: L } = s;
  const R = T * B;
  const bh = B * h;
  applyMatmulChoice(rec, s);
  recordMatmul(rec, { A: b.O, B: b.params, C: b.G, M: R, N: h, K: q, offB: L.Wqh });

  // One step kernel per step, of the chosen variant (rnn-variants.ts).
  if (s.window > 0) {
    const tau = s.window;
    for (let t = T; t >= 1; t--) {
      const parity = (T - t) % 2;
      recordWindowStep(rec, s, b, {
        tau,
        first: t === T ? 1 : 0,
        offOld: (1 - parity) * tau * bh,
        offNew: parity * tau * bh,
        offG: (t - 1) * bh,
        offH: t * bh,
        offOut: t * bh,
        normBase: o.perStepNorms ? (t - 1) * s.stepParts : NO_NORM,
      });
    }
  } else {
    const xi = s.xi!;
    for (let t = T; t >= 1; t--) {
      recordRnnBackwardStep(rec, s, b, {
        offNext: t === T ? 0 : (t + 1) * bh,
        offOut: t * bh,
        offG: (t - 1) * bh,
        offH: t * bh,
        xi: t === T ? 1 : xi[t], // xi_{t+1}
        useCarry: t === T ? 0 : 1,
        useG: 1,
        applyAct: 1,
        normBase: o.perStepNorms ? (t - 1) * s.stepParts : NO_NORM,
      });
    }
  }
  if (o.dh0) {
    // dh_0 = xi_1 * dA_1 Whh (window: every slot reaches h_0, xi = 1)
    recordRnnBackwardStep(rec, s, b, {
      offNext: bh,
      offOut: 0,
      offG: 0,
      offH: 0,
      xi: s.window > 0 ? 1 : s.xi![0],
      useCarry: 1,
      useG: 0,
      applyAct: 0,
      normBase: NO_NORM,
    });
  }

  // Weight gradients: each one reduction over all T*B rows, split-K into `partials`.
  const split = { splits: s.splits, kPerSplit: s.kPerSplit, splitStride: L.total, transA: true, C: b.partials };
  if (s.tokens) {
    rec.dispatch(
      kernel('token_scatter_add'),
      { SCAN_ALL_ROWS: b.csr === null },
      { csr: b.csr ?? b.x, ids: b.x, dA: b.dA, out: b.partials },
      { R, d, h, offDA: bh, offOut: L.Whx, splits: s.splits, splitStride: L.total },
      elementwise(h * d),
    );
  } else {
    recordMatmul(rec, { ...split, A: b.dA, B: b.x, M: h, N: d, K: R, offA: bh, offC: L.Whx });
  }
  recordMatmul(rec, { ...split, A: b.dA, B: b.H, M: h, N: h, K: R, offA: bh, offB: 0, offC: L.Whh });
  recordMatmul(rec, { ...split, A: b.O, B: b.H, M: q, N: h, K: R, offB: bh, offC: L.Wqh });
  if (s.hasBias) {
    const sums = kernel('column_sums');
    const common = { R, kPerSplit: s.kPerSplit, splitStride: L.total };
    rec.dispatch(sums, {}, { A: b.dA, out: b.partials }, { ...common, N: h, offA: bh, offOut: L.bh }, [Math.ceil(h / 64), s.splits]);
    rec.dispatch(sums, {}, { A: b.O, out: b.partials }, { ...common, N: q, offA: 0, offOut: L.bq }, [Math.ceil(q / 64), s.splits]);
  }
  rec.dispatch(kernel('reduce_splits'), {}, { partials: b.partials, grad: b.grad }, { n: L.total, splits: s.splits }, elementwise(L.total));
  recordFinalize(rec, s, b, {
    R,
    hasLoss: s.loss === 'none' ? 0 : 1,
    lossScale: 1 / R,
    n: L.total,
    clipNorm: o.clipNorm,
    T,
    stepParts: o.perStepNorms ? s.stepParts : 0,
    countStep: o.countStep ? 1 : 0,
  });
  if (o.applyClip && o.clipNorm > 0) {
    rec.dispatch(kernel('scale_gradients'), {}, { stats: b.stats, grad: b.grad }, { n: L.total }, elementwise(L.total));
  }
  if (o.dx) recordMatmul(rec, { A: b.dA, B: b.params, C: b.dx!, M: R, N: d, K: h, offA: bh, offB: L.Whx });
}

/** The most dispatches a computation of this shape records (for the uniform arena). */
export function maxDispatches(s: GpuShape): number {
  return 2 * s.T + 24 + rnnExtraDispatches(s);
}

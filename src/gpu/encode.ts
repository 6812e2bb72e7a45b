// The recording helpers every walk shares: the grid of element-wise kernels
// and the tiled product of matmul.wgsl (with its split-K and accumulate forms).
// The walk itself (any model, the RnnModel one case of it) is sequence-encode.ts.
import type { Recorder } from './context.js';
import { kernel } from './kernels.js';

/** Workgroups for n elements at 256 per workgroup, folded over x and y. */
export function elementwise(n: number): [number, number] {
  const groups = Math.max(1, Math.ceil(n / 256));
  const x = Math.min(groups, 65535);
  return [x, Math.ceil(groups / x)];
}

export function folded(groups: number): [number, number] {
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

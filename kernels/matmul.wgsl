// matmul: C[M, N] = op(A) op(B) (+ bias[N] broadcast over rows)
//
//   op(A) is A[M, K] row-major, or A^T when TRANS_A (A stored as [K, M]);
//   op(B) is B[K, N] row-major, or B^T when TRANS_B (B stored as [N, K]).
//   Every operand starts at an element offset (offA, offB, offC, offBias), so
//   one buffer can hold several tensors (H_0..H_T, or every parameter), and A
//   and B have row strides lda, ldb (elements between stored rows; K or M for
//   A, N or K for B when dense), so an operand can be a column block of a wider
//   matrix (one direction's h columns of a bidirectional layer output).
//   accumulate = 1 adds the product to C instead of overwriting it (the
//   gradient to the layer below, summed over both directions).
//
// Used for the non-sequential parts of BPTT, each one large product:
//   P = X Whx^T + bh        (TRANS_B, over T*B rows)
//   O = H Wqh^T + bq        (TRANS_B)
//   G = dO Wqh, dx = dA Whx (plain)
//   dWhx = dA^T X, dWhh = dA^T H_prev, dWqh = dO^T H   (TRANS_A, K = T*B rows)
//
// Split-K: workgroup z handles rows k in [z*kPerSplit, (z+1)*kPerSplit) and
// writes its partial product to C + z*splitStride; a later pass sums the
// splits in a fixed order (deterministic, no atomics).
//
// Work split: a workgroup of WG x WG invocations (WG = 8 or 16, an override
// the host picks by the size of C) computes a TILE x TILE tile of C, TILE =
// 4*WG; each invocation a 4x4 block in four named vec4 registers (an indexed
// array would be spilled to memory by some compilers, SwiftShader's among
// them). Per K step of 16, the workgroup stages a 16 x TILE slice of op(A) and
// of op(B) in workgroup memory (4 or 8 KiB in all), laid out k-major so the
// inner loop reads both as vec4 loads. Loads outside
// [M, N, K] read 0 and stores outside are skipped: any size works.

struct Params {
  M: u32,
  N: u32,
  K: u32,
  offA: u32,
  offB: u32,
  offC: u32,
  offBias: u32,
  hasBias: u32,
  kPerSplit: u32,
  splitStride: u32,
  lda: u32,
  ldb: u32,
  accumulate: u32,
}

override TRANS_A: bool = false;
override TRANS_B: bool = false;
// DIRECT: no staging in workgroup memory; each invocation reads its operands
// straight from storage (no barriers). Chosen by the host for short K, where
// one or two stages cannot pay for the barriers.
override DIRECT: bool = false;

override WG: u32 = 8u; // invocations per side of the workgroup
override TILE: u32 = 4u * WG; // rows and columns of C per workgroup
// PAD vec4 of padding after each staged row (the variant 'tile32pad': 1). A
// row of TILE floats is 32 words at WG = 8: the 16 invocations that stage one
// column of op(A) (TRANS_A = false: consecutive kk) all write the same bank;
// a stride of 36 words spreads them over 8 banks.
override PAD: u32 = 0u;
override STRIDE: u32 = WG + PAD; // vec4 per staged row
const TK: u32 = 16u; // K per stage

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> C: array<f32>;

var<workgroup> tileA: array<vec4<f32>, TK * STRIDE>; // [TK][STRIDE]: op(A)[m0 + 4i..4i+3, k] (i < TILE/4)
var<workgroup> tileB: array<vec4<f32>, TK * STRIDE>; // [TK][STRIDE]: op(B)[k, n0 + 4j..4j+3]

fn loadA(m: u32, k: u32, kEnd: u32) -> f32 {
  if (m >= params.M || k >= kEnd) { return 0.0; }
  if (TRANS_A) { return A[params.offA + k * params.lda + m]; }
  return A[params.offA + m * params.lda + k];
}

fn loadB(k: u32, n: u32, kEnd: u32) -> f32 {
  if (n >= params.N || k >= kEnd) { return 0.0; }
  if (TRANS_B) { return B[params.offB + n * params.ldb + k]; }
  return B[params.offB + k * params.ldb + n];
}

@compute @workgroup_size(WG, WG)
fn main(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(local_invocation_id) lid: vec3<u32>,
  @builtin(local_invocation_index) li: u32,
) {
  let m0 = wg.y * TILE;
  let n0 = wg.x * TILE;
  let kBegin = wg.z * params.kPerSplit;
  let kEnd = min(params.K, kBegin + params.kPerSplit);

  // accN = C[m0 + 4*lid.y + N, n0 + 4*lid.x .. +3], in registers (named, never indexed)
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  if (DIRECT) {
    // Clamped rows and columns: every load is in range; the store skips the extra ones.
    let m = m0 + 4u * lid.y;
    let n = n0 + 4u * lid.x;
    let mLast = params.M - 1u;
    let nLast = params.N - 1u;
    let am = vec4<u32>(min(m, mLast), min(m + 1u, mLast), min(m + 2u, mLast), min(m + 3u, mLast));
    let bn = vec4<u32>(min(n, nLast), min(n + 1u, nLast), min(n + 2u, nLast), min(n + 3u, nLast));
    for (var k = kBegin; k < kEnd; k++) {
      var ia: vec4<u32>;
      var ib: vec4<u32>;
      if (TRANS_A) { ia = params.offA + k * params.lda + am; } else { ia = params.offA + am * params.lda + k; }
      if (TRANS_B) { ib = params.offB + bn * params.ldb + k; } else { ib = params.offB + k * params.ldb + bn; }
      let b = vec4<f32>(B[ib.x], B[ib.y], B[ib.z], B[ib.w]);
      acc0 += A[ia.x] * b;
      acc1 += A[ia.y] * b;
      acc2 += A[ia.z] * b;
      acc3 += A[ia.w] * b;
    }
  }
  for (var k0 = kBegin; k0 < select(kEnd, kBegin, DIRECT); k0 += TK) {
    // Stage 16 x TILE of op(A) and op(B): 8 values each per invocation.
    for (var e = li; e < TK * TILE; e += WG * WG) {
      // Consecutive invocations take consecutive addresses in global memory.
      var kk: u32;
      var mm: u32;
      if (TRANS_A) { kk = e / TILE; mm = e % TILE; } else { mm = e / TK; kk = e % TK; }
      tileA[kk * STRIDE + mm / 4u][mm % 4u] = loadA(m0 + mm, k0 + kk, kEnd);
      var nn: u32;
      if (TRANS_B) { nn = e / TK; kk = e % TK; } else { kk = e / TILE; nn = e % TILE; }
      tileB[kk * STRIDE + nn / 4u][nn % 4u] = loadB(k0 + kk, n0 + nn, kEnd);
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TK; kk++) {
      let a = tileA[kk * STRIDE + lid.y];
      let b = tileB[kk * STRIDE + lid.x];
      acc0 += a.x * b;
      acc1 += a.y * b;
      acc2 += a.z * b;
      acc3 += a.w * b;
    }
    workgroupBarrier();
  }

  let cBase = params.offC + wg.z * params.splitStride;
  let m = m0 + 4u * lid.y;
  let n = n0 + 4u * lid.x;
  store(cBase, m, n, acc0);
  store(cBase, m + 1u, n, acc1);
  store(cBase, m + 2u, n, acc2);
  store(cBase, m + 3u, n, acc3);
}

fn store(cBase: u32, m: u32, n0: u32, v: vec4<f32>) {
  if (m >= params.M) { return; }
  for (var j = 0u; j < 4u; j++) {
    let n = n0 + j;
    if (n >= params.N) { return; }
    var c = v[j];
    if (params.hasBias != 0u) { c += bias[params.offBias + n]; }
    if (params.accumulate != 0u) { c += C[cBase + m * params.N + n]; }
    C[cBase + m * params.N + n] = c;
  }
}

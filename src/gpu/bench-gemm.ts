// The library's GEMM kernel (kernels/matmul.wgsl) on an n x n product, timed
// end to end (submit to completion), for the benchmarks' "fraction of the
// adapter's best GEMM rate". The answer is checked on a few entries first.
import { makeRng, uniformArray } from '../rng.js';
import { type GpuContext, upload } from './context.js';
import { recordMatmul } from './encode.js';

export interface GemmTiming {
  n: number;
  milliseconds: number[]; // each run, submit to completion
  gflops: number; // 2 n^3 / median time
  maxError: number; // worst |C - C_ref| / (1e-5 + 1e-3 |C_ref|) over sampled entries
}

export async function benchGemm(ctx: GpuContext, n: number, runs = 5): Promise<GemmTiming> {
  const device = ctx.device;
  const rng = makeRng(n);
  const a = uniformArray(rng, n * n, 1);
  const b = uniformArray(rng, n * n, 1);
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
  const A = ctx.pool.acquire(n * n * 4, usage, 'gemm A');
  const B = ctx.pool.acquire(n * n * 4, usage, 'gemm B');
  const C = ctx.pool.acquire(n * n * 4, usage, 'gemm C');
  const staging = ctx.pool.acquire(n * n * 4, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, 'gemm readback');
  try {
    upload(device, A, 0, a);
    upload(device, B, 0, b);
    const once = async (readBack: boolean) => {
      const rec = ctx.record(1);
      recordMatmul(rec, { A, B, C, M: n, N: n, K: n });
      if (readBack) rec.copy(C, 0, staging, 0, n * n * 4);
      rec.finish();
      await ctx.guard(device.queue.onSubmittedWorkDone());
    };
    await once(true);
    await staging.mapAsync(GPUMapMode.READ);
    ctx.readBytes += staging.size;
    const c = new Float32Array(staging.getMappedRange().slice(0));
    staging.unmap();
    let maxError = 0;
    for (let s = 0; s < 64; s++) {
      const i = Math.floor(rng() * n);
      const j = Math.floor(rng() * n);
      let ref = 0;
      for (let k = 0; k < n; k++) ref += a[i * n + k] * b[k * n + j];
      maxError = Math.max(maxError, Math.abs(c[i * n + j] - ref) / (1e-5 + 1e-3 * Math.abs(ref)));
    }
    const milliseconds: number[] = [];
    for (let r = 0; r < runs; r++) {
      const start = performance.now();
      await once(false);
      milliseconds.push(performance.now() - start);
    }
    const sorted = [...milliseconds].sort((x, y) => x - y);
    const median = sorted[Math.floor(sorted.length / 2)];
    return { n, milliseconds, gflops: (2 * n ** 3) / (median * 1e6), maxError };
  } finally {
    for (const buf of [A, B, C, staging]) ctx.pool.release(buf);
  }
}

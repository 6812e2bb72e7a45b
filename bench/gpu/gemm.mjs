// The GPU benchmark's GEMM at n (bench/gpu/run.mjs): the library's matmul
// (kernels/matmul.wgsl through engine.benchGemm: checked on sampled entries,
// then timed from submit to completion) with each tile variant, and each peer's
// product (bench/gpu/peers.ts), checked on sampled entries against float64.

// src/gpu/variants.ts matmulWG: invocations per side of each tile variant (a tile of C is 4 WG x 4 WG).
const TILES = { tile32: 8, tile16: 4, tile64: 16 };

/**
 * engine.benchGemm always records with the default tile (32x32). To time the
 * other variants the bench sets the recorder's matmulWG, as a tuned sequence
 * call does, by wrapping the engine's context.record: a reach into the engine's
 * internals that a public hook (benchGemm(n, runs, { matmul })) should replace.
 * Returns null where the engine is not built that way (the variant is then not run).
 */
async function withTile(engine, wg, fn) {
  const ctx = engine.impl?.context;
  if (typeof ctx?.record !== 'function') return null;
  const own = Object.prototype.hasOwnProperty.call(ctx, 'record');
  const original = ctx.record;
  ctx.record = function (...a) {
    const rec = original.apply(this, a);
    rec.matmulWG = wg;
    return rec;
  };
  try {
    return await fn();
  } finally {
    if (own) ctx.record = original;
    else delete ctx.record;
  }
}

/** Worst |c - ref| / (1e-3 max|ref| + 1e-3 |ref|) over 64 sampled entries of a b (float64). */
function sampledError(a, b, c, n, rng) {
  const refs = [];
  for (let s = 0; s < 64; s++) {
    const i = Math.floor(rng() * n);
    const j = Math.floor(rng() * n);
    let ref = 0;
    for (let k = 0; k < n; k++) ref += a[i * n + k] * b[k * n + j];
    refs.push([i * n + j, ref]);
  }
  const top = Math.max(...refs.map(([, r]) => Math.abs(r)));
  return Math.max(...refs.map(([at, r]) => Math.abs(c[at] - r) / (1e-3 * top + 1e-3 * Math.abs(r))));
}

export async function runGemms({ engine, lib, n, runs, peers, peerWhyNot, PEERS }) {
  const flops = 2 * n ** 3;
  const rows = {};
  for (const [variant, wg] of Object.entries(TILES)) {
    const key = `library ${variant}`;
    try {
      const t = wg === 8 ? await engine.benchGemm(n, runs) : await withTile(engine, wg, () => engine.benchGemm(n, runs));
      if (!t) rows[key] = { notRun: 'this build has no engine context to set the tile on' };
      else if (!(t.maxError <= 1)) rows[key] = { notRun: `wrong product (worst ${t.maxError.toFixed(2)} of tolerance)` };
      else rows[key] = { milliseconds: t.milliseconds, maxError: t.maxError, gflops: flops / (Math.min(...t.milliseconds) * 1e6) };
    } catch (e) {
      rows[key] = { notRun: `error: ${e.message}` };
    }
  }
  const rng = lib.makeRng(n + 1);
  const a = lib.uniformArray(rng, n * n, 1);
  const b = lib.uniformArray(rng, n * n, 1);
  for (const id of PEERS) {
    if (peerWhyNot[id] || !peers) {
      rows[id] = { notRun: peerWhyNot[id] ?? 'no peers' };
      continue;
    }
    try {
      const { c, milliseconds } = await peers.peerGemm(id, n, a, b, runs);
      const maxError = sampledError(a, b, c, n, rng);
      rows[id] = maxError <= 1 ? { milliseconds, maxError, gflops: flops / (Math.min(...milliseconds) * 1e6) } : { notRun: `wrong product (worst ${maxError.toFixed(2)} of tolerance)` };
    } catch (e) {
      rows[id] = { notRun: `error: ${e.message}` };
    }
  }
  const best = (keys) => keys.filter((k) => rows[k]?.gflops).reduce((m, k) => (!m || rows[k].gflops > m.gflops ? { variant: k, gflops: rows[k].gflops } : m), null);
  return { n, rows, libraryBest: best(Object.keys(rows).filter((k) => k.startsWith('library'))), peerBest: best(PEERS) };
}

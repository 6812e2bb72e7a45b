// Checks a backend's loss and gradients against the CPU reference, element by
// element: |got - ref| <= atol + rtol |ref|, with atol = atolOfMax * max|ref|
// over the tensor (gradients are scaled by 1/(T B), so a fixed atol would mean
// something different in every case). Non-finite values always fail.

/**
 * got, ref: { loss, ...named gradients } ({ dWhx, dWhh, dWqh, dbh, dbq } for an RnnModel,
 * l0.dWx ... head.db for a stack); every name of ref is compared. tol: { rtol, atolOfMax }.
 * Used by the page and by bench/node-wasm.mjs.
 */
export function compareGrads(got, ref, tol) {
  const NAMES = ['loss', ...Object.keys(ref).filter((k) => k !== 'loss')];
  let worst = 0;
  let worstAt = '';
  const mismatches = [];
  let nBad = 0;
  for (const name of NAMES) {
    const g = name === 'loss' ? [got.loss] : (got[name] ?? []);
    const r = name === 'loss' ? [ref.loss] : ref[name];
    if (g.length !== r.length) {
      mismatches.push(`${name}: length ${g.length}, expected ${r.length}`);
      nBad++;
      worst = Infinity;
      worstAt = name;
      continue;
    }
    let maxRef = 0;
    for (let i = 0; i < r.length; i++) maxRef = Math.max(maxRef, Math.abs(r[i]));
    const atol = tol.atolOfMax * maxRef + 1e-30;
    for (let i = 0; i < r.length; i++) {
      const bound = atol + tol.rtol * Math.abs(r[i]);
      const err = Math.abs(g[i] - r[i]);
      const ratio = Number.isFinite(g[i]) ? err / bound : Infinity;
      if (ratio > worst || (worstAt === '' && ratio >= worst)) {
        worst = ratio;
        worstAt = `${name}[${i}]`;
      }
      if (!(ratio <= 1)) {
        nBad++;
        if (mismatches.length < 5) mismatches.push(`${name}[${i}]: got ${g[i]}, ref ${r[i]} (|diff| ${err.toExponential(2)} > ${bound.toExponential(2)})`);
      }
    }
  }
  if (nBad > mismatches.length) mismatches.push(`... ${nBad} mismatching elements in all`);
  return { ok: nBad === 0, worst, worstAt, mismatches };
}

// What bench/gpu/run.mjs and bench/gpu/sweep.mjs share: the FLOP count of a
// SequenceModel gradient call, a seeded problem of a case, the check against
// the CPU engine, and the interleaved timing of several engines. Runs from the
// repo and from the packed folder (bench/gpu/pack.mjs copies it beside them).

// FLOPs of one gradient call of a stack, matrix products only (cases.mjs's count for L = 1, G = 1):
// per layer 6 G h^2 T B for the recurrence; 4 G d h (layer 0, dense x; 0 for token ids) or 6 G h^2 (above: dWx, Gx, dY below) for the input; 6 h q for the head.
export const seqFlops = ({ T, B, d, h, q, tokens, G, L: layers }) => T * B * (layers * 6 * G * h * h + (tokens ? 0 : 4 * G * d * h) + (layers - 1) * 6 * G * h * h + 6 * h * q);

/** A seeded stack (biases, a head) and batch of case c; lib: the library's module (makeRng, uniformArray). */
export function problem(lib, c) {
  const { makeRng, uniformArray } = lib;
  const rng = makeRng(7);
  const G = { rnn: 1, gru: 3, lstm: 4 }[c.cell];
  const layers = [];
  for (let l = 0; l < c.L; l++) {
    const nIn = l === 0 ? c.d : c.h;
    layers.push({ Wx: uniformArray(rng, G * c.h * nIn, 1 / Math.sqrt(nIn)), Wh: uniformArray(rng, G * c.h * c.h, 1 / Math.sqrt(c.h)), bx: uniformArray(rng, G * c.h, 0.1), bh: uniformArray(rng, G * c.h, 0.1) });
  }
  const model = { cell: c.cell, inputSize: c.d, hiddenSize: c.h, numLayers: c.L, bidirectional: false, layers, head: { outputSize: c.q, W: uniformArray(rng, c.q * c.h, 1 / Math.sqrt(c.h)), b: uniformArray(rng, c.q, 0.1) } };
  if (c.cell === 'rnn') model.activation = 'tanh';
  const R = c.T * c.B;
  const x = c.tokens ? Int32Array.from({ length: R }, () => Math.floor(rng() * c.d)) : uniformArray(rng, R * c.d, 1);
  const y = c.loss === 'cross-entropy' ? Int32Array.from({ length: R }, () => Math.floor(rng() * c.q)) : uniformArray(rng, R * c.q, 1);
  return { model, batch: { steps: c.T, batchSize: c.B, x, y }, options: { loss: c.loss }, G };
}

/** Worst |got - want| / (atolOfMax * max|want| + rtol |want|) over every gradient. */
export function worst(got, want, tol = { rtol: 2e-3, atolOfMax: 1e-3 }) {
  let w = 0;
  const arrays = (g) => [...g.layers.flatMap((l) => [l.dWx, l.dWh, l.dbx, l.dbh]), g.head.dW, g.head.db];
  const a = arrays(got);
  arrays(want).forEach((ref, i) => {
    let m = 0;
    for (const v of ref) m = Math.max(m, Math.abs(v));
    for (let k = 0; k < ref.length; k++) w = Math.max(w, Math.abs(a[i][k] - ref[k]) / (tol.atolOfMax * m + tol.rtol * Math.abs(ref[k])));
  });
  return w;
}

/** `runs` calls alternating between the engines (each warmed up first, which tunes a tuned one): the fastest call of each, and its dispatches. */
export async function timeInterleaved(engines, p, runs) {
  for (const e of engines) await e.gradients(p.model, p.batch, p.options);
  const best = engines.map(() => Infinity);
  for (let r = 0; r < runs; r++) {
    for (let i = 0; i < engines.length; i++) {
      const t0 = performance.now();
      await engines[i].gradients(p.model, p.batch, p.options);
      best[i] = Math.min(best[i], performance.now() - t0);
    }
  }
  return engines.map((e, i) => ({ ms: best[i], dispatches: e.stats().dispatches }));
}

// A seeded model and batch for a case, from the library's own generator so that
// every backend, and every run, sees the same numbers (the page and Node alike).
// lib: the library's module (makeRng, uniformArray); spec: { T, B, d, h, q, tokens, loss, seed }.
export function makeProblem(lib, spec) {
  const { T, B, d, h, q } = spec;
  const rng = lib.makeRng(spec.seed);
  const model = {
    inputSize: d,
    hiddenSize: h,
    outputSize: q,
    activation: 'tanh',
    Whx: lib.uniformArray(rng, h * d, 0.5 / Math.sqrt(d)),
    Whh: lib.uniformArray(rng, h * h, 0.75 / Math.sqrt(h)),
    Wqh: lib.uniformArray(rng, q * h, 1 / Math.sqrt(h)),
    bh: lib.uniformArray(rng, h, 0.1),
    bq: lib.uniformArray(rng, q, 0.1),
  };
  const x = spec.tokens ? Int32Array.from({ length: T * B }, () => Math.floor(rng() * d)) : lib.uniformArray(rng, T * B * d, 1);
  const y = spec.loss === 'cross-entropy' ? Int32Array.from({ length: T * B }, () => Math.floor(rng() * q)) : lib.uniformArray(rng, T * B * q, 1);
  return { spec, model, batch: { steps: T, batchSize: B, x, y } };
}

/**
 * A stack case (spec.cell, spec.numLayers): a SequenceModel with a head, token
 * ids or values, and with spec.lengths 'uniform' the lengths drawn in 1..T
 * from seed + 1 (the x and y are those of the same case with every length T).
 */
export function makeStackProblem(lib, spec) {
  const { T, B, d, h, q, cell, numLayers } = spec;
  const G = { rnn: 1, gru: 3, lstm: 4 }[cell];
  const rng = lib.makeRng(spec.seed);
  const layers = Array.from({ length: numLayers }, (_, l) => {
    const nIn = l === 0 ? d : h;
    return {
      Wx: lib.uniformArray(rng, G * h * nIn, 0.5 / Math.sqrt(nIn)),
      Wh: lib.uniformArray(rng, G * h * h, 0.75 / Math.sqrt(h)),
      bx: lib.uniformArray(rng, G * h, 0.1),
      bh: lib.uniformArray(rng, G * h, 0.1),
    };
  });
  const model = { cell, inputSize: d, hiddenSize: h, numLayers, layers, head: { outputSize: q, W: lib.uniformArray(rng, q * h, 1 / Math.sqrt(h)), b: lib.uniformArray(rng, q, 0.1) } };
  const x = spec.tokens ? Int32Array.from({ length: T * B }, () => Math.floor(rng() * d)) : lib.uniformArray(rng, T * B * d, 1);
  const y = spec.loss === 'cross-entropy' ? Int32Array.from({ length: T * B }, () => Math.floor(rng() * q)) : lib.uniformArray(rng, T * B * q, 1);
  const batch = { steps: T, batchSize: B, x, y };
  if (spec.lengths === 'uniform') {
    const r = lib.makeRng(spec.seed + 1);
    batch.lengths = Int32Array.from({ length: B }, () => 1 + Math.floor(r() * T));
  }
  return { spec, model, batch };
}

/** A stack's gradients as named flat arrays in the library's layouts: l{k}.dWx ... head.db, in the parameter order. */
export function stackGradNames(numLayers) {
  const names = [];
  for (let k = 0; k < numLayers; k++) names.push(`l${k}.dWx`, `l${k}.dWh`, `l${k}.dbx`, `l${k}.dbh`);
  return [...names, 'head.dW', 'head.db'];
}

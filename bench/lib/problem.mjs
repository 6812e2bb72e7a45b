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

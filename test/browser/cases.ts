// The cases the bundled library runs in headless Chromium against the CPU
// reference (test/browser/compare.js does the work in the page): on WebGPU in
// browser-gradients.test.ts, on WebAssembly in browser-wasm.test.ts.
//
// Tolerances, as in gpu-setup.ts: rtol 2e-3, atol 1e-5 * max|cpu| per output
// (float32 against the float64 reference); loss and gradNorm rtol 2e-3.
export const TOL = { rtol: 2e-3, atolRel: 1e-5 };

const full = { inputGradient: true, gradNormPerStep: true };
export const GRADIENT_CASES = [
  { name: 'odd T=5 B=3 d=4 h=7 q=5, tanh, cross-entropy, full, h0, dhT', spec: { T: 5, B: 3, d: 4, h: 7, q: 5, h0: true, dhT: true, seed: 3 }, options: { loss: 'cross-entropy', ...full } },
  { name: 'odd, relu, mse, window(3), clipped', spec: { T: 5, B: 3, d: 4, h: 7, q: 5, activation: 'relu', loss: 'mse', h0: true, dhT: true, seed: 4 }, options: { loss: 'mse', truncation: { kind: 'window', steps: 3 }, clipNorm: 0.05, ...full } },
  { name: "odd, identity, 'none' with dO, no biases, chunked(2)", spec: { T: 5, B: 3, d: 4, h: 7, q: 5, activation: 'identity', loss: 'none', bias: false, h0: true, dhT: true, seed: 5 }, options: { loss: 'none', truncation: { kind: 'chunked', steps: 2 }, ...full } },
  { name: 'odd, tanh, token ids, randomized(0.6, seed 4)', spec: { T: 5, B: 3, d: 6, h: 7, q: 5, tokens: true, h0: true, dhT: true, seed: 6 }, options: { loss: 'cross-entropy', truncation: { kind: 'randomized', keepProbability: 0.6, seed: 4 }, gradNormPerStep: true } },
  { name: 'odd, relu, randomized with explicit xi', spec: { T: 5, B: 3, d: 4, h: 7, q: 5, activation: 'relu', h0: true, seed: 7 }, options: { loss: 'cross-entropy', truncation: { kind: 'randomized', xi: [0.5, 0, 2, 1.25, 1] }, ...full } },
  { name: 'straddling tiles T=16 B=35 d=5 h=33 q=7 (split-K), tanh, window(3)', spec: { T: 16, B: 35, d: 5, h: 33, q: 7, h0: true, dhT: true, seed: 8 }, options: { loss: 'cross-entropy', truncation: { kind: 'window', steps: 3 }, ...full } },
  { name: 'round T=8 B=32 d=32 h=64 q=32, tanh, full', spec: { T: 8, B: 32, d: 32, h: 64, q: 32, h0: true, seed: 9 }, options: { loss: 'cross-entropy', ...full } },
];
export const TRAINER_CASES = [
  { name: 'trainer, sgd, token ids, chunked(3), clipNorm 0.3, carryState', spec: { T: 6, B: 4, d: 11, h: 16, q: 11, tokens: true, seed: 20 }, options: { optimizer: { kind: 'sgd', learningRate: 0.5 }, loss: 'cross-entropy', truncation: { kind: 'chunked', steps: 3 }, clipNorm: 0.3, carryState: true }, steps: 4 },
  { name: 'trainer, adam, values, mse, randomized(0.5, seed 3)', spec: { T: 5, B: 3, d: 4, h: 7, q: 5, loss: 'mse', seed: 30 }, options: { optimizer: { kind: 'adam', learningRate: 0.01 }, loss: 'mse', truncation: { kind: 'randomized', keepProbability: 0.5, seed: 3 } }, steps: 4 },
];


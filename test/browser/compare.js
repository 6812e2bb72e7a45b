// The browser half of test/browser-gradients.test.ts: the bundled library
// (dist/browser/index.js, built by `npm run build`) in a real page. For each
// case it runs the same seeded problem on createEngine({ backend: 'webgpu' })
// and createEngine({ backend: 'cpu' }) and returns, per output, the worst
// ratio |gpu - cpu| / (atolRel * max|cpu| + rtol * |cpu|) (<= 1 passes) and
// the worst |gpu - cpu| / max|cpu|. The assertions are made in Node.
import { createEngine, makeRng, uniformArray } from '/dist/browser/index.js';

const OUTPUTS = ['dWhx', 'dWhh', 'dWqh', 'dbh', 'dbq', 'dh0', 'hT', 'dx', 'gradNormPerStep'];
const PARAMS = ['Whx', 'Whh', 'Wqh', 'bh', 'bq'];

/** The same generator as test/helpers.ts randomProblem (seeded, identical draws). */
function randomProblem(spec) {
  const { T, B, d, h, q, activation = 'tanh', bias = true, loss = 'cross-entropy', tokens = false, seed = 1 } = spec;
  const rng = makeRng(seed);
  const s = spec.scale ?? 0.5;
  const model = {
    inputSize: d, hiddenSize: h, outputSize: q, activation,
    Whx: uniformArray(rng, h * d, s / Math.sqrt(d)),
    Whh: uniformArray(rng, h * h, (1.5 * s) / Math.sqrt(h)),
    Wqh: uniformArray(rng, q * h, (2 * s) / Math.sqrt(h)),
  };
  if (bias) {
    model.bh = uniformArray(rng, h, 0.1);
    model.bq = uniformArray(rng, q, 0.1);
  }
  const x = tokens ? Int32Array.from({ length: T * B }, () => Math.floor(rng() * d)) : uniformArray(rng, T * B * d, 1);
  const batch = { steps: T, batchSize: B, x };
  if (loss === 'cross-entropy') batch.y = Int32Array.from({ length: T * B }, () => Math.floor(rng() * q));
  else if (loss === 'mse') batch.y = uniformArray(rng, T * B * q, 1);
  else batch.dO = uniformArray(rng, T * B * q, 0.1);
  if (spec.h0) batch.h0 = uniformArray(rng, B * h, 0.5);
  if (spec.dhT) batch.dhT = uniformArray(rng, B * h, 0.1);
  return { model, batch };
}

/** Plain-data truncation: an explicit xi travels as an array. */
function truncationOf(t) {
  if (t && t.kind === 'randomized' && Array.isArray(t.xi)) return { kind: 'randomized', xi: Float32Array.from(t.xi) };
  return t;
}

function compareArrays(got, want, tol) {
  if (!got || !want) return { ratio: got === want ? 0 : Infinity, relative: got === want ? 0 : Infinity, missing: true };
  if (got.length !== want.length) return { ratio: Infinity, relative: Infinity, length: [got.length, want.length] };
  let max = 0;
  for (let i = 0; i < want.length; i++) max = Math.max(max, Math.abs(want[i]));
  const atol = Math.max(tol.atolRel * max, 1e-30);
  let ratio = 0;
  let err = 0;
  for (let i = 0; i < want.length; i++) {
    const e = Math.abs(got[i] - want[i]);
    const r = Number.isFinite(got[i]) && Number.isFinite(want[i]) ? e / (atol + tol.rtol * Math.abs(want[i])) : got[i] === want[i] ? 0 : Infinity;
    if (!(r <= ratio)) ratio = Number.isNaN(r) ? Infinity : r;
    if (!(e <= err)) err = Number.isNaN(e) ? Infinity : e;
  }
  return { ratio, relative: max > 0 ? err / max : err };
}

// The engine under test: ?backend=wasm for browser-wasm.test.ts, WebGPU by default.
const backend = new URLSearchParams(location.search).get('backend') ?? 'webgpu';
let gpu = null;
let cpu = null;

async function engines() {
  gpu ??= await createEngine({ backend });
  cpu ??= await createEngine({ backend: 'cpu' });
  return { gpu, cpu };
}

/** One engine.gradients case: { name, spec, options, tol }. */
async function gradientCase(c) {
  const { gpu, cpu } = await engines();
  const { model, batch } = randomProblem(c.spec);
  const options = { ...c.options, truncation: truncationOf(c.options.truncation) };
  const g = await gpu.gradients(model, batch, options);
  const stats = gpu.stats();
  const r = await cpu.gradients(model, batch, options);
  const outputs = {};
  for (const k of OUTPUTS) if (g[k] || r[k]) outputs[k] = compareArrays(g[k], r[k], c.tol);
  if (!Number.isNaN(r.loss)) outputs.loss = compareArrays([g.loss], [r.loss], { rtol: c.tol.rtol, atolRel: 0 });
  outputs.gradNorm = compareArrays([g.gradNorm], [r.gradNorm], { rtol: c.tol.rtol, atolRel: 0 });
  const again = await gpu.gradients(model, batch, options);
  let identical = true;
  for (const k of OUTPUTS) if (g[k]) for (let i = 0; i < g[k].length; i++) if (!Object.is(g[k][i], again[k][i])) identical = false;
  return {
    name: c.name,
    outputs,
    flags: { gpu: [g.clipped, g.nonFinite], cpu: [r.clipped, r.nonFinite] },
    xiEqual: JSON.stringify(g.xi ? Array.from(g.xi) : null) === JSON.stringify(r.xi ? Array.from(r.xi) : null),
    lossNaN: [Number.isNaN(g.loss), Number.isNaN(r.loss)],
    identical,
    dispatches: stats.dispatches,
    submits: stats.submits,
  };
}

/** A few trainer steps on both backends: { name, spec, options, steps, tol }; the batches are seeds spec.seed + k. */
async function trainerCase(c) {
  const { gpu, cpu } = await engines();
  const { model } = randomProblem(c.spec);
  const options = { ...c.options, truncation: truncationOf(c.options.truncation) };
  const tg = gpu.trainer(model, options);
  const tc = cpu.trainer(model, options);
  const losses = [];
  const submits = [];
  for (let k = 0; k < c.steps; k++) {
    const { batch } = randomProblem({ ...c.spec, seed: c.spec.seed + k });
    const a = await tg.step(batch);
    submits.push(gpu.stats().submits);
    const b = await tc.step(batch);
    losses.push(compareArrays([a.loss], [b.loss], { rtol: c.tol.rtol, atolRel: 0 }));
  }
  const mg = await tg.read();
  const mc = await tc.read();
  tg.dispose();
  tc.dispose();
  const outputs = { 'step loss': { ratio: Math.max(...losses.map((l) => l.ratio)), relative: Math.max(...losses.map((l) => l.relative)) } };
  for (const k of PARAMS) if (mg[k] || mc[k]) outputs[`params ${k}`] = compareArrays(mg[k], mc[k], c.tol);
  return { name: c.name, outputs, submits };
}

/**
 * A SequenceModel gradient call and two SGD trainer steps on both backends: { spec: { cell, L, bi, T, B, d, h, q,
 * seed }, tol }. Token ids in, cross-entropy, h0 and c0 (lstm) given; every layer's gradients, the head's, dh0,
 * hT (dc0, cT), then the trained parameters compared.
 */
async function sequenceCase(c) {
  const { gpu, cpu } = await engines();
  const { cell, L, bi, T, B, d, h, q, seed } = c.spec;
  const G = { rnn: 1, gru: 3, lstm: 4 }[cell];
  const dirs = bi ? 2 : 1;
  const rng = makeRng(seed);
  const layers = Array.from({ length: L * dirs }, (_, k) => {
    const nIn = k < dirs ? d : dirs * h;
    return { Wx: uniformArray(rng, G * h * nIn, 0.5), Wh: uniformArray(rng, G * h * h, 0.5), bx: uniformArray(rng, G * h, 0.1), bh: uniformArray(rng, G * h, 0.1) };
  });
  const model = { cell, inputSize: d, hiddenSize: h, numLayers: L, bidirectional: bi, layers, head: { outputSize: q, W: uniformArray(rng, q * dirs * h, 0.5), b: uniformArray(rng, q, 0.1) } };
  const ids = (n) => Int32Array.from({ length: T * B }, () => Math.floor(rng() * n));
  const batch = { steps: T, batchSize: B, x: ids(d), y: ids(q), h0: uniformArray(rng, L * dirs * B * h, 0.5) };
  if (cell === 'lstm') batch.c0 = uniformArray(rng, L * dirs * B * h, 0.5);
  const options = { loss: 'cross-entropy', gradNormPerStep: true };
  const [g, r] = [await gpu.gradients(model, batch, options), await cpu.gradients(model, batch, options)];
  const outputs = {};
  g.layers.forEach((l, k) => {
    for (const key of ['dWx', 'dWh', 'dbx', 'dbh']) outputs[`layers[${k}].${key}`] = compareArrays(l[key], r.layers[k][key], c.tol);
  });
  outputs['head.dW'] = compareArrays(g.head.dW, r.head.dW, c.tol);
  outputs['head.db'] = compareArrays(g.head.db, r.head.db, c.tol);
  for (const key of ['dh0', 'hT', 'dc0', 'cT', 'gradNormPerStep']) if (g[key] || r[key]) outputs[key] = compareArrays(g[key], r[key], c.tol);
  outputs.loss = compareArrays([g.loss], [r.loss], { rtol: c.tol.rtol, atolRel: 0 });
  const trainers = [gpu, cpu].map((e) => e.trainer(model, { optimizer: { kind: 'sgd', learningRate: 0.5 }, loss: 'cross-entropy' }));
  for (let k = 0; k < 2; k++) for (const t of trainers) await t.step(batch);
  const [mg, mc] = await Promise.all(trainers.map((t) => t.read()));
  for (const t of trainers) t.dispose();
  mg.layers.forEach((l, k) => (outputs[`trained layers[${k}].Wh`] = compareArrays(l.Wh, mc.layers[k].Wh, c.tol)));
  return { outputs };
}

/** Disposes the GPU engine and reports what it still holds (0 expected). */
function disposeAll() {
  if (!gpu) return null;
  gpu.dispose();
  const after = gpu.stats();
  gpu = null;
  return after;
}

window.bptt = {
  async adapter() {
    const { gpu } = await engines();
    return { backend: gpu.backend, adapter: gpu.adapter, reason: gpu.backendReason, threads: gpu.threads ?? null, isolated: globalThis.crossOriginIsolated === true };
  },
  gradientCase,
  trainerCase,
  sequenceCase,
  disposeAll,
};
window.bpttReady = true;
document.getElementById('status').textContent = 'ready';

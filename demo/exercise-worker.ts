// The exercise worker: the linear-RNN experiments of the exercise panel, on
// an engine of its own ('auto': WebGPU on a real GPU, the exact CPU
// reference on a software adapter), so that they never wait behind training.
// The three-cell comparison (a few ms of work) runs on the exact CPU reference.
import { createEngine, truncationXi } from '../src/index.js';
import type { Engine } from '../src/index.js';
import { cleanText, decode, encode, makeStreamBatcher, VOCAB_SIZE } from './src/corpus.js';
import { compareTruncations, linearTokenModel, spectralCurves } from './src/exercise.js';
import { gateBatch, gateCurves } from './src/gates.js';
import type { FromExercise, ToExercise } from './src/protocol.js';
import { errorMessage, workerScope } from './src/worker-scope.js';

const scope = workerScope<ToExercise, FromExercise>();
const post = (m: FromExercise) => scope.postMessage(m);

let enginePromise: Promise<Engine> | null = null;
let referencePromise: Promise<Engine> | null = null;
const GATE_STREAMS = 4; // B of the three-cell comparison
let corpus: Promise<Int32Array> | null = null;

function getEngine(): Promise<Engine> {
  enginePromise ??= createEngine({ backend: 'auto' });
  return enginePromise;
}

function getCorpus(url: string): Promise<Int32Array> {
  corpus ??= fetch(url).then(async (r) => {
    if (!r.ok) throw new Error(`could not load the corpus ${url}: HTTP ${r.status}`);
    return encode(cleanText(await r.text()));
  });
  return corpus;
}

async function handle(m: ToExercise): Promise<void> {
  const engine = await getEngine();
  const backend = engine.backend;
  if (m.type === 'spectral') {
    const { radii, ...options } = m.request;
    const curves = await spectralCurves(engine, radii, options);
    post({ type: 'spectral', id: m.id, curves, backend });
    return;
  }
  if (m.type === 'gates') {
    referencePromise ??= createEngine({ backend: 'cpu' });
    const reference = await referencePromise;
    const g = m.request;
    const ids = await getCorpus(m.corpusUrl);
    const x = makeStreamBatcher(ids, g.steps, GATE_STREAMS)().batch.x as Int32Array;
    const curves = await gateCurves(reference, gateBatch(x, g.steps, GATE_STREAMS, VOCAB_SIZE, g.seed), VOCAB_SIZE, g);
    post({ type: 'gates', id: m.id, curves, backend: reference.backend });
    return;
  }
  const q = m.request;
  const ids = await getCorpus(m.corpusUrl);
  const { batch } = makeStreamBatcher(ids, q.steps, q.batchSize)();
  const model = linearTokenModel(VOCAB_SIZE, q.hiddenSize, q.radius, q.kind, q.seed);
  let last = 0;
  const comparison = await compareTruncations(engine, model, batch, {
    loss: 'cross-entropy',
    tau: Math.min(q.tau, q.steps),
    keepProbability: q.keepProbability,
    draws: q.draws,
    seed: q.seed * 1000,
    onDraw: (n) => {
      const now = performance.now();
      if (now - last > 100 || n === q.draws) {
        last = now;
        post({ type: 'progress', id: m.id, done: n, total: q.draws });
      }
    },
  });
  const chunkXi = Array.from(truncationXi({ kind: 'chunked', steps: Math.min(q.tau, q.steps) }, q.steps)!);
  // the first stream's tokens: x[t, b = 0]
  const first = Int32Array.from({ length: q.steps }, (_, t) => (batch.x as Int32Array)[t * q.batchSize]);
  post({ type: 'truncation', id: m.id, comparison, chunkXi, text: decode(first), backend });
}

scope.addEventListener('message', (event) => {
  const m = event.data;
  handle(m).catch((e: unknown) => post({ type: 'error', id: m.id, message: errorMessage(e) }));
});

// The worked example: the webgpu-bptt layer, and a 2-layer LSTM stack,
// inside a TensorFlow.js webgpu program. TF.js owns the GPUDevice; the engine borrows it. The input comes
// from a TF.js tensor's GPU buffer, the loss (softmax cross-entropy) is
// computed by TF.js on the layer's output O, dO = dL/dO comes from tf.grad,
// and the gradients come back as TF.js tensors that TF.js uses to train.
//
// The page also runs the library's float64 CPU reference on the same problem
// and exposes both, as plain arrays, on window.tfjsLayer (read by
// test/embedding-tfjs.test.ts); it prints the worst differences.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-backend-webgpu';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { createEngine, makeRng, uniformArray, type Engine, type LayerSpec, type RnnModel, type SequenceGradients, type SequenceModel, type StackSpec, type Truncation } from 'webgpu-bptt';
import { rnnBackward, rnnForward, type RnnWeights } from './layer.js';
import { stackBackward, stackForward, stackParams } from './stack.js';
import { referenceForward } from './reference.js';

const T = 6, B = 4, d = 5, h = 8, q = 3;
const spec: LayerSpec = { inputSize: d, hiddenSize: h, outputSize: q, activation: 'tanh', bias: true };

type Compared = Record<string, { got: number[]; want: number[] }>;
export interface CaseResult {
  name: string;
  compared: Compared;
}
export interface PageResult {
  backend: string;
  sharedDevice: boolean; // the engine uses TF.js's own GPUDevice
  adapter: string;
  cases: CaseResult[];
  tensorsLeaked: number; // TF.js tensors alive after the run that were not before
  error?: string;
}

function makeModel(seed: number): RnnModel {
  const rng = makeRng(seed);
  return {
    inputSize: d, hiddenSize: h, outputSize: q, activation: 'tanh',
    Whx: uniformArray(rng, h * d, 0.5), Whh: uniformArray(rng, h * h, 0.45), Wqh: uniformArray(rng, q * h, 0.6),
    bh: uniformArray(rng, h, 0.1), bq: uniformArray(rng, q, 0.1),
  };
}

function weightsOf(m: RnnModel): RnnWeights {
  return {
    Whx: tf.tensor2d(m.Whx, [h, d]), Whh: tf.tensor2d(m.Whh, [h, h]), Wqh: tf.tensor2d(m.Wqh, [q, h]),
    bh: tf.tensor1d(m.bh!), bq: tf.tensor1d(m.bq!),
  };
}

/** L = mean over the T*B positions of softmax cross-entropy, computed by TF.js. */
function crossEntropy(labels: tf.Tensor, O: tf.Tensor): tf.Scalar {
  return tf.losses.softmaxCrossEntropy(tf.oneHot(labels, q), O) as tf.Scalar;
}

const arr = (a: ArrayLike<number>) => Array.from(a);

/** One gradient call through the layer, against engine.gradients on the CPU reference. */
async function gradientCase(engine: Engine, cpu: Engine, name: string, opts: { tokens: boolean; h0: boolean; encoder: boolean; truncation: Truncation }): Promise<CaseResult> {
  const rng = makeRng(opts.tokens ? 11 : 12);
  const model = makeModel(opts.tokens ? 21 : 22);
  const xValues = opts.tokens ? Int32Array.from({ length: T * B }, () => Math.floor(rng() * d)) : uniformArray(rng, T * B * d, 1);
  const y = Int32Array.from({ length: T * B }, () => Math.floor(rng() * q));
  const h0Values = opts.h0 ? uniformArray(rng, B * h, 0.5) : undefined;

  const compared: Compared = {};
  const got: Record<string, Float32Array | Int32Array | Uint8Array> = {};
  const weights = weightsOf(model);
  const x = opts.tokens ? tf.tensor2d(xValues as Int32Array, [T, B], 'int32') : tf.tensor3d(xValues as Float32Array, [T, B, d]);
  const h0 = h0Values && tf.tensor2d(h0Values, [B, h]);
  const labels = tf.tensor2d(y, [T, B], 'int32');

  // forward on the GPU, loss and dO in TF.js, backward on the GPU
  const fwd = await rnnForward(engine, spec, weights, x, h0, { encoder: opts.encoder });
  const { value: loss, grad: dO } = tf.valueAndGrad((O: tf.Tensor) => crossEntropy(labels, O))(fwd.O);
  const grads = await rnnBackward(engine, spec, weights, x, fwd.H, dO, { encoder: opts.encoder, truncation: opts.truncation, inputGradient: !opts.tokens });
  for (const [k, t] of Object.entries({ ...fwd, ...grads, loss })) if (t) got[k] = await t.data();
  tf.dispose([...Object.values(weights), x, h0, labels, loss, dO, ...Object.values(fwd), ...Object.values(grads)].filter((t): t is tf.Tensor => t !== undefined));

  // the reference: the library's float64 CPU path with its own cross-entropy
  const batch = { steps: T, batchSize: B, x: xValues, y, h0: h0Values };
  const ref = await cpu.gradients(model, batch, { loss: 'cross-entropy', truncation: opts.truncation, inputGradient: !opts.tokens });
  const { H, O } = referenceForward(model, batch);
  const want: Record<string, ArrayLike<number> | undefined> = { H, O, hT: ref.hT, loss: [ref.loss], dWhx: ref.dWhx, dWhh: ref.dWhh, dWqh: ref.dWqh, dbh: ref.dbh, dbq: ref.dbq, dh0: ref.dh0, dx: ref.dx };
  for (const [k, w] of Object.entries(want)) if (w) compared[k] = { got: got[k] ? arr(got[k]) : [], want: arr(w) };
  return { name, compared };
}

/** A few SGD steps, the update done by TF.js on the layer's gradient tensors, against the CPU trainer. */
async function trainingCase(engine: Engine, cpu: Engine, steps: number, learningRate: number): Promise<CaseResult> {
  const rng = makeRng(31);
  const model = makeModel(32);
  const xValues = uniformArray(rng, T * B * d, 1);
  const y = Int32Array.from({ length: T * B }, () => Math.floor(rng() * q));
  const x = tf.tensor3d(xValues, [T, B, d]);
  const labels = tf.tensor2d(y, [T, B], 'int32');
  let weights = weightsOf(model);
  const losses: number[] = [];
  for (let k = 0; k < steps; k++) {
    const fwd = await rnnForward(engine, spec, weights, x);
    const { value: loss, grad: dO } = tf.valueAndGrad((O: tf.Tensor) => crossEntropy(labels, O))(fwd.O);
    const g = await rnnBackward(engine, spec, weights, x, fwd.H, dO);
    losses.push((await loss.data())[0]);
    const sgd = (w: tf.Tensor, dw: tf.Tensor) => tf.sub(w, tf.mul(dw, learningRate));
    const next: RnnWeights = tf.tidy(() => ({
      Whx: sgd(weights.Whx, g.dWhx), Whh: sgd(weights.Whh, g.dWhh), Wqh: sgd(weights.Wqh, g.dWqh), bh: sgd(weights.bh!, g.dbh!), bq: sgd(weights.bq!, g.dbq!),
    }));

    tf.dispose([...Object.values(weights), ...Object.values(fwd), loss, dO, ...Object.values(g)].filter((t): t is tf.Tensor => t !== undefined));
    weights = next;
  }
  const compared: Compared = {};
  const trainer = cpu.trainer(model, { optimizer: { kind: 'sgd', learningRate }, loss: 'cross-entropy' });
  const refLosses: number[] = [];
  for (let k = 0; k < steps; k++) refLosses.push((await trainer.step({ steps: T, batchSize: B, x: xValues, y })).loss);
  const trained = await trainer.read();
  trainer.dispose();
  compared.losses = { got: losses, want: refLosses };
  for (const k of ['Whx', 'Whh', 'Wqh', 'bh', 'bq'] as const) compared[k] = { got: arr(await weights[k]!.data()), want: arr(trained[k]!) };
  tf.dispose([...Object.values(weights), x, labels].filter((t): t is tf.Tensor => t !== undefined));
  return { name: `${steps} SGD steps, updates in TF.js`, compared };
}

// ---------------------------------------------------------------- an LSTM stack

const LSTM: StackSpec = { cell: 'lstm', inputSize: d, hiddenSize: h, numLayers: 2, bias: true, outputSize: q };
const K = 2; // layer-directions

function makeLstm(seed: number): SequenceModel {
  const rng = makeRng(seed);
  const s = 1 / Math.sqrt(h);
  const layer = (nIn: number) => ({ Wx: uniformArray(rng, 4 * h * nIn, 0.5), Wh: uniformArray(rng, 4 * h * h, s), bx: uniformArray(rng, 4 * h, s), bh: uniformArray(rng, 4 * h, s) });
  return { cell: 'lstm', inputSize: d, hiddenSize: h, numLayers: 2, layers: [layer(d), layer(h)], head: { outputSize: q, W: uniformArray(rng, q * h, 0.6), b: uniformArray(rng, q, 0.1) } };
}

/** The model as TF.js tensors of PyTorch's shapes, in the order of the flat layout. */
function lstmTensors(m: SequenceModel): tf.Tensor[] {
  const out: tf.Tensor[] = [];
  m.layers.forEach((l, k) => out.push(tf.tensor2d(l.Wx, [4 * h, k === 0 ? d : h]), tf.tensor2d(l.Wh, [4 * h, h]), tf.tensor1d(l.bx!), tf.tensor1d(l.bh!)));
  out.push(tf.tensor2d(m.head!.W, [q, h]), tf.tensor1d(m.head!.b!));
  return out;
}

/** Every gradient of the CPU reference in the flat layout, to compare with the stack's one gradient buffer. */
function flatGradient(g: SequenceGradients): number[] {
  return [...g.layers.flatMap((l) => [...l.dWx, ...l.dWh, ...l.dbx!, ...l.dbh!]), ...g.head!.dW, ...g.head!.db!];
}

/** One gradient call of the LSTM stack: forward, loss and dO in TF.js, backward; against engine.forward and engine.gradients on the CPU reference. */
async function lstmCase(engine: Engine, cpu: Engine): Promise<CaseResult> {
  const rng = makeRng(41);
  const model = makeLstm(42);
  const xValues = uniformArray(rng, T * B * d, 1);
  const y = Int32Array.from({ length: T * B }, () => Math.floor(rng() * q));
  const h0Values = uniformArray(rng, K * B * h, 0.5);
  const c0Values = uniformArray(rng, K * B * h, 0.5);

  const tensors = lstmTensors(model);
  const params = stackParams(tensors);
  const x = tf.tensor3d(xValues, [T, B, d]);
  const h0 = tf.tensor3d(h0Values, [K, B, h]);
  const c0 = tf.tensor3d(c0Values, [K, B, h]);
  const labels = tf.tensor2d(y, [T, B], 'int32');
  const fwd = await stackForward(engine, LSTM, params, x, h0, c0, { encoder: true });
  const { value: loss, grad: dO } = tf.valueAndGrad((O: tf.Tensor) => crossEntropy(labels, O))(fwd.O!);
  const g = await stackBackward(engine, LSTM, params, x, fwd.stash, { dO, inputGradient: true });
  const got: Record<string, ArrayLike<number>> = {};
  for (const [k, t] of Object.entries({ Y: fwd.Y, O: fwd.O!, hT: fwd.hT, cT: fwd.cT!, loss, grad: g.grad, dh0: g.dh0, dc0: g.dc0!, dx: g.dx! })) got[k] = await t.data();
  tf.dispose([...tensors, params, x, h0, c0, labels, loss, dO, fwd.Y, fwd.O!, fwd.hT, fwd.cT!, g.grad, g.dh0, g.dc0!, g.dx!]);

  const batch = { steps: T, batchSize: B, x: xValues, y, h0: h0Values, c0: c0Values };
  const f = await cpu.forward(model, batch, { outputs: ['O', 'Y'] });
  const r = await cpu.gradients(model, batch, { loss: 'cross-entropy', inputGradient: true });
  const want: Record<string, ArrayLike<number>> = { Y: f.Y!, O: f.O!, hT: f.hT, cT: f.cT!, loss: [f.loss!], grad: flatGradient(r), dh0: r.dh0, dc0: r.dc0!, dx: r.dx! };
  const compared: Compared = {};
  for (const k of Object.keys(want)) compared[k] = { got: arr(got[k]), want: arr(want[k]) };
  return { name: "lstm, 2 layers, h0 and c0, caller's encoder", compared };
}

/** SGD on the flat parameter tensor, done by TF.js on the stack's gradient, against the CPU trainer. */
async function lstmTrainingCase(engine: Engine, cpu: Engine, steps: number, learningRate: number): Promise<CaseResult> {
  const rng = makeRng(51);
  const model = makeLstm(52);
  const xValues = uniformArray(rng, T * B * d, 1);
  const y = Int32Array.from({ length: T * B }, () => Math.floor(rng() * q));
  const x = tf.tensor3d(xValues, [T, B, d]);
  const labels = tf.tensor2d(y, [T, B], 'int32');
  const tensors = lstmTensors(model);
  let params = stackParams(tensors);
  tf.dispose(tensors);
  const losses: number[] = [];
  for (let k = 0; k < steps; k++) {
    const fwd = await stackForward(engine, LSTM, params, x);
    const { value: loss, grad: dO } = tf.valueAndGrad((O: tf.Tensor) => crossEntropy(labels, O))(fwd.O!);
    const g = await stackBackward(engine, LSTM, params, x, fwd.stash, { dO });
    losses.push((await loss.data())[0]);
    const next = tf.tidy(() => tf.sub(params, tf.mul(g.grad, learningRate)) as tf.Tensor1D);
    tf.dispose([params, fwd.Y, fwd.O!, fwd.hT, fwd.cT!, loss, dO, g.grad, g.dh0, g.dc0!]);
    params = next;
  }
  const trainer = cpu.trainer(model, { optimizer: { kind: 'sgd', learningRate }, loss: 'cross-entropy' });
  const refLosses: number[] = [];
  for (let k = 0; k < steps; k++) refLosses.push((await trainer.step({ steps: T, batchSize: B, x: xValues, y })).loss);
  const trained = await trainer.read();
  trainer.dispose();
  const flat = [...trained.layers.flatMap((l) => [...l.Wx, ...l.Wh, ...l.bx!, ...l.bh!]), ...trained.head!.W, ...trained.head!.b!];
  const compared: Compared = { losses: { got: losses, want: refLosses }, params: { got: arr(await params.data()), want: flat } };
  tf.dispose([params, x, labels]);
  return { name: `lstm, ${steps} SGD steps on the flat parameters in TF.js`, compared };
}

export async function run(): Promise<PageResult> {
  if (!(await tf.setBackend('webgpu'))) throw new Error("TF.js could not start its 'webgpu' backend (no navigator.gpu or no adapter)");
  await tf.ready();
  const backend = tf.backend() as WebGPUBackend;
  // the engine borrows TF.js's device: never destroys it, and shares its queue
  const engine = await createEngine({ backend: 'webgpu', device: backend.device });
  const cpu = await createEngine({ backend: 'cpu' });
  const before = tf.memory().numTensors;
  const cases = [
    await gradientCase(engine, cpu, 'values [T, B, d], h0, own submit, full', { tokens: false, h0: true, encoder: false, truncation: { kind: 'full' } }),
    await gradientCase(engine, cpu, "token ids [T, B], caller's encoder, chunked(4)", { tokens: true, h0: false, encoder: true, truncation: { kind: 'chunked', steps: 4 } }),
    await trainingCase(engine, cpu, 3, 0.5),
    await lstmCase(engine, cpu),
    await lstmTrainingCase(engine, cpu, 3, 0.5),
  ];
  const result: PageResult = {
    backend: tf.getBackend(),
    sharedDevice: engine.device === backend.device,
    adapter: `${engine.adapter?.vendor} ${engine.adapter?.architecture}`,
    cases,
    tensorsLeaked: tf.memory().numTensors - before,
  };
  engine.dispose();
  cpu.dispose();
  return result;
}

function worstDiff(c: CaseResult): string {
  return Object.entries(c.compared)
    .map(([k, { got, want }]) => `${k} ${Math.max(...want.map((w, i) => Math.abs(got[i] - w))).toExponential(1)}`)
    .join(', ');
}

const page = window as unknown as { tfjsLayer?: PageResult };
const out = document.getElementById('out')!;
run().then(
  (r) => {
    page.tfjsLayer = r;
    out.textContent = `TF.js backend ${r.backend}, adapter ${r.adapter}, shared device: ${r.sharedDevice}\n\nlargest |layer - CPU reference| per output:\n${r.cases.map((c) => `${c.name}\n  ${worstDiff(c)}`).join('\n')}`;
  },
  (e: Error) => {
    page.tfjsLayer = { backend: '', sharedDevice: false, adapter: '', cases: [], tensorsLeaked: 0, error: `${e.name}: ${e.message}` };
    out.textContent = `failed: ${e.message}`;
  },
);

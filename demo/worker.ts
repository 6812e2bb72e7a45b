// The training worker: owns the engine (WebGPU, or WebAssembly when
// WebGPU is missing), the trainer and the corpus, so that the page never
// waits on a step. It trains on the first nine tenths of the corpus and
// measures the validation perplexity on the last tenth (trainer.forward);
// samples come from trainer.generate. One trainer operation at a time (exclusive()), and a
// macrotask between steps so that pause, reset and sample requests get in.
import { createEngine } from '../src/index.js';
import type { AnyModel, Batch, Engine, SequenceModel, Trainer, Truncation } from '../src/index.js';
import { cleanText, decode, encode, makeStreamBatcher, VOCAB, VOCAB_SIZE, type StreamBatch } from './src/corpus.js';
import { initDemoModel } from './src/model.js';
import { HELD_OUT_FRACTION, type BackendInfo, type FromTrainer, type ToTrainer, type TrainConfig } from './src/protocol.js';
import { errorMessage, workerScope } from './src/worker-scope.js';

const scope = workerScope<ToTrainer, FromTrainer>();
const post = (m: FromTrainer) => scope.postMessage(m);

let engine: Engine | null = null;
let trainingEngine: Engine | null = null; // the engine the current trainer runs on
let ids: Int32Array = new Int32Array(0); // the training text
let validation: Batch | null = null; // held-out text: VALIDATION.batchSize streams of VALIDATION.steps tokens
let config: TrainConfig;
let trainer: Trainer<AnyModel> | null = null;
let trainerShape = ''; // cell, layers, hidden size of the model the trainer holds
let trainerCell: TrainConfig['cell'] = 'rnn';
let trainerLayers = 1;
let nextBatch: (() => StreamBatch) | null = null;
let batcherShape = '';
let step = 0;
let running = false;
let looping = false;
let prefix = 'time traveller';
let sampleLength = 60;
let temperature = 0;
let seed = 1;
let truncationSeed = 1; // the trainer's randomized-truncation seed: its k-th step draws xi from truncationSeed + k
let trainerSteps = 0; // step() calls on the current trainer

let chain: Promise<unknown> = Promise.resolve();
/** Runs fn after every earlier trainer operation has finished. */
function exclusive<R>(fn: () => Promise<R>): Promise<R> {
  const p = chain.then(fn);
  chain = p.catch(() => undefined);
  return p;
}

const macrotask = () => new Promise<void>((ok) => setTimeout(ok, 0));

/** 1,024 held-out tokens in 16 streams spread over the last tenth, each read from zero state. */
const VALIDATION = { steps: 64, batchSize: 16 };

/** What only a reset changes: the model's architecture and its initialisation. */
const shapeOf = (c: TrainConfig) => `${c.cell} x${c.numLayers} h=${c.hiddenSize} r=${c.whhRadius}`;

/** The trainer's truncation (k = undefined), or the one its step k used. */
function truncationOf(c: TrainConfig, k?: number): Truncation {
  switch (c.truncation) {
    case 'full':
      return { kind: 'full' };
    case 'chunked':
      return { kind: 'chunked', steps: Math.min(c.tau, c.steps) };
    case 'window':
      return { kind: 'window', steps: Math.min(c.tau, c.steps) };
    case 'randomized':
      return { kind: 'randomized', keepProbability: c.keepProbability, seed: truncationSeed + (k ?? 0) };
  }
}

function trainerOptions(c: TrainConfig) {
  return {
    optimizer: c.optimizer === 'adam' ? { kind: 'adam' as const, learningRate: c.learningRate } : { kind: 'sgd' as const, learningRate: c.learningRate },
    loss: 'cross-entropy' as const,
    truncation: truncationOf(c),
    clipNorm: c.clipNorm > 0 ? c.clipNorm : undefined,
    carryState: true,
  };
}

function ensureBatcher(): void {
  const shape = `${config.steps}x${config.batchSize}`;
  if (nextBatch && shape === batcherShape) return;
  nextBatch = makeStreamBatcher(ids, config.steps, config.batchSize);
  batcherShape = shape;
  trainer?.resetState();
}

async function describeEngine(wanted: 'auto' | 'webgpu' | 'wasm' | 'cpu'): Promise<BackendInfo> {
  if (wanted === 'cpu') {
    engine = await createEngine({ backend: 'cpu' });
    return { backend: 'cpu', reason: 'the CPU reference was asked for (?backend=cpu)', adapter: null, fellBack: false };
  }
  let fellBack = false;
  let why = '';
  try {
    engine = await createEngine({ backend: wanted });
  } catch (e) {
    // 'webgpu' asked for where there is none: 'auto' (WebAssembly on a machine without a GPU)
    fellBack = true;
    why = `WebGPU unavailable (${errorMessage(e)}); `;
    engine = await createEngine({ backend: 'auto' });
  }
  // 'auto' without a usable (hardware) adapter runs in WebAssembly: that is a fallback too
  if (wanted === 'auto' && engine.backend !== 'webgpu') fellBack = true;
  const a = engine.adapter;
  const adapter = a
    ? [a.vendor, a.architecture, a.device, a.description].filter((s) => s).join(' / ') + (a.isFallbackAdapter ? ' (software fallback adapter)' : '')
    : null;
  return { backend: engine.backend, reason: `${why}${engine.backendReason}`, adapter, fellBack };
}

/** The trainer for the current config; keeps the current weights when the model shape is unchanged. */
async function rebuildTrainer(keepWeights: boolean): Promise<void> {
  if (!engine) throw new Error('the engine is not ready');
  // the hidden size only changes on reset (trainer === null): other settings keep the weights
  const model = keepWeights && trainer ? await trainer.read() : initDemoModel(config, VOCAB_SIZE, seed);
  trainer?.dispose();
  truncationSeed = 1000 * seed + step; // a rebuilt trainer goes on with fresh xi draws
  trainerSteps = 0;
  trainingEngine = await engineFor(model);
  trainer = newTrainer(trainingEngine, model, config);
  if (!keepWeights) {
    trainerShape = shapeOf(config);
    trainerCell = config.cell;
    trainerLayers = config.numLayers;
  }
  ensureBatcher();
}

async function trainStep(): Promise<void> {
  if (!trainer) await rebuildTrainer(false);
  ensureBatcher();
  const { batch, wrapped } = nextBatch!();
  if (wrapped) trainer!.resetState();
  const t0 = performance.now();
  const r = await trainer!.step(batch);
  trainerSteps++;
  const ms = performance.now() - t0;
  step += 1; // steps since reset (r.step counts the updates of this trainer only, which a setting change rebuilds)
  post({ type: 'step', step, loss: r.loss, skipped: r.skipped, ms, tokens: batch.steps * batch.batchSize, cell: trainerCell, numLayers: trainerLayers, backend: trainingEngine!.backend });
  if (step % config.heatEvery === 0) await heatRow(batch);
  if (step % config.validateEvery === 0) await validate();
  if (step % config.sampleEvery === 0) await sample();
}

/** The engine that trains this model: the page's engine (every backend trains every cell and stack). */
async function engineFor(_model: AnyModel): Promise<Engine> {
  return engine!;
}

function newTrainer(e: Engine, model: AnyModel, c: TrainConfig): Trainer<AnyModel> {
  return 'cell' in model ? e.trainer(model, trainerOptions(c)) : e.trainer(model, trainerOptions(c));
}

/** Perplexity on held-out text: the trainer's forward pass on its current parameters, nothing read back but the loss. */
async function validate(): Promise<void> {
  const { loss } = await trainer!.forward(validation!);
  post({ type: 'validation', step, loss: loss ?? NaN, tokens: VALIDATION.steps * VALIDATION.batchSize });
}

/** ||dL/dh_t|| for t = 1..T of the current weights on the batch just trained on. */
async function heatRow(batch: Batch): Promise<void> {
  const model = await trainer!.read();
  // the xi of the step just taken (the trainer draws step k's from seed + k); h0 is zeros, as the carried state is not read back
  const options = { loss: 'cross-entropy' as const, truncation: truncationOf(config, trainerSteps - 1), gradNormPerStep: true };
  const T = batch.steps;
  // a stack reports [L, T]: its top layer's row, the one the loss reaches first
  const norms = 'cell' in model ? (await trainingEngine!.gradients(model as SequenceModel, batch, options)).gradNormPerStep!.subarray(-T) : (await trainingEngine!.gradients(model, batch, options)).gradNormPerStep!;
  post({ type: 'heat', step, norms: Array.from(norms) });
}

async function sample(): Promise<void> {
  if (!trainer) {
    post({ type: 'sample', step, prefix, text: '' });
    return;
  }
  const clean = cleanText(prefix) || ' ';
  const out = await trainer.generate({ prefix: encode(clean), steps: sampleLength, temperature, seed: step + 1 });
  post({ type: 'sample', step, prefix: clean, text: decode(out) });
}

async function loop(): Promise<void> {
  if (looping) return;
  looping = true;
  try {
    while (running) {
      await exclusive(trainStep);
      await macrotask();
    }
  } catch (e) {
    running = false;
    post({ type: 'state', running: false, note: 'stopped by an error' });
    post({ type: 'error', message: errorMessage(e) });
  } finally {
    looping = false;
  }
}

async function handle(m: ToTrainer): Promise<void> {
  switch (m.type) {
    case 'init': {
      config = m.config;
      prefix = m.prefix;
      const response = await fetch(m.corpusUrl);
      if (!response.ok) throw new Error(`could not load the corpus ${m.corpusUrl}: HTTP ${response.status}`);
      const all = encode(cleanText(await response.text()));
      const cut = Math.floor(all.length * (1 - HELD_OUT_FRACTION));
      ids = all.subarray(0, cut);
      validation = makeStreamBatcher(all.subarray(cut), VALIDATION.steps, VALIDATION.batchSize)().batch;
      if (m.hideWebGpu) Object.defineProperty(navigator, 'gpu', { value: undefined, configurable: true });
      const info = await describeEngine(m.backend);
      post({ type: 'ready', info, corpusChars: ids.length, heldOutChars: validation.steps * validation.batchSize, vocab: VOCAB });
      return;
    }
    case 'config': {
      const before = config;
      config = m.config;
      if (!trainer) return;
      if (shapeOf(config) !== trainerShape) {
        post({ type: 'state', running, note: 'cell, layers, hidden size and W_hh at init apply on reset' });
      }
      const key = (c: TrainConfig) => JSON.stringify({ ...c, cell: '', numLayers: 0, hiddenSize: 0, whhRadius: 0, heatEvery: 0, sampleEvery: 0, validateEvery: 0 });
      if (key(before) !== key(config)) await exclusive(() => rebuildTrainer(true));
      return;
    }
    case 'start':
      if (!engine) return;
      running = true;
      post({ type: 'state', running: true, note: 'training' });
      void loop();
      return;
    case 'pause':
      running = false;
      await exclusive(async () => undefined); // the step in flight (with its heat row and sample) has been posted
      if (!running) post({ type: 'state', running: false, note: `paused after step ${step}` });
      return;
    case 'reset':
      running = false;
      await exclusive(async () => {
        trainer?.dispose();
        trainer = null;
        nextBatch = null;
        step = 0;
        seed += 1; // a fresh initialisation each reset
      });
      post({ type: 'reset' });
      post({ type: 'state', running: false, note: 'reset' });
      return;
    case 'sample':
      prefix = m.prefix;
      sampleLength = m.length;
      temperature = m.temperature;
      await exclusive(sample);
      return;
  }
}

// Messages are handled one after another, in the order the page sent them (reset then start, say).
let inbox: Promise<void> = Promise.resolve();
scope.addEventListener('message', (event) => {
  inbox = inbox.then(() => handle(event.data)).catch((e: unknown) => post({ type: 'error', message: errorMessage(e) }));
});

// Reliability, bad input (issue 6): a battery of distinct bad calls across the
// public API, each on the CPU, the WebGPU and the WebAssembly engine (at the end:
// SequenceModel calls on the WebAssembly engine). Every bad call must
// throw a clear error naming the argument (a BpttInputError whose `argument`
// is that name, or a BpttDeviceError whose message names what is unusable), and
// after each one a valid call on the same engine must return the right answer
// (gradients against the CPU reference; a trainer step's loss and the
// parameters it leaves against a hand-computed SGD update).
//
// The table is the contract: one row per bad call. Rows for the device-level
// API (engine.gpu.forward/backward: foreign or destroyed buffers) go in the
// marked place below.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gpuEngine } from './gpu-setup.js';
import { BpttDeviceError, BpttInputError, createEngine, packParams, type Engine } from '../src/index.js';
import type { Batch, GradientOptions, GradientResult, LossKind, RnnModel, SequenceModel, Trainer, TrainerOptions } from '../src/types.js';
import { BAD_SEQUENCE_CASES, expectRefused } from './sequence-bad-cases.js';
import { randomSequenceProblem, type SequenceSpec } from './cpu-sequence-helpers.js';
import { packSequence } from '../src/sequence-params.js';
import { expectClose, randomProblem, type Tolerance } from './helpers.js';
import { validateGradientCall } from '../src/validate.js';
import { seqBufferSizes } from '../src/gpu/sequence-encode.js';
import { sequenceShape } from '../src/gpu/sequence-gradients.js';
import { rnnAsSequence } from '../src/sequence-model.js';
import { sequenceProblemOfRnn } from '../src/validate-sequence.js';
import { layoutOf } from '../src/params.js';

type EngineKind = 'cpu' | 'webgpu' | 'wasm';

// T=4 B=3 d=5 h=6 q=4 throughout
const SIZES = { T: 4, B: 3, d: 5, h: 6, q: 4 };
const LR = 0.25;
const TOL: Record<EngineKind, Tolerance> = { cpu: { rtol: 1e-6, atol: 1e-7 }, webgpu: { rtol: 2e-3, atol: 1e-5 }, wasm: { rtol: 2e-3, atol: 1e-5 } };

interface Call {
  model: RnnModel;
  batch: Batch;
  options: GradientOptions;
}

/** A valid call: tanh, biases, h0 and dhT given. */
function valid(loss: LossKind = 'cross-entropy', tokens = false): Call {
  const { model, batch } = randomProblem({ ...SIZES, loss, tokens, h0: true, dhT: true, seed: 606 });
  return { model, batch, options: { loss, gradNormPerStep: true } };
}

const TRAINER_OPTIONS: TrainerOptions = { optimizer: { kind: 'sgd', learningRate: LR }, loss: 'cross-entropy' };

interface Ctx {
  kind: EngineKind;
  engine: Engine;
  /** A second engine of the same kind that a row may dispose (the WebGPU one shares the device). */
  spareEngine(): Promise<Engine>;
  /** An engine of this kind that works within lower limits (WebGPU: on the same device). */
  limitedEngine(limits: { maxStorageBufferBindingSize?: number; maxBufferSize?: number }): Promise<Engine>;
  /**
   * A trainer of the valid model with TRAINER_OPTIONS and `extra`. The follow-up
   * check takes its valid step on the last one made with no `extra` (after the
   * bad call, on the same trainer), or on a new one.
   */
  trainer(extra?: Partial<TrainerOptions>): Trainer;
  kept: Trainer | null;
  made: Trainer[];
}

interface BadCall {
  name: string;
  api: 'gradients' | 'trainer' | 'step' | 'read' | 'createEngine' | 'engine' | 'device-api';
  only?: EngineKind | EngineKind[]; // rows that apply to some engine kinds only
  /** Makes the bad call, which must throw. */
  run(ctx: Ctx): Promise<unknown>;
  /** BpttInputError with this argument, or BpttDeviceError with this text in its message. */
  error: { input: string } | { device: RegExp };
}

/** A gradient call with one change to a valid call. */
function grad(name: string, argument: string, change: (c: Call) => void, loss: LossKind = 'cross-entropy', tokens = false): BadCall {
  return {
    name,
    api: 'gradients',
    error: { input: argument },
    async run({ engine }) {
      const c = valid(loss, tokens);
      change(c);
      await engine.gradients(c.model, c.batch, c.options);
    },
  };
}

/** engine.trainer with one change to the valid model or options. */
function trainerCall(name: string, argument: string, change: (model: RnnModel, options: TrainerOptions) => TrainerOptions | void): BadCall {
  return {
    name,
    api: 'trainer',
    error: { input: argument },
    async run({ engine }) {
      const { model } = valid();
      const options: TrainerOptions = structuredClone(TRAINER_OPTIONS);
      const replaced = change(model, options);
      engine.trainer(model, replaced ?? options);
    },
  };
}

/** trainer.step on a valid trainer with one change to a valid batch. */
function stepCall(name: string, argument: string, change: (b: Batch) => void, extra: Partial<TrainerOptions> = {}, loss: LossKind = 'cross-entropy', tokens = false): BadCall {
  return {
    name,
    api: 'step',
    error: { input: argument },
    async run(ctx) {
      const trainer = ctx.trainer({ loss, ...extra });
      const { batch } = valid(loss, tokens);
      change(batch);
      await trainer.step(batch);
    },
  };
}

const nan = (a: Float32Array, i = 0, v = NaN) => {
  a[i] = v;
};
const F64 = (n: number) => new Float64Array(n) as unknown as Float32Array;

const BAD_CALLS: BadCall[] = [
  // ---- engine.gradients: wrong lengths ----
  grad('Whx one short', 'model.Whx', (c) => (c.model.Whx = new Float32Array(29))),
  grad('Whh one long', 'model.Whh', (c) => (c.model.Whh = new Float32Array(37))),
  grad('Wqh transposed-size mistake [h, q+1]', 'model.Wqh', (c) => (c.model.Wqh = new Float32Array(30))),
  grad('bh of length q', 'model.bh', (c) => (c.model.bh = new Float32Array(4))),
  grad('bq of length h', 'model.bq', (c) => (c.model.bq = new Float32Array(6))),
  grad('x values [T, B, d-1]', 'batch.x', (c) => (c.batch.x = new Float32Array(48))),
  grad('x token ids [T, B+1]', 'batch.x', (c) => (c.batch.x = new Int32Array(16)), 'cross-entropy', true),
  grad('y class ids [T-1, B]', 'batch.y', (c) => (c.batch.y = new Int32Array(9))),
  grad('y mse targets [T, B]', 'batch.y', (c) => (c.batch.y = new Float32Array(12)), 'mse'),
  grad('dO [T, B, q+1]', 'batch.dO', (c) => (c.batch.dO = new Float32Array(60)), 'none'),
  grad('h0 [B, h-1]', 'batch.h0', (c) => (c.batch.h0 = new Float32Array(15))),
  grad('dhT [h]', 'batch.dhT', (c) => (c.batch.dhT = new Float32Array(6))),
  grad('explicit xi of length T+1', 'options.truncation.xi', (c) => (c.options.truncation = { kind: 'randomized', xi: new Float32Array(5).fill(1) })),
  // ---- engine.gradients: wrong typed-array types ----
  grad('Whx as Float64Array', 'model.Whx', (c) => (c.model.Whx = F64(30))),
  grad('Whh as a plain Array', 'model.Whh', (c) => (c.model.Whh = Array.from(c.model.Whh) as unknown as Float32Array)),
  grad('x as Float64Array', 'batch.x', (c) => (c.batch.x = F64(60))),
  grad('x as Uint8Array token ids', 'batch.x', (c) => (c.batch.x = new Uint8Array(12) as unknown as Int32Array), 'cross-entropy', true),
  grad('y as Float32Array for cross-entropy', 'batch.y', (c) => (c.batch.y = new Float32Array(12))),
  grad('y as Int32Array for mse', 'batch.y', (c) => (c.batch.y = new Int32Array(48)), 'mse'),
  grad('h0 as Float64Array', 'batch.h0', (c) => (c.batch.h0 = F64(18))),
  grad('dO as Int32Array', 'batch.dO', (c) => (c.batch.dO = new Int32Array(48) as unknown as Float32Array), 'none'),
  grad('xi as a plain Array', 'options.truncation.xi', (c) => (c.options.truncation = { kind: 'randomized', xi: [1, 1, 1, 1] as unknown as Float32Array })),
  // ---- engine.gradients: NaN or infinite inputs with checkFinite on ----
  grad('NaN in x', 'batch.x', (c) => ((c.options.checkFinite = true), nan(c.batch.x as Float32Array, 17))),
  grad('Infinity in Whh', 'model.Whh', (c) => ((c.options.checkFinite = true), nan(c.model.Whh, 3, Infinity))),
  grad('-Infinity in h0', 'batch.h0', (c) => ((c.options.checkFinite = true), nan(c.batch.h0!, 5, -Infinity))),
  grad('NaN in mse targets', 'batch.y', (c) => ((c.options.checkFinite = true), nan(c.batch.y as Float32Array, 47)), 'mse'),
  grad('NaN in dO', 'batch.dO', (c) => ((c.options.checkFinite = true), nan(c.batch.dO!, 0)), 'none'),
  grad('NaN in bq', 'model.bq', (c) => ((c.options.checkFinite = true), nan(c.model.bq!, 2))),
  grad('Infinity in dhT', 'batch.dhT', (c) => ((c.options.checkFinite = true), nan(c.batch.dhT!, 1, Infinity))),
  grad('NaN in explicit xi (always checked)', 'options.truncation.xi', (c) => (c.options.truncation = { kind: 'randomized', xi: Float32Array.of(1, NaN, 1, 1) })),
  // ---- engine.gradients: ids out of range ----
  grad('token id = d', 'batch.x', (c) => ((c.batch.x as Int32Array)[11] = 5), 'cross-entropy', true),
  grad('token id -1', 'batch.x', (c) => ((c.batch.x as Int32Array)[0] = -1), 'cross-entropy', true),
  grad('class id = q', 'batch.y', (c) => ((c.batch.y as Int32Array)[7] = 4)),
  grad('class id -7', 'batch.y', (c) => ((c.batch.y as Int32Array)[2] = -7)),
  grad('class id 2^31-1', 'batch.y', (c) => ((c.batch.y as Int32Array)[3] = 0x7fffffff)),
  // ---- engine.gradients: zero, negative and non-integer sizes ----
  grad('steps 0', 'batch.steps', (c) => (c.batch.steps = 0)),
  grad('batchSize -1', 'batch.batchSize', (c) => (c.batch.batchSize = -1)),
  grad('hiddenSize 0', 'model.hiddenSize', (c) => (c.model.hiddenSize = 0)),
  grad('inputSize 2.5', 'model.inputSize', (c) => (c.model.inputSize = 2.5)),
  grad('outputSize -4', 'model.outputSize', (c) => (c.model.outputSize = -4)),
  grad('steps Infinity', 'batch.steps', (c) => (c.batch.steps = Infinity)),
  // ---- engine.gradients: options and model shape ----
  grad('loss "hinge"', 'options.loss', (c) => (c.options.loss = 'hinge' as LossKind)),
  grad('options null', 'options', (c) => (c.options = null as unknown as GradientOptions)),
  grad('model undefined', 'model', (c) => (c.model = undefined as unknown as RnnModel)),
  grad('batch a string', 'batch', (c) => (c.batch = 'batch' as unknown as Batch)),
  grad('activation "sigmoid"', 'model.activation', (c) => (c.model.activation = 'sigmoid' as RnnModel['activation'])),
  grad('bh without bq', 'model.bq', (c) => delete c.model.bq),
  grad('truncation kind "bogus"', 'options.truncation.kind', (c) => (c.options.truncation = { kind: 'bogus' } as unknown as GradientOptions['truncation'])),
  grad('chunked steps 0', 'options.truncation.steps', (c) => (c.options.truncation = { kind: 'chunked', steps: 0 })),
  grad('window steps -2', 'options.truncation.steps', (c) => (c.options.truncation = { kind: 'window', steps: -2 })),
  grad('keepProbability 0', 'options.truncation.keepProbability', (c) => (c.options.truncation = { kind: 'randomized', keepProbability: 0, seed: 1 })),
  grad('keepProbability 1.5', 'options.truncation.keepProbability', (c) => (c.options.truncation = { kind: 'randomized', keepProbability: 1.5, seed: 1 })),
  grad('seed 0.5', 'options.truncation.seed', (c) => (c.options.truncation = { kind: 'randomized', keepProbability: 0.5, seed: 0.5 })),
  grad('clipNorm -1', 'options.clipNorm', (c) => (c.options.clipNorm = -1)),
  grad('clipNorm NaN', 'options.clipNorm', (c) => (c.options.clipNorm = NaN)),
  grad('missing y', 'batch.y', (c) => delete c.batch.y),
  grad('missing dO with loss "none"', 'batch.dO', (c) => delete c.batch.dO, 'none'),
  grad('inputGradient with token ids', 'options.inputGradient', (c) => (c.options.inputGradient = true), 'cross-entropy', true),

  // ---- engine.trainer ----
  trainerCall('no optimizer', 'options.optimizer', (_m, o) => void delete (o as Partial<TrainerOptions>).optimizer),
  trainerCall('optimizer "rmsprop"', 'options.optimizer.kind', (_m, o) => void ((o.optimizer as { kind: string }).kind = 'rmsprop')),
  trainerCall('learningRate 0', 'options.optimizer.learningRate', (_m, o) => void (o.optimizer.learningRate = 0)),
  trainerCall('learningRate Infinity', 'options.optimizer.learningRate', (_m, o) => void (o.optimizer.learningRate = Infinity)),
  trainerCall('adam beta1 1', 'options.optimizer.beta1', () => ({ ...TRAINER_OPTIONS, optimizer: { kind: 'adam', learningRate: 0.01, beta1: 1 } })),
  trainerCall('adam beta2 -0.1', 'options.optimizer.beta2', () => ({ ...TRAINER_OPTIONS, optimizer: { kind: 'adam', learningRate: 0.01, beta2: -0.1 } })),
  trainerCall('adam epsilon 0', 'options.optimizer.epsilon', () => ({ ...TRAINER_OPTIONS, optimizer: { kind: 'adam', learningRate: 0.01, epsilon: 0 } })),
  trainerCall('loss missing', 'options.loss', (_m, o) => void delete (o as Partial<TrainerOptions>).loss),
  trainerCall('clipNorm 0', 'options.clipNorm', (_m, o) => void (o.clipNorm = 0)),
  trainerCall('chunked steps 1.5', 'options.truncation.steps', (_m, o) => void (o.truncation = { kind: 'chunked', steps: 1.5 })),
  trainerCall('checkFinite with NaN in Whx', 'model.Whx', (m, o) => void ((o.checkFinite = true), nan(m.Whx, 4))),
  trainerCall('Whh of the wrong length', 'model.Whh', (m) => void (m.Whh = new Float32Array(35))),
  {
    name: 'trainer options undefined',
    api: 'trainer',
    error: { input: 'options' },
    async run({ engine }) {
      engine.trainer(valid().model, undefined as unknown as TrainerOptions);
    },
  },
  {
    name: 'trainer options a number',
    api: 'trainer',
    error: { input: 'options' },
    async run({ engine }) {
      engine.trainer(valid().model, 7 as unknown as TrainerOptions);
    },
  },
  {
    name: 'trainer model null',
    api: 'trainer',
    error: { input: 'model' },
    async run({ engine }) {
      engine.trainer(null as unknown as RnnModel, TRAINER_OPTIONS);
    },
  },

  // ---- trainer.step and trainer.read ----
  stepCall('x of the wrong length', 'batch.x', (b) => (b.x = new Float32Array(59))),
  stepCall('class id out of range', 'batch.y', (b) => ((b.y as Int32Array)[0] = 9)),
  stepCall('NaN in x with checkFinite', 'batch.x', (b) => nan(b.x as Float32Array, 30), { checkFinite: true }),
  stepCall('Infinity in h0 with checkFinite', 'batch.h0', (b) => nan(b.h0!, 0, Infinity), { checkFinite: true }),
  stepCall('batchSize 0', 'batch.batchSize', (b) => (b.batchSize = 0)),
  stepCall('explicit xi of length T+1 for a T-step batch', 'options.truncation.xi', () => {}, { truncation: { kind: 'randomized', xi: new Float32Array(5).fill(1) } }),
  stepCall('mse targets missing', 'batch.y', (b) => delete b.y, {}, 'mse'),
  {
    name: 'step with a null batch',
    api: 'step',
    error: { input: 'batch' },
    async run(ctx) {
      await ctx.trainer().step(null as unknown as Batch);
    },
  },
  {
    name: 'carried state of another batch size (carryState, no h0)',
    api: 'step',
    error: { input: 'batch.batchSize' },
    async run(ctx) {
      const trainer = ctx.trainer({ carryState: true });
      const { batch } = valid();
      delete batch.h0;
      await trainer.step(batch);
      await trainer.step(randomProblem({ ...SIZES, B: 2, seed: 7 }).batch);
    },
  },
  {
    name: 'step on a disposed trainer',
    api: 'step',
    error: { device: /trainer: this trainer was disposed/ },
    async run({ engine }) {
      const trainer = engine.trainer(valid().model, TRAINER_OPTIONS);
      trainer.dispose();
      await trainer.step(valid().batch);
    },
  },
  {
    name: 'read on a disposed trainer',
    api: 'read',
    error: { device: /trainer: this trainer was disposed/ },
    async run({ engine }) {
      const trainer = engine.trainer(valid().model, TRAINER_OPTIONS);
      trainer.dispose();
      await trainer.read();
    },
  },

  // ---- a disposed engine ----
  {
    name: 'gradients on a disposed engine',
    api: 'engine',
    error: { device: /engine: this engine was disposed/ },
    async run(ctx) {
      const spare = await ctx.spareEngine();
      spare.dispose();
      const c = valid();
      await spare.gradients(c.model, c.batch, c.options);
    },
  },
  {
    name: 'trainer on a disposed engine',
    api: 'engine',
    error: { device: /engine: this engine was disposed/ },
    async run(ctx) {
      const spare = await ctx.spareEngine();
      spare.dispose();
      spare.trainer(valid().model, TRAINER_OPTIONS);
    },
  },
  {
    name: 'selfCheck on a disposed engine',
    api: 'engine',
    error: { device: /engine: this engine was disposed/ },
    async run(ctx) {
      const spare = await ctx.spareEngine();
      spare.dispose();
      await spare.selfCheck();
    },
  },
  {
    name: 'step of a trainer whose engine was disposed',
    api: 'engine',
    only: ['webgpu', 'wasm'], // the CPU trainer holds no engine resources; it keeps working
    error: { device: /trainer: this trainer was disposed/ },
    async run(ctx) {
      const spare = await ctx.spareEngine();
      const trainer = spare.trainer(valid().model, TRAINER_OPTIONS);
      spare.dispose();
      await trainer.step(valid().batch);
    },
  },

  // ---- createEngine options ----
  ...([0, 2.5, -1, '2', null] as unknown[]).map(
    (threads): BadCall => ({
      name: `createEngine threads ${JSON.stringify(threads)}`,
      api: 'createEngine',
      error: { input: 'options.threads' },
      async run() {
        await createEngine({ backend: 'wasm', threads: threads as number });
      },
    }),
  ),
  // options.tuning is checked on every backend, before one is chosen
  ...(['cpu', 'wasm', 'webgpu'] as const).flatMap((backend) =>
    ([
      ['fast', 'options.tuning'],
      [{ mode: 'eager' }, 'options.tuning.mode'],
      [{ budgetMs: -1 }, 'options.tuning.budgetMs'],
      [{ speed: 1 }, 'options.tuning.speed'],
      // every kernel of the choice, the SequenceModel's and the vanilla path's, refused by its own name
      ...(['forwardStep', 'backwardStep', 'matmul', 'wavefront', 'backwardWavefront', 'rnnForwardStep', 'rnnBackwardStep', 'windowStep', 'finalize'] as const).map(
        (k) => [{ fixed: { [k]: 'warp' } }, `options.tuning.fixed.${k}`] as const,
      ),
      [{ fixed: { tile: 'tile4' } }, 'options.tuning.fixed.tile'],
    ] as const).map(
      ([tuning, input]): BadCall => ({
        name: `createEngine ${backend} tuning ${JSON.stringify(tuning)}`,
        api: 'createEngine',
        error: { input },
        async run() {
          await createEngine({ backend, tuning: tuning as never });
        },
      }),
    ),
  ),
  {
    name: "createEngine backend 'gpu'",
    api: 'createEngine',
    error: { input: 'options.backend' },
    async run() {
      await createEngine({ backend: 'gpu' as 'webgpu' });
    },
  },
  {
    name: 'createEngine options null',
    api: 'createEngine',
    error: { input: 'options' },
    async run() {
      await createEngine(null as unknown as undefined);
    },
  },
  {
    name: "createEngine options 'cpu' (a string)",
    api: 'createEngine',
    error: { input: 'options' },
    async run() {
      await createEngine('cpu' as unknown as undefined);
    },
  },
  {
    name: 'createEngine limits.maxStorageBufferBindingSize -5',
    api: 'createEngine',
    error: { input: 'options.limits.maxStorageBufferBindingSize' },
    async run(ctx) {
      await createEngine({ backend: ctx.kind, device: ctx.engine.device ?? undefined, limits: { maxStorageBufferBindingSize: -5 } });
    },
  },
  {
    name: "createEngine limits.maxBufferSize '1GB' (a string)",
    api: 'createEngine',
    error: { input: 'options.limits.maxBufferSize' },
    async run(ctx) {
      await createEngine({ backend: ctx.kind, device: ctx.engine.device ?? undefined, limits: { maxBufferSize: '1GB' as unknown as number } });
    },
  },
  {
    name: 'createEngine limits a number',
    api: 'createEngine',
    error: { input: 'options.limits' },
    async run(ctx) {
      await createEngine({ backend: ctx.kind, device: ctx.engine.device ?? undefined, limits: 1024 as unknown as { maxBufferSize: number } });
    },
  },
  {
    name: 'createEngine device that is not a GPUDevice',
    api: 'createEngine',
    only: 'webgpu',
    error: { input: 'options.device' },
    async run() {
      await createEngine({ backend: 'webgpu', device: {} as GPUDevice });
    },
  },

  // ---- sizes beyond the limits the engine works within (refused before any work, the limit named) ----
  {
    name: 'gradients beyond options.limits.maxStorageBufferBindingSize',
    api: 'gradients',
    only: 'webgpu',
    error: { input: 'batch' },
    async run(ctx) {
      const limited = await ctx.limitedEngine({ maxStorageBufferBindingSize: 1024 });
      const big = randomProblem({ T: 4, B: 16, d: 5, h: 6, q: 4, seed: 3 }); // P = 4*16*6*4 = 1536 bytes
      try {
        await expectRefusedWithoutWork(limited, () => limited.gradients(big.model, big.batch, { loss: 'cross-entropy' }), /maxStorageBufferBindingSize = 1024 bytes/);
      } finally {
        await expectRightGradients(limited, 'webgpu'); // the limited engine still works within its limits
        limited.dispose();
      }
    },
  },
  {
    name: 'trainer step beyond options.limits.maxBufferSize',
    api: 'step',
    only: 'webgpu',
    error: { input: 'batch' },
    async run(ctx) {
      const limited = await ctx.limitedEngine({ maxBufferSize: 1024 });
      const trainer = limited.trainer(valid().model, TRAINER_OPTIONS);
      const big = randomProblem({ T: 4, B: 16, d: 5, h: 6, q: 4, seed: 3 });
      try {
        await expectRefusedWithoutWork(limited, () => trainer.step(big.batch), /maxBufferSize = 1024 bytes/);
      } finally {
        await expectRightStep(trainer, 'webgpu');
        trainer.dispose();
        limited.dispose();
      }
    },
  },
  {
    name: 'trainer whose parameters exceed options.limits.maxStorageBufferBindingSize',
    api: 'trainer',
    only: 'webgpu',
    error: { input: 'model' },
    async run(ctx) {
      const limited = await ctx.limitedEngine({ maxStorageBufferBindingSize: 512 });
      const big = randomProblem({ T: 1, B: 1, d: 5, h: 12, q: 4, seed: 3 }); // 12*5 + 144 + 48 + 12 + 4 floats = 1072 bytes
      try {
        await expectRefusedWithoutWork(limited, async () => limited.trainer(big.model, TRAINER_OPTIONS), /maxStorageBufferBindingSize = 512 bytes/);
      } finally {
        const trainer = limited.trainer(valid().model, TRAINER_OPTIONS); // 400 bytes: within
        await expectRightStep(trainer, 'webgpu');
        limited.dispose();
      }
    },
  },

  // ======================================================================
  // ---- device-level API (engine.gpu.forward/backward) goes here ----
  // Append rows with api: 'device-api', only: 'webgpu', e.g. a GPUBuffer
  // from another device (foreign), a buffer destroyed before the call, a
  // buffer too small for [T, B, d], a buffer without STORAGE usage. Each row
  // throws inside run(); the follow-up checks below apply unchanged.
  // ======================================================================
];

/** Runs a call that must be refused before any GPU work: no buffer created, no submit. */
async function expectRefusedWithoutWork(engine: Engine, call: () => Promise<unknown>, message: RegExp): Promise<never> {
  const device = engine.device!;
  const before = engine.stats();
  let created = 0;
  const createBuffer = device.createBuffer;
  device.createBuffer = (d: GPUBufferDescriptor) => {
    created++;
    return createBuffer.call(device, d);
  };
  let caught: unknown;
  try {
    await call();
  } catch (e) {
    caught = e;
  } finally {
    device.createBuffer = createBuffer;
  }
  expect(caught, 'the call must be refused').toBeInstanceOf(BpttInputError);
  expect((caught as Error).message).toMatch(message);
  expect(created, 'buffers created by a refused call').toBe(0);
  expect(engine.stats().liveBuffers).toBe(before.liveBuffers);
  throw caught;
}

// ---- the right answers, from the float64 CPU reference ----
let reference: { result: GradientResult; updated: Float32Array };

async function expectRightGradients(engine: Engine, kind: EngineKind): Promise<void> {
  const c = valid();
  const r = await engine.gradients(c.model, c.batch, c.options);
  const tol = TOL[kind];
  const want = reference.result;
  expectClose('loss', [r.loss], [want.loss], tol);
  for (const key of ['dWhx', 'dWhh', 'dWqh', 'dbh', 'dbq', 'dh0', 'hT', 'gradNormPerStep'] as const) {
    expectClose(key, r[key]!, want[key]!, tol);
  }
  expect(r.nonFinite).toBe(false);
}

/** A valid step on a trainer of the valid model: its loss, and the parameters it leaves. */
async function expectRightStep(trainer: Trainer, kind: EngineKind): Promise<void> {
  const { batch } = valid();
  const before = packParams(await trainer.read());
  expect(Array.from(before), 'a refused call left the parameters unchanged').toEqual(Array.from(packParams(valid().model)));
  const s = await trainer.step(batch);
  expect(s.skipped).toBe(false);
  expect(s.step).toBe(1);
  expectClose('step loss', [s.loss], [reference.result.loss], TOL[kind]);
  expectClose('parameters after one SGD step', packParams(await trainer.read()), reference.updated, TOL[kind]);
}

function checkError(row: BadCall, e: unknown): void {
  if ('input' in row.error) {
    expect(e, `${row.name}: ${String(e)}`).toBeInstanceOf(BpttInputError);
    const err = e as BpttInputError;
    expect(err.argument).toBe(row.error.input);
    expect(err.message.startsWith(`${row.error.input}: expected `)).toBe(true);
    expect(err.message).toMatch(/; received ./);
  } else {
    expect(e, `${row.name}: ${String(e)}`).toBeInstanceOf(BpttDeviceError);
    expect((e as Error).message).toMatch(row.error.device);
  }
}

function countDistinct(): number {
  return new Set(BAD_CALLS.map((r) => r.name)).size;
}

describe('bad input battery', () => {
  const engines: Partial<Record<EngineKind, Engine>> = {};
  const made: Engine[] = [];

  beforeAll(async () => {
    const cpu = await createEngine({ backend: 'cpu' });
    const c = valid();
    const result = await cpu.gradients(c.model, c.batch, c.options);
    // The SGD update of the valid model, in float64 then rounded, as the trainers compute it.
    const p = packParams(c.model);
    const g = packParams({ ...c.model, Whx: result.dWhx, Whh: result.dWhh, Wqh: result.dWqh, bh: result.dbh, bq: result.dbq });
    reference = { result, updated: Float32Array.from(p, (v, i) => v - LR * g[i]) };
    engines.cpu = cpu;
    engines.webgpu = await gpuEngine();
    engines.wasm = await createEngine({ backend: 'wasm', threads: 2 });
  });

  afterAll(() => {
    for (const e of made) e.dispose();
    engines.cpu?.dispose();
    engines.webgpu?.dispose();
    engines.wasm?.dispose();
  });

  it('has at least 40 distinct bad calls, each with a unique name', () => {
    expect(countDistinct()).toBe(BAD_CALLS.length);
    expect(BAD_CALLS.length).toBeGreaterThanOrEqual(40);
  });

  for (const kind of ['cpu', 'webgpu', 'wasm'] as const) {
    describe(`${kind} engine`, () => {
      const ctx = (): Ctx => {
        const engine = engines[kind]!;
        return {
          kind,
          engine,
          async spareEngine() {
            const e = kind === 'webgpu' ? await createEngine({ backend: 'webgpu', device: engine.device! }) : await createEngine({ backend: kind, threads: kind === 'wasm' ? 2 : undefined });
            made.push(e);
            return e;
          },
          async limitedEngine(limits) {
            const e = await createEngine({ backend: 'webgpu', device: engine.device!, limits });
            made.push(e);
            return e;
          },
          trainer(extra = {}) {
            const t = engine.trainer(valid(extra.loss ?? 'cross-entropy').model, { ...TRAINER_OPTIONS, ...extra });
            this.made.push(t);
            if (Object.keys(extra).length === 0) this.kept = t;
            return t;
          },
          kept: null,
          made: [],
        };
      };

      for (const row of BAD_CALLS) {
        if (row.only && ![row.only].flat().includes(kind)) continue;
        it(`${row.api}: ${row.name}`, async () => {
          const c = ctx();
          let caught: unknown = null;
          try {
            await row.run(c);
          } catch (e) {
            caught = e;
          }
          try {
            expect(caught, `${row.name} must be refused`).not.toBeNull();
            checkError(row, caught);
            // the same engine still gives the right answer
            await expectRightGradients(c.engine, kind);
            if (row.api === 'trainer' || row.api === 'step' || row.api === 'read') {
              await expectRightStep(c.kept ?? c.trainer(), kind);
            }
          } finally {
            for (const t of c.made) t.dispose();
          }
        });
      }
    });
  }

  describe('limits (webgpu)', () => {
    /** Bytes of the largest storage buffer and of the readback buffer of the valid call. */
    function needs(): { binding: number; buffer: number } {
      const c = valid();
      const problem = validateGradientCall(c.model, c.batch, c.options);
      // an RnnModel's call is the layer walk's, one rnn layer and a head (the chapter's kernels)
      const sizes = seqBufferSizes(sequenceShape(rnnAsSequence(c.model), sequenceProblemOfRnn(c.model.activation, problem, null)), false);
      const binding = 4 * Math.max(...Object.values(sizes));
      const { B, h } = problem.dims;
      const readback = 4 * (layoutOf(c.model).total + 2 * B * h + sizes.stats); // grad | dh0 | hT | stats
      return { binding, buffer: Math.max(binding, readback) };
    }

    it('options.limits: just within maxStorageBufferBindingSize and maxBufferSize works, just beyond is refused with the limit named', async () => {
      const device = engines.webgpu!.device!;
      const need = needs();
      for (const [name, bytes] of [['maxStorageBufferBindingSize', need.binding], ['maxBufferSize', need.buffer]] as const) {
        const within = await createEngine({ backend: 'webgpu', device, limits: { [name]: bytes } });
        made.push(within);
        await expectRightGradients(within, 'webgpu');
        const beyond = await createEngine({ backend: 'webgpu', device, limits: { [name]: bytes - 4 } });
        made.push(beyond);
        const c = valid();
        await expect(
          expectRefusedWithoutWork(beyond, () => beyond.gradients(c.model, c.batch, c.options), new RegExp(`${name} = ${bytes - 4} bytes`)),
        ).rejects.toThrow(BpttInputError);
        // and the trainer on the same engines
        const ok = within.trainer(c.model, TRAINER_OPTIONS);
        await expectRightStep(ok, 'webgpu');
        ok.dispose();
      }
    });

    it("a call beyond the adapter's own maxStorageBufferBindingSize is refused quickly, without allocating", async () => {
      const engine = engines.webgpu!;
      const limit = engine.device!.limits.maxStorageBufferBindingSize;
      // T=1, token ids, h=256: the P buffer [T*B, h] is T*B*h*4 bytes, just over the limit.
      const T = 1, h = 256, d = 3, q = 2;
      const B = Math.floor(limit / (T * h * 4)) + 1;
      expect(T * B * h * 4).toBeGreaterThan(limit);
      const model: RnnModel = {
        inputSize: d, hiddenSize: h, outputSize: q, activation: 'tanh',
        Whx: new Float32Array(h * d), Whh: new Float32Array(h * h), Wqh: new Float32Array(q * h),
      };
      const batch: Batch = { steps: T, batchSize: B, x: new Int32Array(T * B), y: new Int32Array(T * B) };
      const start = performance.now();
      const error = await expectRefusedWithoutWork(
        engine,
        () => engine.gradients(model, batch, { loss: 'cross-entropy' }),
        new RegExp(`maxStorageBufferBindingSize = ${limit} bytes`),
      ).catch((e: Error) => e);
      const ms = performance.now() - start;
      expect(error).toBeInstanceOf(BpttInputError);
      expect(ms, 'refused before any work').toBeLessThan(2000);
      console.log(`[limits] refused T=${T} B=${B} h=${h} (P = ${T * B * h * 4} bytes > ${limit}) in ${ms.toFixed(0)} ms: ${(error as Error).message}`);
      // and the trainer, stepping on the same batch
      const trainer = engine.trainer(model, TRAINER_OPTIONS);
      try {
        await expect(expectRefusedWithoutWork(engine, () => trainer.step(batch), new RegExp(`maxStorageBufferBindingSize = ${limit} bytes`))).rejects.toThrow(BpttInputError);
      } finally {
        trainer.dispose();
      }
      await expectRightGradients(engine, 'webgpu');
    });
  });
});

// A SequenceModel on the 'wasm' engine (1 and 2 threads): the bad calls of the SequenceModel validation tests
// (test/sequence-bad-cases.ts), then bad trainer options, bad steps, forward and generate. Each is refused
// naming the argument; afterwards the engine (and the trainer) give the same answers as before.
describe('SequenceModel on the wasm engine', () => {
  for (const threads of [1, 2]) {
    describe(`${threads} thread(s)`, () => {
      let engine: Engine;
      beforeAll(async () => {
        engine = await createEngine({ backend: 'wasm', threads });
      });
      afterAll(() => engine?.dispose());

      for (const bad of BAD_SEQUENCE_CASES) it(`gradients: ${bad.name}`, () => expectRefused(engine, bad));

      const OPTIONS: TrainerOptions = { optimizer: { kind: 'adam', learningRate: 0.01 }, loss: 'cross-entropy', carryState: true };
      const trainerRows: Array<[string, string, (c: SeqCall, o: TrainerOptions) => void]> = [
        ['window with both directions', 'options.truncation', (c, o) => ((c.model = randomSequenceProblem({ ...SEQ, bidirectional: true }).model), (o.truncation = { kind: 'window', steps: 2 }))],
        ['a learning rate of 0', 'options.optimizer.learningRate', (_c, o) => (o.optimizer.learningRate = 0)],
        ['a loss other than none without head', 'options.loss', (c, o) => (delete c.model.head, (o.loss = 'mse'))],
        ['a layer missing', 'model.layers', (c) => c.model.layers.pop()],
      ];
      for (const [name, argument, change] of trainerRows) {
        it(`trainer: ${name}`, () => {
          const c = validSequence();
          const o = structuredClone(OPTIONS);
          change(c, o);
          expect(() => engine.trainer(c.model, o)).toThrow(expect.objectContaining({ argument }));
        });
      }

      const stepRows: Array<[string, string, (b: Batch) => void]> = [
        ['x one short', 'batch.x', (b) => (b.x = new Float32Array(b.x.length - 1))],
        ['y of the wrong type', 'batch.y', (b) => (b.y = new Float32Array(b.y!.length))],
        ['c0 of the wrong size', 'batch.c0', (b) => (b.c0 = new Float32Array(5))],
        ['a length above T', 'batch.lengths', (b) => (b.lengths = Int32Array.from({ length: b.batchSize }, () => b.steps + 1))],
        ['a batch size other than the carried state', 'batch.batchSize', (b) => Object.assign(b, randomSequenceProblem({ ...SEQ, B: SEQ.B + 1 }).batch, { h0: undefined, c0: undefined })],
      ];
      it('trainer.step: refused steps leave the parameters and the carried state as they were', async () => {
        const { model, batch } = validSequence();
        const stepped = engine.trainer(model, OPTIONS);
        const twin = engine.trainer(model, OPTIONS);
        const clean = { ...batch, h0: undefined, c0: undefined };
        for (const t of [stepped, twin]) await t.step(clean);
        for (const [name, argument, change] of stepRows) {
          const bad = structuredClone(clean);
          change(bad);
          await expect(stepped.step(bad), name).rejects.toMatchObject({ argument });
        }
        const [a, b] = [await stepped.step(clean), await twin.step(clean)];
        expect(a).toEqual(b);
        expect(packSequence(await stepped.read())).toEqual(packSequence(await twin.read()));
        stepped.dispose();
        twin.dispose();
      });

      it('forward and generate: bad options refused naming the argument, then the same answers', async () => {
        const { model, batch } = validSequence();
        const before = await engine.forward(model, batch, { outputs: ['O'] });
        await expect(engine.forward({ ...model, head: undefined }, batch, { outputs: ['O'] })).rejects.toMatchObject({ argument: 'options.outputs' });
        await expect(engine.forward(model, { ...batch, x: new Float32Array(3) })).rejects.toMatchObject({ argument: 'batch.x' });
        await expect(engine.generate(model, { prefix: Int32Array.of(1), steps: 3 })).rejects.toMatchObject({ argument: 'model.head.outputSize' });
        await expect(engine.generate({ ...model, head: { ...model.head!, outputSize: SEQ.d, W: new Float32Array(SEQ.d * SEQ.h), b: new Float32Array(SEQ.d) } }, { prefix: Int32Array.of(SEQ.d), steps: 3 })).rejects.toMatchObject({
          argument: 'options.prefix',
        });
        expect(await engine.forward(model, batch, { outputs: ['O'] })).toEqual(before);
      });
    });
  }
});

interface SeqCall {
  model: SequenceModel;
  batch: Batch;
}
const SEQ: SequenceSpec = { cell: 'lstm', T: 4, B: 3, d: 5, h: 4, q: 6, L: 2, states: true, seed: 707 };
function validSequence(): SeqCall {
  return randomSequenceProblem(SEQ);
}

// engine.gpu: the layer on GPUBuffers, for other ML front ends. Inputs and
// outputs are buffers on the engine's device (pass your own device to
// createEngine to share it); nothing is copied to or from the host. With
// `encoder`, the work is recorded into the caller's command encoder and runs
// when the caller submits it.
//
// Layouts (all row-major, time-major, 4-byte elements; MATH.md's shapes):
//   weights.Whx [h, d] f32, Whh [h, h], Wqh [q, h], bh [h], bq [q]   usage COPY_SRC
//   x           [T, B, d] f32, or [T, B] i32 token ids (tokens: true) usage COPY_SRC
//   h0, dhT     [B, h] f32 (zeros when absent)                       usage COPY_SRC
//   H           [(T+1), B, h] f32: H_0 = h0, then h_1..h_T           (forward out, backward in)
//   O           [T, B, q] f32: o_t = Wqh h_t + bq                    (forward out)
//   dO          [T, B, q] f32: dL/do_t                               usage COPY_SRC
//   hT, dh0     [B, h];  dx [T, B, d];  dWhx, dWhh, dWqh, dbh, dbq as the weights
// Outputs you pass need COPY_DST and at least the size above; outputs we create
// have STORAGE | COPY_SRC | COPY_DST, belong to you, and are yours to destroy.
// A buffer of another device, or a destroyed one, is rejected with a
// BpttInputError naming it: before anything is recorded into your encoder
// (which stays usable), or after WebGPU refused our own submit.
//
// The layer is one case of the layer walk (sequence-encode.ts): one rnn layer
// and a head, whose steps the chapter's kernels record (chapter-kernels.ts); the
// walk's Y is H here, its dG the adjoints dA with dh0 in slot 0.
import type { Activation, Truncation } from '../types.js';
import { BpttInputError, describe } from '../errors.js';
import { paramLayout, rnnSequenceLayout } from '../params.js';
import { truncationXi } from '../truncation.js';
import { checkOptionalBoolean, checkPositiveInt, validateTruncation } from '../validate.js';
import { rnnSequenceDims } from '../validate-sequence.js';
import type { GpuContext } from './context.js';
import { checkLimits } from './limits.js';
import { checkSequenceDispatchLimits, dispatchLimits } from './dispatch-limits.js';
import { type Named, SRC, checkBuffer, deviceCalls } from './device-calls.js';
import { chooseVariants } from './tuning.js';
import { type SeqBuffers, type SeqShape, forwardDispatches, planSequence, recordSequenceBackward, recordSequenceForward, recordSequenceOutput, seqBufferSizes, sequenceDispatches } from './sequence-encode.js';
import { acquireSequenceBuffers, releaseSequenceBuffers, withAliases } from './sequence-gradients.js';
import { type StackBackwardArgs, type StackBackwardOutputs, type StackForwardArgs, type StackForwardOutputs, createStackDeviceApi } from './stack-device-api.js';

const LAYER_NAMES = { rows: 'steps', steps: 'steps', batchSize: 'batchSize', inputSize: 'layer.inputSize', hiddenSize: 'layer.hiddenSize', outputSize: 'layer.outputSize' };

export interface LayerSpec {
  inputSize: number; // d
  hiddenSize: number; // h
  outputSize: number; // q
  activation: Activation;
  bias: boolean; // bh and bq present
}

export interface WeightBuffers {
  Whx: GPUBuffer;
  Whh: GPUBuffer;
  Wqh: GPUBuffer;
  bh?: GPUBuffer;
  bq?: GPUBuffer;
}

interface Common {
  layer: LayerSpec;
  steps: number; // T
  batchSize: number; // B
  weights: WeightBuffers;
  x: GPUBuffer;
  tokens?: boolean; // x holds i32 token ids [T, B]
  encoder?: GPUCommandEncoder; // record into this encoder; the caller submits
}

export interface ForwardArgs extends Common {
  h0?: GPUBuffer;
  outputs?: Partial<ForwardOutputs>;
}

export interface ForwardOutputs {
  H: GPUBuffer; // [(T+1), B, h]
  O: GPUBuffer; // [T, B, q]
  hT: GPUBuffer; // [B, h]
}

export interface BackwardArgs extends Common {
  H: GPUBuffer; // [(T+1), B, h] from forward
  dO: GPUBuffer; // [T, B, q]
  dhT?: GPUBuffer; // [B, h]
  truncation?: Truncation;
  inputGradient?: boolean; // also dx (value inputs only)
  outputs?: Partial<BackwardOutputs>;
}

export interface BackwardOutputs {
  dWhx: GPUBuffer;
  dWhh: GPUBuffer;
  dWqh: GPUBuffer;
  dbh?: GPUBuffer;
  dbq?: GPUBuffer;
  dh0: GPUBuffer; // [B, h]
  dx?: GPUBuffer; // [T, B, d]
}

export interface DeviceApi {
  /** H, O and hT of the layer, as GPUBuffers. */
  forward(args: ForwardArgs): Promise<ForwardOutputs>;
  /** A stack of any cell (args.stack): the top output Y, O with a head, hT, cT, and the stash for backward (stack-device-api.ts). */
  forward(args: StackForwardArgs): Promise<StackForwardOutputs>;
  /** Weight gradients, dh0 and (inputGradient) dx, as GPUBuffers. No clipping: that is the caller's optimizer's job. */
  backward(args: BackwardArgs): Promise<BackwardOutputs>;
  /** A stack: every parameter's gradient (flat), dh0, dc0, dx. No clipping. */
  backward(args: StackBackwardArgs): Promise<StackBackwardOutputs>;
}

function checkLayer(layer: LayerSpec): { d: number; h: number; q: number } {
  if (typeof layer !== 'object' || layer === null) throw new BpttInputError('layer', '{ inputSize, hiddenSize, outputSize, activation, bias }', describe(layer));
  const d = checkPositiveInt('layer.inputSize', layer.inputSize);
  const h = checkPositiveInt('layer.hiddenSize', layer.hiddenSize);
  const q = checkPositiveInt('layer.outputSize', layer.outputSize);
  if (!['identity', 'tanh', 'relu'].includes(layer.activation)) throw new BpttInputError('layer.activation', 'one of identity, tanh, relu', describe(layer.activation));
  if (typeof layer.bias !== 'boolean') throw new BpttInputError('layer.bias', 'true or false', describe(layer.bias));
  return { d, h, q };
}

/** Every buffer of the caller in a call: weights, x and `inputs` read, `outputs` the caller passed written. */
function callerBuffers(args: Common, inputs: Record<string, GPUBuffer | undefined>, outputs: Record<string, GPUBuffer | undefined>): Named[] {
  const named: Named[] = [];
  for (const [k, b] of Object.entries(args.weights)) if (b) named.push([`weights.${k}`, b as GPUBuffer, 'in']);
  named.push(['x', args.x, 'in']);
  for (const [k, b] of Object.entries(inputs)) if (b) named.push([k, b, 'in']);
  for (const [k, b] of Object.entries(outputs)) if (b) named.push([`outputs.${k}`, b, 'out']);
  return named;
}

export function createDeviceApi(ctx: GpuContext, limits: { maxBinding: number; maxBuffer: number }, assertUsable: () => void): DeviceApi {
  const { outputs, run } = deviceCalls(ctx);
  const stacks = createStackDeviceApi(ctx, limits, assertUsable);
  const isStack = (args: unknown): args is { stack: unknown } => typeof args === 'object' && args !== null && 'stack' in args;

  function checkCommon(args: Common, who: string) {
    assertUsable();
    ctx.assertAlive();
    if (typeof args !== 'object' || args === null) throw new BpttInputError(who, 'an arguments object', describe(args));
    const { d, h, q } = checkLayer(args.layer);
    const T = checkPositiveInt('steps', args.steps);
    const B = checkPositiveInt('batchSize', args.batchSize);
    const tokens = checkOptionalBoolean('tokens', args.tokens);
    const w = args.weights;
    if (typeof w !== 'object' || w === null) throw new BpttInputError('weights', '{ Whx, Whh, Wqh, bh?, bq? } of GPUBuffers', describe(w));
    checkBuffer('weights.Whx', w.Whx, h * d, `[h, d] = [${h}, ${d}]`, SRC);
    checkBuffer('weights.Whh', w.Whh, h * h, `[h, h] = [${h}, ${h}]`, SRC);
    checkBuffer('weights.Wqh', w.Wqh, q * h, `[q, h] = [${q}, ${h}]`, SRC);
    if (args.layer.bias) {
      checkBuffer('weights.bh', w.bh, h, `[h] = [${h}]`, SRC);
      checkBuffer('weights.bq', w.bq, q, `[q] = [${q}]`, SRC);
    } else if (w.bh || w.bq) {
      throw new BpttInputError('weights.bh', 'no bias buffers (layer.bias is false)', 'a bias buffer');
    }
    checkBuffer('x', args.x, tokens ? T * B : T * B * d, tokens ? `[T, B] = [${T}, ${B}] i32 token ids` : `[T, B, d] = [${T}, ${B}, ${d}] f32`, SRC);
    if (args.encoder !== undefined && (typeof args.encoder !== 'object' || typeof args.encoder?.copyBufferToBuffer !== 'function')) {
      throw new BpttInputError('encoder', 'a GPUCommandEncoder', describe(args.encoder));
    }
    const layout = paramLayout(d, h, q, args.layer.bias);
    return { d, h, q, T, B, tokens, layout };
  }

  /** The walk's shape of a layer call, with the variants the tuner chose for it (the chapter's kernels). */
  async function shapeOf(args: Common, c: ReturnType<typeof checkCommon>, truncation: Truncation | null): Promise<SeqShape> {
    const dims = rnnSequenceDims(args.layer.activation, c.d, c.h, c.q, args.layer.bias);
    const run = { T: c.T, B: c.B, activation: args.layer.activation, tokens: c.tokens, loss: 'none' as const, xi: truncation ? truncationXi(truncation, c.T) : null, window: truncation?.kind === 'window' ? truncation.steps : 0 };
    const s = await chooseVariants(ctx, planSequence(dims, run, rnnSequenceLayout(c.layout, c.d)));
    ctx.assertAlive(); // (choosing may await the tuner, and the engine be disposed meanwhile)
    assertUsable();
    if (!s.chapter) throw new Error('engine.gpu: a layer call is the chapter case of the walk'); // (runsChapterKernels: always)
    return s;
  }

  /** Copies the caller's weight buffers into the packed parameter buffer. */
  function copyWeights(rec: ReturnType<GpuContext['record']>, w: WeightBuffers, params: GPUBuffer, L: ReturnType<typeof paramLayout>, d: number, h: number, q: number, bias: boolean) {
    rec.copy(w.Whx, 0, params, L.Whx * 4, h * d * 4);
    rec.copy(w.Whh, 0, params, L.Whh * 4, h * h * 4);
    rec.copy(w.Wqh, 0, params, L.Wqh * 4, q * h * 4);
    if (bias) {
      rec.copy(w.bh!, 0, params, L.bh * 4, h * 4);
      rec.copy(w.bq!, 0, params, L.bq * 4, q * 4);
    }
  }

  async function forward(args: ForwardArgs): Promise<ForwardOutputs> {
    const c = checkCommon(args, 'engine.gpu.forward');
    const { d, h, q, T, B, layout: L } = c;
    if (args.h0 !== undefined) checkBuffer('h0', args.h0, B * h, `[B, h] = [${B}, ${h}]`, SRC);
    const s = await shapeOf(args, c, null);
    const all = seqBufferSizes(s, false);
    const sizes = positive({ params: all.params, x: all.x, Gx: all.Gx, Y: all.Y, state0: all.state0, lengths: all.lengths, O: all.O, WhhT: all.WhhT, stepScratch: all.stepScratch });
    checkLimits(sizes, limits);
    const dispatches = forwardDispatches(s) + 1;
    checkSequenceDispatchLimits(s, dispatches, dispatchLimits(ctx.device), LAYER_NAMES);
    const created: GPUBuffer[] = [];
    const make = outputs<keyof ForwardOutputs>(args.outputs ?? {}, created);
    const result: ForwardOutputs = {
      H: make('H', (T + 1) * B * h, `[(T+1), B, h] = [${T + 1}, ${B}, ${h}]`),
      O: make('O', T * B * q, `[T, B, q] = [${T}, ${B}, ${q}]`),
      hT: make('hT', B * h, `[B, h] = [${B}, ${h}]`),
    };
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
    const allocate = args.encoder ? ctx.heldAllocator(`forward ${JSON.stringify(sizes)}`) : (n: number, u: number, k: string) => ctx.pool.acquire(n, u, k);
    const own = Object.fromEntries(Object.entries(sizes).map(([k, n]) => [k, allocate(n * 4, usage, k)])) as Partial<SeqBuffers>;
    const bufs = withAliases({ ...own }, all) as SeqBuffers;
    try {
      const named = callerBuffers(args, { h0: args.h0 }, args.outputs ?? {});
      await run('engine.gpu.forward', args.encoder, named, created, (rec) => {
        copyWeights(rec, args.weights, bufs.params, L, d, h, q, args.layer.bias);
        rec.copy(args.x, 0, bufs.x, 0, sizes.x * 4);
        if (args.h0) rec.copy(args.h0, 0, bufs.state0, 0, B * h * 4);
        else rec.clear(bufs.state0, 0, B * h * 4);
        recordSequenceForward(rec, s, bufs);
        recordSequenceOutput(rec, s, bufs);
        rec.copy(bufs.Y, 0, result.H, 0, (T + 1) * B * h * 4); // Y's slots 0..T are H_0 = h0, h_1..h_T
        rec.copy(bufs.O, 0, result.O, 0, T * B * q * 4);
        rec.copy(bufs.Y, T * B * h * 4, result.hT, 0, B * h * 4);
      }, dispatches);
    } finally {
      if (!args.encoder) for (const b of Object.values(own)) if (b) ctx.pool.release(b);
    }
    return result;
  }

  async function backward(args: BackwardArgs): Promise<BackwardOutputs> {
    const c = checkCommon(args, 'engine.gpu.backward');
    const { d, h, q, T, B, tokens, layout: L } = c;
    checkBuffer('H', args.H, (T + 1) * B * h, `[(T+1), B, h] = [${T + 1}, ${B}, ${h}] from forward`, SRC);
    checkBuffer('dO', args.dO, T * B * q, `[T, B, q] = [${T}, ${B}, ${q}]`, SRC);
    if (args.dhT !== undefined) checkBuffer('dhT', args.dhT, B * h, `[B, h] = [${B}, ${h}]`, SRC);
    const inputGradient = checkOptionalBoolean('inputGradient', args.inputGradient);
    if (inputGradient && tokens) throw new BpttInputError('inputGradient', 'value inputs (f32 x) for dx', 'token ids (tokens: true)');
    const truncation = validateTruncation(args.truncation, T, 'truncation');
    const s = await shapeOf(args, c, truncation);
    // token ids stay on the device: scan them (no csr); nothing of the forward but H is needed
    const sizes = { ...seqBufferSizes(s, inputGradient), csr: 0, Gx: 0 };
    checkLimits(sizes, limits);
    const dispatches = sequenceDispatches(s, { dx: inputGradient, clip: false });
    checkSequenceDispatchLimits(s, dispatches, dispatchLimits(ctx.device), LAYER_NAMES);
    const created: GPUBuffer[] = [];
    const make = outputs<keyof BackwardOutputs>(args.outputs ?? {}, created);
    const result: BackwardOutputs = {
      dWhx: make('dWhx', h * d, `[h, d] = [${h}, ${d}]`),
      dWhh: make('dWhh', h * h, `[h, h] = [${h}, ${h}]`),
      dWqh: make('dWqh', q * h, `[q, h] = [${q}, ${h}]`),
      dh0: make('dh0', B * h, `[B, h] = [${B}, ${h}]`),
    };
    if (args.layer.bias) {
      result.dbh = make('dbh', h, `[h] = [${h}]`);
      result.dbq = make('dbq', q, `[q] = [${q}]`);
    }
    if (inputGradient) result.dx = make('dx', T * B * d, `[T, B, d] = [${T}, ${B}, ${d}]`);
    // Into a caller's encoder: scratch held until the engine is disposed (see GpuContext.heldAllocator).
    const bufs = args.encoder ? acquireSequenceBuffers(ctx, sizes, {}, ctx.heldAllocator(`backward ${JSON.stringify(sizes)}`)) : acquireSequenceBuffers(ctx, sizes);
    try {
      const named = callerBuffers(args, { H: args.H, dO: args.dO, dhT: args.dhT }, args.outputs ?? {});
      await run('engine.gpu.backward', args.encoder, named, created, (rec) => {
        copyWeights(rec, args.weights, bufs.params, L, d, h, q, args.layer.bias);
        rec.copy(args.x, 0, bufs.x, 0, sizes.x * 4);
        rec.copy(args.H, 0, bufs.Y, 0, (T + 1) * B * h * 4);
        rec.copy(args.dO, 0, bufs.O, 0, T * B * q * 4);
        if (args.dhT) rec.copy(args.dhT, 0, bufs.dhT!, 0, B * h * 4);
        else rec.clear(bufs.dhT!, 0, B * h * 4);
        rec.clear(bufs.stats, 0, sizes.stats * 4);
        recordSequenceBackward(rec, s, bufs, { perStepNorms: false, dx: inputGradient, clipNorm: 0, applyClip: false, countStep: false });
        rec.copy(bufs.grad, L.Whx * 4, result.dWhx, 0, h * d * 4);
        rec.copy(bufs.grad, L.Whh * 4, result.dWhh, 0, h * h * 4);
        rec.copy(bufs.grad, L.Wqh * 4, result.dWqh, 0, q * h * 4);
        if (result.dbh && result.dbq) {
          rec.copy(bufs.grad, L.bh * 4, result.dbh, 0, h * 4);
          rec.copy(bufs.grad, L.bq * 4, result.dbq, 0, q * 4);
        }
        rec.copy(bufs.dG, 0, result.dh0, 0, B * h * 4); // dA's slot 0
        if (result.dx) rec.copy(bufs.dx!, 0, result.dx, 0, T * B * d * 4);
      }, dispatches);
    } finally {
      if (!args.encoder) releaseSequenceBuffers(ctx, bufs);
    }
    return result;
  }

  return {
    forward: ((args: ForwardArgs | StackForwardArgs) => (isStack(args) ? stacks.forward(args) : forward(args))) as DeviceApi['forward'],
    backward: ((args: BackwardArgs | StackBackwardArgs) => (isStack(args) ? stacks.backward(args) : backward(args))) as DeviceApi['backward'],
  };
}

/** The sizes that are not 0 (or an alias, -1): the buffers a call allocates. */
function positive<K extends string>(sizes: Record<K, number>): Record<K, number> {
  return Object.fromEntries(Object.entries(sizes).filter(([, n]) => (n as number) > 0)) as Record<K, number>;
}

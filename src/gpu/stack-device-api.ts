// engine.gpu.forward / backward for a stack of any cell (rnn, gru, lstm; L
// layers, one or both directions, an optional head), on the caller's
// GPUBuffers. Called with `stack` instead of `layer` (see device-api.ts).
//
// Layouts (row-major, time-major, 4-byte elements; MATH.md part 2):
//   params   [total] f32 the flat parameter vector of src/sequence-params.ts
//            (per layer-direction k = l*dirs + dir: Wx, Wh, bx, bh; then head W, b)
//   x        [T, B, d] f32, or [T, B] i32 token ids (tokens: true)
//   h0, c0, dhT, dcT   [L*dirs, B, h] (zeros when absent; c0, dcT: lstm)
//   Y        [T, B, dirs*h] the top layer's output; O [T, B, q] the head's output
//   stash    what backward needs from forward (every layer's outputs, the
//            saved gates and cell states): pass forward's stash to backward as is
//   dO       [T, B, q] with a head; dY [T, B, dirs*h] without one
//   grad     [total] every parameter's gradient in the params layout; dh0, dc0 [L*dirs, B, h]; dx [T, B, d]
// Inputs need COPY_SRC; outputs you pass need COPY_DST; outputs we create
// (the stash included) are yours to destroy.
import type { CellKind, Truncation } from '../types.js';
import { BpttInputError, describe } from '../errors.js';
import { sequenceLayout } from '../sequence-params.js';
import { truncationXi } from '../truncation.js';
import { ACTIVATIONS, checkOptionalBoolean, checkPositiveInt, validateTruncation } from '../validate.js';
import { CELLS } from '../sequence-model.js';
import { type GpuContext, upload } from './context.js';
import { checkLimits } from './limits.js';
import { type SizeNames, checkSequenceDispatchLimits, dispatchLimits } from './dispatch-limits.js';
import { type Named, SRC, checkBuffer, deviceCalls } from './device-calls.js';
import { type SeqBuffers, type SeqShape, planSequence, recordSequenceBackward, recordSequenceForward, recordSequenceOutput, seqBufferSizes, seqOffsets, sequenceDispatches } from './sequence-encode.js';
import { acquireSequenceBuffers, copyFinalStates, lengthsOf, releaseSequenceBuffers } from './sequence-gradients.js';
import { statsLayout } from './stats.js';

export interface StackSpec {
  cell: CellKind;
  inputSize: number; // d
  hiddenSize: number; // h
  numLayers?: number; // L, default 1
  bidirectional?: boolean;
  activation?: 'tanh' | 'relu' | 'identity'; // rnn only
  bias: boolean; // bx and bh in every layer
  outputSize?: number; // q of a head; absent: no head
  headBias?: boolean; // default: bias
}

interface StackCommon {
  stack: StackSpec;
  steps: number;
  batchSize: number;
  params: GPUBuffer;
  x: GPUBuffer;
  tokens?: boolean;
  encoder?: GPUCommandEncoder;
}

export interface StackStash {
  Y: GPUBuffer; // [L, T+2, B, dirs*h] every layer's outputs with border slots
  saved: GPUBuffer; // cell states and saved gates
}

export interface StackForwardArgs extends StackCommon {
  h0?: GPUBuffer;
  c0?: GPUBuffer;
  outputs?: Partial<Omit<StackForwardOutputs, 'stash'>>;
}

export interface StackForwardOutputs {
  Y: GPUBuffer; // [T, B, dirs*h]
  O?: GPUBuffer; // [T, B, q] (with a head)
  hT: GPUBuffer; // [L*dirs, B, h]
  cT?: GPUBuffer; // lstm
  stash: StackStash;
}

export interface StackBackwardArgs extends StackCommon {
  stash: StackStash;
  dO?: GPUBuffer; // [T, B, q] with a head
  dY?: GPUBuffer; // [T, B, dirs*h] without one
  dhT?: GPUBuffer;
  dcT?: GPUBuffer;
  truncation?: Truncation;
  inputGradient?: boolean;
  outputs?: Partial<StackBackwardOutputs>;
}

export interface StackBackwardOutputs {
  grad: GPUBuffer; // [total] in the params layout
  dh0: GPUBuffer; // [L*dirs, B, h]
  dc0?: GPUBuffer; // lstm
  dx?: GPUBuffer; // [T, B, d]
}

/** A SequenceModel of the spec's shape with empty arrays: the layout needs only which tensors exist. */
function shapeModel(spec: StackSpec) {
  const L = spec.numLayers ?? 1;
  const dirs = spec.bidirectional ? 2 : 1;
  const empty = () => new Float32Array(0);
  return {
    cell: spec.cell,
    inputSize: spec.inputSize,
    hiddenSize: spec.hiddenSize,
    numLayers: L,
    bidirectional: dirs === 2,
    activation: spec.activation,
    layers: Array.from({ length: L * dirs }, () => (spec.bias ? { Wx: empty(), Wh: empty(), bx: empty(), bh: empty() } : { Wx: empty(), Wh: empty() })),
    head: spec.outputSize === undefined ? undefined : (spec.headBias ?? spec.bias) ? { outputSize: spec.outputSize, W: empty(), b: empty() } : { outputSize: spec.outputSize, W: empty() },
  };
}

/** The arguments of engine.gpu.forward/backward with a stack, for the dispatch-limit errors. */
const STACK_NAMES: SizeNames = { rows: 'steps', steps: 'steps', batchSize: 'batchSize', inputSize: 'stack.inputSize', hiddenSize: 'stack.hiddenSize', outputSize: 'stack.outputSize' };

/** Dispatches of engine.gpu.forward on a stack: K input projections, L*T steps, the head. */
const FORWARD_DISPATCHES = (s: SeqShape) => s.K + s.L * s.T + 1;

export function createStackDeviceApi(ctx: GpuContext, limits: { maxBinding: number; maxBuffer: number }, assertUsable: () => void) {
  const { outputs, run } = deviceCalls(ctx);
  const device = ctx.device;

  function checkCommon(args: StackCommon, who: string) {
    assertUsable();
    ctx.assertAlive();
    if (typeof args !== 'object' || args === null) throw new BpttInputError(who, 'an arguments object', describe(args));
    const spec = args.stack;
    if (typeof spec !== 'object' || spec === null) throw new BpttInputError('stack', '{ cell, inputSize, hiddenSize, numLayers?, bidirectional?, activation?, bias, outputSize?, headBias? }', describe(spec));
    if (typeof spec.bias !== 'boolean') throw new BpttInputError('stack.bias', 'true or false', describe(spec.bias));
    if (spec.outputSize !== undefined) checkPositiveInt('stack.outputSize', spec.outputSize);
    if (!CELLS.includes(spec.cell)) throw new BpttInputError('stack.cell', `one of ${CELLS.map((c) => `"${c}"`).join(', ')}`, describe(spec.cell));
    checkPositiveInt('stack.inputSize', spec.inputSize);
    checkPositiveInt('stack.hiddenSize', spec.hiddenSize);
    if (spec.numLayers !== undefined && (checkPositiveInt('stack.numLayers', spec.numLayers) > 8)) throw new BpttInputError('stack.numLayers', 'an integer in 1..8', describe(spec.numLayers));
    if (spec.bidirectional !== undefined && typeof spec.bidirectional !== 'boolean') throw new BpttInputError('stack.bidirectional', 'a boolean', describe(spec.bidirectional));
    if (spec.activation !== undefined && (spec.cell !== 'rnn' || !ACTIVATIONS.includes(spec.activation))) {
      throw new BpttInputError('stack.activation', spec.cell === 'rnn' ? `one of ${ACTIVATIONS.join(', ')}` : `undefined for a ${spec.cell} cell`, describe(spec.activation));
    }
    if (spec.headBias !== undefined && typeof spec.headBias !== 'boolean') throw new BpttInputError('stack.headBias', 'true, false or undefined', describe(spec.headBias));
    const model = shapeModel(spec);
    const T = checkPositiveInt('steps', args.steps);
    const B = checkPositiveInt('batchSize', args.batchSize);
    const tokens = checkOptionalBoolean('tokens', args.tokens);
    const layout = sequenceLayout(model);
    const d = spec.inputSize;
    const h = spec.hiddenSize;
    const L = model.numLayers;
    const dirs = model.bidirectional ? 2 : 1;
    checkBuffer('params', args.params, layout.total, `[total] = [${layout.total}] (the flat layout of src/sequence-params.ts)`, SRC);
    checkBuffer('x', args.x, tokens ? T * B : T * B * d, tokens ? `[T, B] = [${T}, ${B}] i32 token ids` : `[T, B, d] = [${T}, ${B}, ${d}] f32`, SRC);
    if (args.encoder !== undefined && (typeof args.encoder !== 'object' || typeof args.encoder?.copyBufferToBuffer !== 'function')) {
      throw new BpttInputError('encoder', 'a GPUCommandEncoder', describe(args.encoder));
    }
    const q = spec.outputSize ?? 0;
    const G = spec.cell === 'rnn' ? 1 : spec.cell === 'gru' ? 3 : 4;
    const sdims = { cell: spec.cell, activation: spec.activation ?? 'tanh', d, h, q, L, dirs, G, hasBias: spec.bias, hasHead: q > 0, hasHeadBias: q > 0 && (spec.headBias ?? spec.bias) } as const;
    return { T, B, tokens, layout, sdims, K: L * dirs };
  }

  const state = (T: number, B: number, K: number, h: number) => ({ n: K * B * h, shape: `[L*dirs, B, h] = [${K}, ${B}, ${h}]`, T });

  async function forward(args: StackForwardArgs): Promise<StackForwardOutputs> {
    const { T, B, tokens, layout, sdims, K } = checkCommon(args, 'engine.gpu.forward');
    const { h, q, dirs, cell } = sdims;
    const st = state(T, B, K, h);
    if (args.h0 !== undefined) checkBuffer('h0', args.h0, st.n, st.shape, SRC);
    if (args.c0 !== undefined) {
      if (cell !== 'lstm') throw new BpttInputError('c0', `undefined for a ${cell} stack (a cell state is lstm only)`, 'a GPUBuffer');
      checkBuffer('c0', args.c0, st.n, st.shape, SRC);
    }
    const s = planSequence(sdims, { T, B, activation: sdims.activation, tokens, loss: 'none', xi: null }, layout);
    const all = seqBufferSizes(s, false);
    const sizes = { params: all.params, x: all.x, Gx: all.Gx, state0: all.state0, O: q > 0 ? all.O : 0, lengths: all.lengths };
    checkLimits({ ...sizes, Y: all.Y, saved: all.saved }, limits);
    checkSequenceDispatchLimits(s, FORWARD_DISPATCHES(s), dispatchLimits(ctx.device), STACK_NAMES);
    const created: GPUBuffer[] = [];
    const make = outputs<'Y' | 'O' | 'hT' | 'cT'>(args.outputs ?? {}, created);
    const R = T * B;
    const result: StackForwardOutputs = {
      Y: make('Y', R * dirs * h, `[T, B, dirs*h] = [${T}, ${B}, ${dirs * h}]`),
      hT: make('hT', st.n, st.shape),
      stash: { Y: newBuffer(all.Y, 'stash Y', created), saved: newBuffer(all.saved, 'stash saved', created) },
    };
    if (q > 0) result.O = make('O', R * q, `[T, B, q] = [${T}, ${B}, ${q}]`);
    if (cell === 'lstm') result.cT = make('cT', st.n, st.shape);
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
    const allocate = args.encoder ? ctx.heldAllocator(`stack forward ${JSON.stringify(sizes)}`) : (n: number, u: number, k: string) => ctx.pool.acquire(n, u, k);
    const own = Object.fromEntries(Object.entries(sizes).filter(([, n]) => n > 0).map(([k, n]) => [k, allocate(n * 4, usage, k)])) as Pick<SeqBuffers, 'params' | 'x' | 'Gx' | 'state0' | 'O' | 'lengths'>;
    const bufs = { ...own, Y: result.stash.Y, saved: result.stash.saved };
    try {
      const named: Named[] = [['params', args.params, 'in'], ['x', args.x, 'in']];
      if (args.h0) named.push(['h0', args.h0, 'in']);
      if (args.c0) named.push(['c0', args.c0, 'in']);
      for (const [k, b] of Object.entries(args.outputs ?? {})) if (b) named.push([`outputs.${k}`, b as GPUBuffer, 'out']);
      await run('engine.gpu.forward', args.encoder, named, created, (rec) => {
        rec.copy(args.params, 0, bufs.params, 0, layout.total * 4);
        rec.copy(args.x, 0, bufs.x, 0, sizes.x * 4);
        upload(device, bufs.lengths, 0, lengthsOf(s)); // every sequence T steps (the same bytes for every recording of this shape)
        if (args.h0) rec.copy(args.h0, 0, bufs.state0, 0, st.n * 4);
        else rec.clear(bufs.state0, 0, st.n * 4);
        if (args.c0) rec.copy(args.c0, 0, bufs.state0, st.n * 4, st.n * 4);
        else rec.clear(bufs.state0, st.n * 4, st.n * 4);
        recordSequenceForward(rec, s, bufs);
        if (q > 0) {
          recordSequenceOutput(rec, s, bufs);
          rec.copy(bufs.O, 0, result.O!, 0, R * q * 4);
        }
        rec.copy(bufs.Y, (seqOffsets(s).Y(s.L - 1) + B * dirs * h) * 4, result.Y, 0, R * dirs * h * 4);
        copyFinalStates(rec, s, bufs, result.hT, 0, result.cT ? 0 : null, result.cT);
      }, FORWARD_DISPATCHES(s));
    } finally {
      if (!args.encoder) for (const b of Object.values(own)) ctx.pool.release(b);
    }
    return result;
  }

  function newBuffer(elems: number, label: string, created: GPUBuffer[]): GPUBuffer {
    const b = device.createBuffer({ size: Math.max(4, elems * 4), usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST, label });
    created.push(b);
    return b;
  }

  async function backward(args: StackBackwardArgs): Promise<StackBackwardOutputs> {
    const { T, B, tokens, layout, sdims, K } = checkCommon(args, 'engine.gpu.backward');
    const { h, q, dirs, cell, d } = sdims;
    const st = state(T, B, K, h);
    const R = T * B;
    const truncation = validateTruncation(args.truncation, T, 'truncation');
    if (truncation.kind === 'window' && dirs === 2) throw new BpttInputError('truncation', 'full, chunked or randomized truncation for a bidirectional stack (window is one-directional)', 'window');
    const inputGradient = checkOptionalBoolean('inputGradient', args.inputGradient);
    if (inputGradient && tokens) throw new BpttInputError('inputGradient', 'value inputs (f32 x) for dx', 'token ids (tokens: true)');
    const s = planSequence(sdims, { T, B, activation: sdims.activation, tokens, loss: 'none', xi: truncationXi(truncation, T), window: truncation.kind === 'window' ? truncation.steps : 0 }, layout);
    const all = seqBufferSizes(s, inputGradient);
    if (typeof args.stash !== 'object' || args.stash === null) throw new BpttInputError('stash', 'the stash returned by engine.gpu.forward', describe(args.stash));
    checkBuffer('stash.Y', args.stash.Y, all.Y, 'from engine.gpu.forward of the same shape', 0);
    checkBuffer('stash.saved', args.stash.saved, all.saved, 'from engine.gpu.forward of the same shape', 0);
    if (q > 0) {
      checkBuffer('dO', args.dO, R * q, `[T, B, q] = [${T}, ${B}, ${q}]`, SRC);
      if (args.dY !== undefined) throw new BpttInputError('dY', 'undefined for a stack with a head (give dO)', 'a GPUBuffer');
    } else {
      checkBuffer('dY', args.dY, R * dirs * h, `[T, B, dirs*h] = [${T}, ${B}, ${dirs * h}]`, SRC);
      if (args.dO !== undefined) throw new BpttInputError('dO', 'undefined for a stack without head (give dY)', 'a GPUBuffer');
    }
    if (args.dhT !== undefined) checkBuffer('dhT', args.dhT, st.n, st.shape, SRC);
    if (args.dcT !== undefined) {
      if (cell !== 'lstm') throw new BpttInputError('dcT', `undefined for a ${cell} stack (a cell state is lstm only)`, 'a GPUBuffer');
      checkBuffer('dcT', args.dcT, st.n, st.shape, SRC);
    }
    const sizes = { ...all, csr: 0, Y: 0, saved: 0 }; // token ids stay on the device: scan them
    checkLimits(sizes, limits);
    checkSequenceDispatchLimits(s, sequenceDispatches(s, { dx: inputGradient, clip: false }), dispatchLimits(ctx.device), STACK_NAMES);
    const created: GPUBuffer[] = [];
    const make = outputs<keyof StackBackwardOutputs>(args.outputs ?? {}, created);
    const result: StackBackwardOutputs = {
      grad: make('grad', layout.total, `[total] = [${layout.total}]`),
      dh0: make('dh0', st.n, st.shape),
    };
    if (cell === 'lstm') result.dc0 = make('dc0', st.n, st.shape);
    if (inputGradient) result.dx = make('dx', R * d, `[T, B, d] = [${T}, ${B}, ${d}]`);
    const allocate = args.encoder ? ctx.heldAllocator(`stack backward ${JSON.stringify(sizes)}`) : undefined;
    const bufs = acquireSequenceBuffers(ctx, sizes, { Y: args.stash.Y, saved: args.stash.saved }, allocate);
    const o = seqOffsets(s);
    try {
      const named: Named[] = [['params', args.params, 'in'], ['x', args.x, 'in'], ['stash.Y', args.stash.Y, 'in'], ['stash.saved', args.stash.saved, 'in']];
      for (const k of ['dO', 'dY', 'dhT', 'dcT'] as const) if (args[k]) named.push([k, args[k]!, 'in']);
      for (const [k, b] of Object.entries(args.outputs ?? {})) if (b) named.push([`outputs.${k}`, b as GPUBuffer, 'out']);
      await run('engine.gpu.backward', args.encoder, named, created, (rec) => {
        rec.copy(args.params, 0, bufs.params, 0, layout.total * 4);
        rec.copy(args.x, 0, bufs.x, 0, sizes.x * 4);
        upload(device, bufs.lengths, 0, lengthsOf(s)); // every sequence T steps (the same bytes for every recording of this shape)
        if (q > 0) rec.copy(args.dO!, 0, bufs.O, 0, R * q * 4);
        else rec.copy(args.dY!, 0, bufs.dY, o.dY(s.L - 1) * 4, R * dirs * h * 4);
        for (let k = 0; k < K; k++) {
          const at = (base: number) => (base + (T + 1) * B * h) * 4; // slot T+1 of k's dH (dC) block
          if (args.dhT) rec.copy(args.dhT, k * B * h * 4, bufs.dState, at(o.dH(k)), B * h * 4);
          else rec.clear(bufs.dState, at(o.dH(k)), B * h * 4);
          if (cell === 'lstm') {
            if (args.dcT) rec.copy(args.dcT, k * B * h * 4, bufs.dState, at(o.dC(k)), B * h * 4);
            else rec.clear(bufs.dState, at(o.dC(k)), B * h * 4);
          }
        }
        rec.clear(bufs.stats, 0, statsLayout().perStep * 4);
        recordSequenceBackward(rec, s, bufs, { perStepNorms: false, dx: inputGradient, clipNorm: 0, applyClip: false, countStep: false });
        rec.copy(bufs.grad, 0, result.grad, 0, layout.total * 4);
        for (let k = 0; k < K; k++) {
          rec.copy(bufs.dState, o.dH(k) * 4, result.dh0, k * B * h * 4, B * h * 4);
          if (result.dc0) rec.copy(bufs.dState, o.dC(k) * 4, result.dc0, k * B * h * 4, B * h * 4);
        }
        if (result.dx) rec.copy(bufs.dx!, 0, result.dx, 0, R * d * 4);
      }, sequenceDispatches(s, { dx: inputGradient, clip: false }));
    } finally {
      if (!args.encoder) releaseSequenceBuffers(ctx, bufs, { Y: args.stash.Y, saved: args.stash.saved });
    }
    return result;
  }

  return { forward, backward };
}

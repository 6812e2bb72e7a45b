// engine.gpu.forward / backward with `stack`: gru, lstm and rnn stacks on the
// caller's GPUBuffers against the CPU reference, kernel by kernel where the
// stash exposes the forward's buffers (every layer's output Y, the saved gates
// S and cell states C), then the top output, O, hT, cT, and every gradient.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../src/index.js';
import { BpttInputError } from '../src/errors.js';
import type { Batch, SequenceGradients, SequenceModel, Truncation } from '../src/types.js';
import { packSequence, sequenceLayout } from '../src/sequence-params.js';
import { validateSequenceCall } from '../src/validate-sequence.js';
import { headForward, sequenceForward, stack64 } from '../src/cpu/sequence/forward.js';
import { flat64 } from '../src/cpu/sequence/gradients.js';
import type { StackSpec } from '../src/gpu/stack-device-api.js';
import { bufferOf, expectCloseToCpu, gpuEngine, printWorst, readBuffer } from './gpu-setup.js';
import { randomSequenceProblem, type SeqSpec } from './sequence-reference.js';

let gpu: Engine;
let cpu: Engine;
beforeAll(async () => {
  gpu = await gpuEngine();
  cpu = await createEngine({ backend: 'cpu' });
});
afterAll(() => {
  gpu?.dispose();
  cpu?.dispose();
  printWorst('gpu-stack-device-api.test.ts');
});

function specOf(model: SequenceModel): StackSpec {
  return {
    cell: model.cell,
    inputSize: model.inputSize,
    hiddenSize: model.hiddenSize,
    numLayers: model.numLayers,
    bidirectional: model.bidirectional,
    activation: model.activation,
    bias: model.layers[0].bx !== undefined,
    outputSize: model.head?.outputSize,
    headBias: model.head ? model.head.b !== undefined : undefined,
  };
}

/** The reference's gradients in the flat layout of the params buffer. */
function flatGradients(model: SequenceModel, g: SequenceGradients): Float32Array {
  const lay = sequenceLayout(model);
  const out = new Float32Array(lay.total);
  g.layers.forEach((l, k) => {
    const o = lay.layers[k];
    out.set(l.dWx, o.Wx);
    out.set(l.dWh, o.Wh);
    if (l.dbx) out.set(l.dbx, o.bx);
    if (l.dbh) out.set(l.dbh, o.bh);
  });
  if (g.head && lay.head) {
    out.set(g.head.dW, lay.head.W);
    if (g.head.db) out.set(g.head.db, lay.head.b);
  }
  return out;
}

const cases: Array<[string, SeqSpec, Truncation, boolean]> = [
  ['lstm L=2 bi, head, values, chunked, own submit', { cell: 'lstm', L: 2, bi: true, T: 5, B: 3, d: 4, h: 6, q: 5, loss: 'none', states: true, seed: 101 }, { kind: 'chunked', steps: 2 }, false],
  ["gru L=2 uni, no head, token ids, window(2), caller's encoder", { cell: 'gru', L: 2, bi: false, T: 5, B: 3, d: 4, h: 7, q: 0, tokens: true, states: true, seed: 102 }, { kind: 'window', steps: 2 }, true],
  ['rnn L=1 bi, head, values, full, no bias', { cell: 'rnn', L: 1, bi: true, T: 4, B: 2, d: 3, h: 5, q: 3, loss: 'none', bias: false, activation: 'relu', states: true, seed: 103 }, { kind: 'full' }, false],
];

describe('engine.gpu with a stack', () => {
  it.each(cases)('%s', async (name, spec, truncation, inEncoder) => {
    const device = gpu.device!;
    const { model, batch } = randomSequenceProblem(spec);
    const T = spec.T, B = spec.B, h = spec.h;
    const dirs = spec.bi ? 2 : 1;
    const stack = specOf(model);
    const lstm = model.cell === 'lstm';
    const params = bufferOf(device, packSequence(model));
    const x = bufferOf(device, batch.x);
    const mine: GPUBuffer[] = [params, x];
    const buf = (a?: Float32Array) => {
      if (!a) return undefined;
      const b = bufferOf(device, a);
      mine.push(b);
      return b;
    };
    const encoder = inEncoder ? device.createCommandEncoder() : undefined;
    const fwd = await gpu.gpu.forward({ stack, steps: T, batchSize: B, params, x, tokens: spec.tokens, h0: buf(batch.h0), c0: buf(batch.c0), encoder });
    const bwd = await gpu.gpu.backward({
      stack, steps: T, batchSize: B, params, x, tokens: spec.tokens, stash: fwd.stash,
      dO: buf(batch.dO), dY: buf(batch.dY), dhT: buf(batch.dhT), dcT: buf(batch.dcT), truncation, inputGradient: !spec.tokens, encoder,
    });
    if (encoder) device.queue.submit([encoder.finish()]);

    // forward, kernel by kernel: the CPU reference's trace
    const p = validateSequenceCall(model, batch, { loss: 'none', truncation });
    const layout = sequenceLayout(model);
    const st = stack64(flat64(model, layout), layout, p);
    const trace = sequenceForward(st, batch as Batch, p);
    const L = spec.L;
    const yAll = await readBuffer(device, fwd.stash.Y, L * (T + 2) * B * dirs * h);
    for (let l = 0; l < L; l++) {
      const rows = yAll.subarray((l * (T + 2) + 1) * B * dirs * h, (l * (T + 2) + 1 + T) * B * dirs * h);
      expectCloseToCpu(name, `Y layer ${l}`, rows, trace.Y[l]);
    }
    const K = L * dirs;
    const cBlock = (T + 2) * B * h;
    const cSize = lstm ? K * cBlock : 0;
    const sAt = cSize + K * cBlock; // saved: C (lstm), Hs, S (src/gpu/sequence-encode.ts seqOffsets)
    const saved = await readBuffer(device, fwd.stash.saved, sAt + (model.cell === 'rnn' ? 0 : K * T * B * 4 * h));
    for (let l = 0; l < L; l++) {
      if (trace.S[l]) expectCloseToCpu(name, `S layer ${l}`, saved.subarray(sAt + l * dirs * T * B * 4 * h, sAt + (l + 1) * dirs * T * B * 4 * h), trace.S[l]!);
      for (let dir = 0; dir < dirs && lstm; dir++) {
        const k = l * dirs + dir;
        const c = saved.subarray(k * cBlock + B * h, k * cBlock + (T + 1) * B * h);
        expectCloseToCpu(name, `C layer ${l} dir ${dir}`, c, trace.C[l]!.subarray(dir * T * B * h, (dir + 1) * T * B * h));
      }
    }
    expectCloseToCpu(name, 'Y', await readBuffer(device, fwd.Y, T * B * dirs * h), trace.Y[L - 1]);
    if (model.head) expectCloseToCpu(name, 'O', await readBuffer(device, fwd.O!, T * B * spec.q), headForward(st, trace, batch, p).O);
    else expect(fwd.O).toBeUndefined();

    // backward: every gradient against engine.gradients on the CPU
    const ref = await cpu.gradients(model, batch, { loss: 'none', truncation, inputGradient: !spec.tokens });
    expectCloseToCpu(name, 'hT', await readBuffer(device, fwd.hT, K * B * h), ref.hT);
    expectCloseToCpu(name, 'grad', await readBuffer(device, bwd.grad, layout.total), flatGradients(model, ref));
    expectCloseToCpu(name, 'dh0', await readBuffer(device, bwd.dh0, K * B * h), ref.dh0);
    if (lstm) {
      expectCloseToCpu(name, 'cT', await readBuffer(device, fwd.cT!, K * B * h), ref.cT!);
      expectCloseToCpu(name, 'dc0', await readBuffer(device, bwd.dc0!, K * B * h), ref.dc0!);
    }
    if (ref.dx) expectCloseToCpu(name, 'dx', await readBuffer(device, bwd.dx!, T * B * spec.d), ref.dx);
    for (const b of [...mine, fwd.Y, fwd.O, fwd.hT, fwd.cT, fwd.stash.Y, fwd.stash.saved, bwd.grad, bwd.dh0, bwd.dc0, bwd.dx]) b?.destroy();
  });

  it('bad input names the argument: a params buffer too small, c0 on a gru, dY with a head', async () => {
    const device = gpu.device!;
    const { model, batch } = randomSequenceProblem({ cell: 'gru', L: 1, bi: false, T: 3, B: 2, d: 3, h: 4, q: 2, loss: 'none', seed: 104 });
    const stack = specOf(model);
    const small = bufferOf(device, new Float32Array(5));
    const x = bufferOf(device, batch.x);
    await expect(gpu.gpu.forward({ stack, steps: 3, batchSize: 2, params: small, x })).rejects.toMatchObject({ argument: 'params' });
    const params = bufferOf(device, packSequence(model));
    await expect(gpu.gpu.forward({ stack, steps: 3, batchSize: 2, params, x, c0: small })).rejects.toMatchObject({ argument: 'c0' });
    await expect(gpu.gpu.forward({ stack: { ...stack, activation: 'relu' }, steps: 3, batchSize: 2, params, x })).rejects.toThrow(BpttInputError);
    const fwd = await gpu.gpu.forward({ stack, steps: 3, batchSize: 2, params, x });
    await expect(gpu.gpu.backward({ stack, steps: 3, batchSize: 2, params, x, stash: fwd.stash, dY: small })).rejects.toMatchObject({ argument: 'dO' });
    for (const b of [small, x, params, fwd.Y, fwd.O, fwd.hT, fwd.stash.Y, fwd.stash.saved]) b?.destroy();
  });
});

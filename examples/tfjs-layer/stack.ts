// A webgpu-bptt stack of any cell (an LSTM, a GRU, a vanilla RNN; L layers,
// one or both directions, an optional head) as two TensorFlow.js functions, on
// TensorFlow.js's own GPUDevice: tensors in, tensors out, nothing copied to or
// from the host. The part to copy into a TF.js program, with layer.ts's
// buffersOf/tensorFrom (how the buffers travel is described there).
//
//   stackParams(tensors)                            -> params [total]     (one flat tensor)
//   stackForward(engine, spec, params, x, h0?, c0?) -> { Y, O?, hT, cT?, stash }
//   stackBackward(engine, spec, params, x, stash, { dO | dY, ... }) -> { grad [total], dh0, dc0?, dx? }
//
// The parameters travel as one flat tensor in the library's layout: for each
// layer-direction k = l*dirs + dir, Wx [G*h, n_in], Wh [G*h, h], bx [G*h],
// bh [G*h] (PyTorch's weight_ih_l{l}, weight_hh_l{l}, bias_ih_l{l},
// bias_hh_l{l}, gates in PyTorch's order), then the head's W [q, dirs*h] and
// b [q]; the gradient comes back in the same layout, so an optimizer in TF.js
// updates the flat tensor in one op. Shapes: x [T, B, d] float32 or [T, B]
// int32 token ids; h0, c0, hT, cT, dh0, dc0 [L*dirs, B, h]; Y [T, B, dirs*h];
// O and dO [T, B, q]. The stash (what backward needs from forward) is a pair
// of our GPUBuffers: pass it to stackBackward once, which destroys it.
import * as tf from '@tensorflow/tfjs-core';
import type { Engine, StackSpec, StackStash, Truncation } from 'webgpu-bptt';
import { buffersOf, tensorFrom, withEncoder, type CallOptions } from './layer.js';

/** The flat parameter tensor from the tensors in the layout's order (each flattened). */
export function stackParams(tensors: tf.Tensor[]): tf.Tensor1D {
  return tf.tidy(() => tf.concat(tensors.map((t) => tf.reshape(t, [-1]))) as tf.Tensor1D);
}

function shapes(spec: StackSpec, x: tf.Tensor) {
  const tokens = x.dtype === 'int32';
  if (x.rank !== (tokens ? 2 : 3)) throw new Error(`x: expected [T, B, d] float32 or [T, B] int32; received ${x.dtype} [${x.shape}]`);
  const [T, B] = x.shape as number[];
  const K = (spec.numLayers ?? 1) * (spec.bidirectional ? 2 : 1);
  return { T, B, tokens, K, h: spec.hiddenSize, top: (spec.bidirectional ? 2 : 1) * spec.hiddenSize };
}

export interface StackForward {
  Y: tf.Tensor; // [T, B, dirs*h]
  O?: tf.Tensor; // [T, B, q], with a head
  hT: tf.Tensor; // [L*dirs, B, h]
  cT?: tf.Tensor; // lstm
  stash: StackStash; // for stackBackward
}

export async function stackForward(engine: Engine, spec: StackSpec, params: tf.Tensor, x: tf.Tensor, h0?: tf.Tensor, c0?: tf.Tensor, options: CallOptions = {}): Promise<StackForward> {
  const { T, B, tokens, K, h, top } = shapes(spec, x);
  const { buffers, release } = buffersOf({ params, x, h0, c0 });
  try {
    const out = await withEncoder(engine, options.encoder, (encoder) =>
      engine.gpu.forward({ stack: spec, steps: T, batchSize: B, tokens, params: buffers.params, x: buffers.x, h0: buffers.h0, c0: buffers.c0, encoder }),
    );
    return {
      Y: tensorFrom(out.Y, [T, B, top]),
      O: out.O && tensorFrom(out.O, [T, B, spec.outputSize!]),
      hT: tensorFrom(out.hT, [K, B, h]),
      cT: out.cT && tensorFrom(out.cT, [K, B, h]),
      stash: out.stash,
    };
  } finally {
    release();
  }
}

export interface StackBackwardOptions extends CallOptions {
  dO?: tf.Tensor; // [T, B, q], with a head
  dY?: tf.Tensor; // [T, B, dirs*h], without one
  dhT?: tf.Tensor;
  dcT?: tf.Tensor;
  truncation?: Truncation;
  inputGradient?: boolean; // dx [T, B, d] (value inputs only)
}

export async function stackBackward(engine: Engine, spec: StackSpec, params: tf.Tensor, x: tf.Tensor, stash: StackStash, o: StackBackwardOptions) {
  const { T, B, tokens, K, h } = shapes(spec, x);
  const { buffers, release } = buffersOf({ params, x, dO: o.dO, dY: o.dY, dhT: o.dhT, dcT: o.dcT });
  try {
    const g = await withEncoder(engine, o.encoder, (encoder) =>
      engine.gpu.backward({
        stack: spec, steps: T, batchSize: B, tokens, params: buffers.params, x: buffers.x, stash,
        dO: buffers.dO, dY: buffers.dY, dhT: buffers.dhT, dcT: buffers.dcT, truncation: o.truncation, inputGradient: o.inputGradient, encoder,
      }),
    );
    return {
      grad: tensorFrom(g.grad, [params.size]),
      dh0: tensorFrom(g.dh0, [K, B, h]),
      dc0: g.dc0 && tensorFrom(g.dc0, [K, B, h]),
      dx: g.dx && tensorFrom(g.dx, [T, B, spec.inputSize]),
    };
  } finally {
    release();
    // the backward's reads of the stash were submitted (by the engine, or with our encoder above)
    stash.Y.destroy();
    stash.saved.destroy();
  }
}

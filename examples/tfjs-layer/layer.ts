// The webgpu-bptt layer as two TensorFlow.js functions, on TensorFlow.js's
// own GPUDevice: tensors in, tensors out, and nothing copied to or from the
// host. This file is the part to copy into a TensorFlow.js program.
//
//   rnnForward(engine, spec, weights, x, h0?)         -> { H, O, hT }       (tensors)
//   rnnBackward(engine, spec, weights, x, H, dO, ...) -> { dWhx, ..., dh0, dx? } (tensors)
//
// Shapes (time-major, MATH.md): x [T, B, d] float32 or [T, B] int32 token ids,
// h0 [B, h], Whx [h, d], Whh [h, h], Wqh [q, h], bh [h], bq [q];
// H [(T+1), B, h] (H_0 = h0, then h_1..h_T), O [T, B, q], hT [B, h].
//
// How the buffers travel (tfjs-backend-webgpu 4.22):
// - backend.uploadToGPU(t.dataId) moves a tensor still held on the host (as
//   tf.tensor(values) makes them) to the GPU; then tensor.dataToGPU() copies the tensor into a fresh GPUBuffer on TF.js's
//   device (usage STORAGE | COPY_SRC | COPY_DST) and submits TF.js's pending
//   work first, so the buffer holds the value; its tensorRef owns the buffer
//   and is disposed once our work that reads it has been submitted (the queue
//   runs submissions in order, so a later reuse by TF.js cannot overtake it).
// - engine.gpu.forward/backward read those buffers (they need COPY_SRC) and
//   return new buffers (STORAGE | COPY_SRC | COPY_DST) that belong to us.
// - tf.tensor({ buffer }, shape) copies such a buffer into a TF.js tensor
//   (it needs STORAGE | COPY_SRC); the copy is submitted at once, so the
//   engine's buffer can be destroyed right after.
import * as tf from '@tensorflow/tfjs-core';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import type { Engine, LayerSpec, Truncation } from 'webgpu-bptt';

export interface RnnWeights {
  Whx: tf.Tensor; // [h, d]
  Whh: tf.Tensor; // [h, h]
  Wqh: tf.Tensor; // [q, h]
  bh?: tf.Tensor; // [h]  with spec.bias
  bq?: tf.Tensor; // [q]
}

export interface CallOptions {
  /** Record the layer into a command encoder of ours, submitted after the call (instead of the engine's own submit). */
  encoder?: boolean;
}

/** GPU buffers of tensors, and a function that releases them. */
export function buffersOf<K extends string>(tensors: Partial<Record<K, tf.Tensor>>): { buffers: Record<K, GPUBuffer>; release: () => void } {
  const refs: tf.Tensor[] = [];
  const buffers = {} as Record<K, GPUBuffer>;
  for (const key of Object.keys(tensors) as K[]) {
    const t = tensors[key];
    if (!t) continue;
    // a tensor made from host values (or by an op TF.js ran on the CPU) has no
    // GPU buffer yet: upload it first (a no-op for a tensor already on the GPU)
    (tf.backend() as WebGPUBackend).uploadToGPU(t.dataId);
    const { buffer, tensorRef } = t.dataToGPU();
    if (!buffer) throw new Error(`${key}: dataToGPU gave no GPUBuffer; is the TF.js backend 'webgpu'?`);
    refs.push(tensorRef);
    buffers[key] = buffer;
  }
  return { buffers, release: () => refs.forEach((r) => r.dispose()) };
}

/** A TF.js tensor holding a copy of an engine output buffer, which is then destroyed. */
export function tensorFrom(buffer: GPUBuffer, shape: number[]): tf.Tensor {
  const t = tf.tensor({ buffer }, shape, 'float32');
  buffer.destroy(); // the copy into TF.js's buffer was submitted already
  return t;
}

function dims(spec: LayerSpec, x: tf.Tensor) {
  const tokens = x.dtype === 'int32';
  if (x.rank !== (tokens ? 2 : 3)) throw new Error(`x: expected [T, B, d] float32 or [T, B] int32; received ${x.dtype} [${x.shape}]`);
  const [T, B] = x.shape as number[];
  return { T, B, tokens, d: spec.inputSize, h: spec.hiddenSize, q: spec.outputSize };
}

/** Submits `encoder` when we made one (the engine has recorded into it). */
export async function withEncoder<R>(engine: Engine, use: boolean | undefined, work: (encoder?: GPUCommandEncoder) => Promise<R>): Promise<R> {
  const device = engine.device!;
  const encoder = use ? device.createCommandEncoder({ label: 'rnn layer' }) : undefined;
  const result = await work(encoder);
  if (encoder) device.queue.submit([encoder.finish()]);
  return result;
}

/** The layer's forward pass: H [(T+1), B, h], O [T, B, q], hT [B, h], as TF.js tensors. */
export async function rnnForward(engine: Engine, spec: LayerSpec, weights: RnnWeights, x: tf.Tensor, h0?: tf.Tensor, options: CallOptions = {}) {
  const { T, B, tokens, h, q } = dims(spec, x);
  const { buffers, release } = buffersOf({ ...weights, x, h0 });
  try {
    const out = await withEncoder(engine, options.encoder, (encoder) =>
      engine.gpu.forward({ layer: spec, steps: T, batchSize: B, tokens, weights: buffers, x: buffers.x, h0: buffers.h0, encoder }),
    );
    return {
      H: tensorFrom(out.H, [T + 1, B, h]),
      O: tensorFrom(out.O, [T, B, q]),
      hT: tensorFrom(out.hT, [B, h]),
    };
  } finally {
    release();
  }
}

export interface BackwardOptions extends CallOptions {
  dhT?: tf.Tensor; // [B, h]
  truncation?: Truncation;
  inputGradient?: boolean; // also dx [T, B, d] (value inputs only)
}

/** The layer's backward pass from dO = dL/dO [T, B, q]: weight gradients, dh0 [B, h] and dx [T, B, d], as TF.js tensors. */
export async function rnnBackward(engine: Engine, spec: LayerSpec, weights: RnnWeights, x: tf.Tensor, H: tf.Tensor, dO: tf.Tensor, options: BackwardOptions = {}) {
  const { T, B, tokens, d, h, q } = dims(spec, x);
  const { buffers, release } = buffersOf({ ...weights, x, H, dO, dhT: options.dhT });
  try {
    const g = await withEncoder(engine, options.encoder, (encoder) =>
      engine.gpu.backward({
        layer: spec, steps: T, batchSize: B, tokens, weights: buffers, x: buffers.x, H: buffers.H, dO: buffers.dO, dhT: buffers.dhT,
        truncation: options.truncation, inputGradient: options.inputGradient, encoder,
      }),
    );
    return {
      dWhx: tensorFrom(g.dWhx, [h, d]),
      dWhh: tensorFrom(g.dWhh, [h, h]),
      dWqh: tensorFrom(g.dWqh, [q, h]),
      dbh: g.dbh && tensorFrom(g.dbh, [h]),
      dbq: g.dbq && tensorFrom(g.dbq, [q]),
      dh0: tensorFrom(g.dh0, [B, h]),
      dx: g.dx && tensorFrom(g.dx, [T, B, d]),
    };
  } finally {
    release();
  }
}

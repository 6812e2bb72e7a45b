// The same model in TensorFlow.js: tanh RNN with both biases, the same loss,
// every parameter gradient from tf.variableGrads, training steps from
// tf.train.sgd(...).minimize. Written the way a TF.js user would write it at
// its fastest: the input projection (a gather of embedding rows for token ids,
// one matMul for values) and the output projection are batched over all T
// steps; only the recurrence is a loop over t:
//   h_t = tanh(P_t + h_{t-1} WhhT),  P = X WhxT + bh,  O = H WqhT + bq.
// Weights are stored transposed ([in, out], TF.js's own convention), and their
// gradients are transposed back to the library's layout outside the timing.
import * as tf from '@tensorflow/tfjs-core';
import type { Problem } from './problem.js';
import type { CaseRunner, Grads } from './runner.js';

export type TfBackend = 'webgpu' | 'wasm' | 'cpu';

export async function useTfBackend(name: TfBackend): Promise<void> {
  if (tf.getBackend() !== name) {
    const ok = await tf.setBackend(name);
    if (!ok) throw new Error(`TensorFlow.js backend '${name}' failed to initialise`);
  }
  await tf.ready();
}

/** a is [rows, cols] row-major; returns a^T, [cols, rows]. */
export function transpose(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = a[r * cols + c];
  return out;
}

export async function tfjsRunner(backend: TfBackend, problem: Problem): Promise<CaseRunner> {
  await useTfBackend(backend);
  const { spec, model, batch } = problem;
  const { T, B, d, h, q } = spec;
  const WhxT = tf.variable(tf.tensor2d(transpose(model.Whx, h, d), [d, h]));
  const WhhT = tf.variable(tf.tensor2d(transpose(model.Whh, h, h), [h, h]));
  const WqhT = tf.variable(tf.tensor2d(transpose(model.Wqh, q, h), [h, q]));
  const bh = tf.variable(tf.tensor1d(model.bh!));
  const bq = tf.variable(tf.tensor1d(model.bq!));
  const vars = [WhxT, WhhT, WqhT, bh, bq];
  // Token ids: a gather of embedding rows (its gradient is UnsortedSegmentSum),
  // except on wasm, which has no UnsortedSegmentSum kernel in TF.js 4.22: there
  // the ids become a one-hot [T*B, d] matrix and the gather a matMul.
  const tokens = !spec.tokens ? 'none' : backend === 'wasm' ? 'one-hot' : 'gather';
  const ids = spec.tokens ? tf.tensor1d(batch.x as Int32Array, 'int32') : null;
  const x =
    tokens === 'gather'
      ? ids!
      : tokens === 'one-hot'
        ? tf.tidy(() => tf.cast(tf.oneHot(ids!, d), 'float32'))
        : tf.tensor2d(batch.x as Float32Array, [T * B, d]);
  if (ids && ids !== x) ids.dispose();
  const y =
    spec.loss === 'cross-entropy'
      ? tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(batch.y as Int32Array, 'int32'), q), 'float32'))
      : tf.tensor2d(batch.y as Float32Array, [T * B, q]);
  const optimizer = tf.train.sgd(spec.learningRate);

  // L = 1/(T B) sum_t sum_b l(o_tb, y_tb), as in MATH.md
  const lossFn = (): tf.Scalar => {
    const XW = tokens === 'gather' ? tf.gather(WhxT, x) : tf.matMul(x as tf.Tensor2D, WhxT); // [T*B, h]
    const P = tf.split(tf.add(XW, bh), T, 0); // T x [B, h]
    let hPrev: tf.Tensor2D = tf.zeros([B, h]);
    const Hs: tf.Tensor2D[] = [];
    for (let t = 0; t < T; t++) {
      hPrev = tf.tanh(tf.add(P[t], tf.matMul(hPrev, WhhT))) as tf.Tensor2D;
      Hs.push(hPrev);
    }
    const O = tf.add(tf.matMul(tf.concat(Hs, 0), WqhT), bq); // [T*B, q]
    if (spec.loss === 'cross-entropy') return tf.losses.softmaxCrossEntropy(y, O) as tf.Scalar; // mean over T*B rows
    return tf.mul(tf.sum(tf.squaredDifference(O, y)), 0.5 / (T * B));
  };

  return {
    enter: () => useTfBackend(backend),
    async gradients(): Promise<Grads> {
      const { value, grads } = tf.variableGrads(lossFn, vars);
      const order = vars.map((v) => grads[v.name]);
      try {
        const [loss, gWhxT, gWhhT, gWqhT, gbh, gbq] = (await Promise.all([value.data(), ...order.map((g) => g.data())])) as Float32Array[];
        return {
          loss: loss[0],
          dWhx: transpose(gWhxT, d, h),
          dWhh: transpose(gWhhT, h, h),
          dWqh: transpose(gWqhT, h, q),
          dbh: gbh,
          dbq: gbq,
        };
      } finally {
        tf.dispose([value, ...order]);
      }
    },
    async step() {
      const loss = optimizer.minimize(lossFn, true, vars);
      if (!loss) throw new Error('optimizer.minimize returned no loss');
      await loss.data();
      loss.dispose();
    },
    dispose() {
      tf.dispose([...vars, x, y]);
      optimizer.dispose();
    },
  };
}

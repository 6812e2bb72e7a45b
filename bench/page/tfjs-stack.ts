// A stack of gated cells (lstm, gru, or the vanilla rnn; L layers, a head) in
// TensorFlow.js, written with tf ops the way a TF.js user would write it at
// its fastest (tf.layers.lstm/gru run the same per-step ops through a layer
// object, with more bookkeeping, and no bias_hh for a PyTorch GRU): per layer
// the input projection of all gates batched over all T*B rows (a gather of
// embedding rows for token ids), then a loop over t of one [B, h] x [h, G*h]
// product and the cell's elementwise update, PyTorch's equations (MATH.md
// part 2); the head batched over all rows. Every gradient from
// tf.variableGrads, a step from tf.train.sgd(lr).minimize, as tfjs-rnn.ts.
import * as tf from '@tensorflow/tfjs-core';
import { stackGradNames, type StackProblem } from './problem.js';
import type { CaseRunner, Grads } from './runner.js';
import { transpose, useTfBackend, type TfBackend } from './tfjs-rnn.js';

const GATES = { rnn: 1, gru: 3, lstm: 4 } as const;

export async function tfjsStackRunner(backend: TfBackend, problem: StackProblem): Promise<CaseRunner> {
  await useTfBackend(backend);
  const { spec, model, batch } = problem;
  const { T, B, d, h, q, cell } = spec;
  const L = spec.numLayers;
  const G = GATES[cell];
  if (batch.lengths) throw new Error('TF.js has no packed sequences: lengths are not run here');
  // weights transposed to [in, out], TF.js's convention; gradients transposed back outside the timing
  const layers = model.layers.map((l, k) => {
    const nIn = k === 0 ? d : h;
    return {
      nIn,
      WxT: tf.variable(tf.tensor2d(transpose(l.Wx, G * h, nIn), [nIn, G * h])),
      WhT: tf.variable(tf.tensor2d(transpose(l.Wh, G * h, h), [h, G * h])),
      bx: tf.variable(tf.tensor1d(l.bx!)),
      bh: tf.variable(tf.tensor1d(l.bh!)),
    };
  });
  const WT = tf.variable(tf.tensor2d(transpose(model.head!.W, q, h), [h, q]));
  const b = tf.variable(tf.tensor1d(model.head!.b!));
  const vars = [...layers.flatMap((l) => [l.WxT, l.WhT, l.bx, l.bh]), WT, b];
  // token ids: a gather, except on wasm (no UnsortedSegmentSum kernel in TF.js 4.22): a one-hot matMul there
  const tokens = !spec.tokens ? 'none' : backend === 'wasm' ? 'one-hot' : 'gather';
  const ids = spec.tokens ? tf.tensor1d(batch.x as Int32Array, 'int32') : null;
  const x = tokens === 'gather' ? ids! : tokens === 'one-hot' ? tf.tidy(() => tf.cast(tf.oneHot(ids!, d), 'float32')) : tf.tensor2d(batch.x as Float32Array, [T * B, d]);
  if (ids && ids !== x) ids.dispose();
  const y = spec.loss === 'cross-entropy' ? tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(batch.y as Int32Array, 'int32'), q), 'float32')) : tf.tensor2d(batch.y as Float32Array, [T * B, q]);
  const optimizer = tf.train.sgd(spec.learningRate);

  function step(gx: tf.Tensor2D, hPrev: tf.Tensor2D, cPrev: tf.Tensor2D | null, l: (typeof layers)[number]): [tf.Tensor2D, tf.Tensor2D | null] {
    const gh = tf.add(tf.matMul(hPrev, l.WhT), l.bh) as tf.Tensor2D; // [B, G*h]
    if (cell === 'lstm') {
      const [i, f, g, o] = tf.split(tf.add(gx, gh), 4, 1);
      const c = tf.add(tf.mul(tf.sigmoid(f), cPrev!), tf.mul(tf.sigmoid(i), tf.tanh(g))) as tf.Tensor2D;
      return [tf.mul(tf.sigmoid(o), tf.tanh(c)) as tf.Tensor2D, c];
    }
    if (cell === 'gru') {
      const [xr, xz, xn] = tf.split(gx, 3, 1);
      const [hr, hz, hn] = tf.split(gh, 3, 1);
      const r = tf.sigmoid(tf.add(xr, hr));
      const z = tf.sigmoid(tf.add(xz, hz));
      const n = tf.tanh(tf.add(xn, tf.mul(r, hn)));
      return [tf.add(n, tf.mul(z, tf.sub(hPrev, n))) as tf.Tensor2D, null]; // (1 - z) n + z h
    }
    return [tf.tanh(tf.add(gx, gh)) as tf.Tensor2D, null];
  }

  // L = 1/(T B) sum_t sum_b l(o_tb, y_tb), as in MATH.md
  const lossFn = (): tf.Scalar => {
    let input: tf.Tensor = x;
    layers.forEach((l, k) => {
      const XW = k === 0 && tokens === 'gather' ? tf.gather(l.WxT, input) : tf.matMul(input as tf.Tensor2D, l.WxT); // [T*B, G*h]
      const Gx = tf.split(tf.add(XW, l.bx), T, 0) as tf.Tensor2D[];
      let hPrev: tf.Tensor2D = tf.zeros([B, h]);
      let cPrev: tf.Tensor2D | null = cell === 'lstm' ? tf.zeros([B, h]) : null;
      const Hs: tf.Tensor2D[] = [];
      for (let t = 0; t < T; t++) {
        [hPrev, cPrev] = step(Gx[t], hPrev, cPrev, l);
        Hs.push(hPrev);
      }
      input = tf.concat(Hs, 0); // [T*B, h]
    });
    const O = tf.add(tf.matMul(input as tf.Tensor2D, WT), b);
    if (spec.loss === 'cross-entropy') return tf.losses.softmaxCrossEntropy(y, O) as tf.Scalar;
    return tf.mul(tf.sum(tf.squaredDifference(O, y)), 0.5 / (T * B));
  };

  const names = stackGradNames(L);
  return {
    enter: () => useTfBackend(backend),
    async gradients(): Promise<Grads> {
      const { value, grads } = tf.variableGrads(lossFn, vars);
      const order = vars.map((v) => grads[v.name]);
      try {
        const [loss, ...g] = (await Promise.all([value.data(), ...order.map((t) => t.data())])) as Float32Array[];
        const out: Grads = { loss: loss[0] };
        layers.forEach((l, k) => {
          out[names[4 * k]] = transpose(g[4 * k], l.nIn, G * h);
          out[names[4 * k + 1]] = transpose(g[4 * k + 1], h, G * h);
          out[names[4 * k + 2]] = g[4 * k + 2];
          out[names[4 * k + 3]] = g[4 * k + 3];
        });
        out['head.dW'] = transpose(g[4 * L], h, q);
        out['head.db'] = g[4 * L + 1];
        return out;
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

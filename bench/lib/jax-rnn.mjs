// The benchmark's model in jax-js (@jax-js/jax), written as a jax-js user
// would write it at its fastest: the whole step traced once and compiled by
// jit, the gradients by valueAndGrad; the input projection (a row gather of
// Whx^T for token ids) and the output projection batched over all T*B rows,
// the recurrence a loop of tanh(P_t + h Whh^T) unrolled by the trace.
// jax-js counts references: every use of an array but the last takes `.ref`.
// Used by the browser page (bench/page/jax-rnn.ts) and by Node (bench/node-wasm.mjs).
import { jitRunner } from './jax-run.mjs';

/** loss(params, x, y) of the case, params = { Whx, Whh, Wqh, bh, bq } as in MATH.md. */
function lossOf(jax, spec) {
  const { numpy: np, nn } = jax;
  const { T, B, h, q } = spec;
  return (params, x, y) => {
    const { Whx, Whh, Wqh, bh, bq } = params;
    const WhxT = np.transpose(Whx);
    const P = (spec.tokens ? np.take(WhxT, x, 0) : np.matmul(x, WhxT)).add(bh).reshape([T, B, h]);
    const WhhT = np.transpose(Whh);
    let hPrev = np.zeros([B, h]);
    const hs = [];
    for (let t = 0; t < T; t++) {
      hPrev = np.tanh(P.ref.slice(t).add(np.matmul(hPrev, WhhT.ref)));
      hs.push(hPrev.ref);
    }
    hPrev.dispose();
    WhhT.dispose();
    P.dispose();
    const H = np.stack(hs).reshape([T * B, h]);
    const O = np.matmul(H, np.transpose(Wqh)).add(bq);
    const scale = 1 / (T * B);
    if (spec.loss === 'cross-entropy') return np.sum(nn.logSoftmax(O, -1).mul(nn.oneHot(y, q))).mul(-scale);
    const diff = O.sub(y);
    return np.sum(diff.ref.mul(diff)).mul(0.5 * scale);
  };
}

/**
 * The case's two calls on a jax-js device ('wasm' or 'webgpu'): gradients() reads the loss and
 * every gradient back; step() applies one SGD update in the same compiled program and reads the loss.
 */
export function makeJaxRnn(jax, spec, model, batch, device) {
  const { numpy: np } = jax;
  const put = (a, shape, dtype) => np.array(a, { dtype, device }).reshape(shape);
  const { T, B, d, h, q } = spec;
  const params = {
    Whx: put(model.Whx, [h, d]),
    Whh: put(model.Whh, [h, h]),
    Wqh: put(model.Wqh, [q, h]),
    bh: put(model.bh, [h]),
    bq: put(model.bq, [q]),
  };
  const x = spec.tokens ? put(batch.x, [T * B], np.int32) : put(batch.x, [T * B, d]);
  const y = spec.loss === 'cross-entropy' ? put(batch.y, [T * B], np.int32) : put(batch.y, [T * B, q]);
  return jitRunner(jax, {
    loss: lossOf(jax, spec),
    params,
    x,
    y,
    learningRate: spec.learningRate,
    device,
    gradName: (k) => `d${k}`,
  });
}

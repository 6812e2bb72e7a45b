// A stack of gated cells (lstm, gru, or the vanilla rnn; L layers, a head) in
// jax-js (@jax-js/jax), as bench/lib/jax-rnn.mjs writes the vanilla cell: the
// whole step traced once and compiled by jit, the gradients by valueAndGrad;
// per layer the input projection of all gates over all T*B rows (a row gather
// of Wx^T for token ids), then the recurrence unrolled by the trace, one
// [B, h] x [h, G*h] product and PyTorch's gate equations per step (MATH.md
// part 2); the head over all rows. Parameters keep the library's layouts, so
// the gradients come back named as stackGradNames names them.
// jax-js counts references: every use of an array but the last takes `.ref`.
import { jitRunner } from './jax-run.mjs';

const GATES = { rnn: 1, gru: 3, lstm: 4 };

function lossOf(jax, spec) {
  const { numpy: np, nn } = jax;
  const { T, B, h, cell, numLayers: L } = spec;
  const G = GATES[cell];
  return (p, x, y) => {
    let input = x;
    for (let k = 0; k < L; k++) {
      const WxT = np.transpose(p[`l${k}.Wx`]);
      const P = (k === 0 && spec.tokens ? np.take(WxT, input, 0) : np.matmul(input, WxT)).add(p[`l${k}.bx`]).reshape([T, B, G * h]);
      const WhT = np.transpose(p[`l${k}.Wh`]);
      const bh = p[`l${k}.bh`];
      let hPrev = np.zeros([B, h]);
      let cPrev = cell === 'lstm' ? np.zeros([B, h]) : null;
      const hs = [];
      for (let t = 0; t < T; t++) {
        const gx = P.ref.slice(t);
        const gh = np.matmul(cell === 'gru' ? hPrev.ref : hPrev, WhT.ref).add(bh.ref);
        if (cell === 'lstm') {
          const [i, f, g, o] = np.split(gx.add(gh), 4, 1);
          cPrev = nn.sigmoid(f).mul(cPrev).add(nn.sigmoid(i).mul(np.tanh(g)));
          hPrev = nn.sigmoid(o).mul(np.tanh(cPrev.ref));
        } else if (cell === 'gru') {
          const [xr, xz, xn] = np.split(gx, 3, 1);
          const [hr, hz, hn] = np.split(gh, 3, 1);
          const r = nn.sigmoid(xr.add(hr));
          const z = nn.sigmoid(xz.add(hz));
          const n = np.tanh(xn.add(r.mul(hn)));
          hPrev = n.ref.add(z.mul(hPrev.sub(n))); // (1 - z) n + z h
        } else {
          hPrev = np.tanh(gx.add(gh));
        }
        hs.push(hPrev.ref);
      }
      hPrev.dispose();
      cPrev?.dispose();
      WhT.dispose();
      bh.dispose();
      P.dispose();
      input = np.stack(hs).reshape([T * B, h]);
    }
    const O = np.matmul(input, np.transpose(p['head.W'])).add(p['head.b']);
    const scale = 1 / (T * B);
    if (spec.loss === 'cross-entropy') return np.sum(nn.logSoftmax(O, -1).mul(nn.oneHot(y, spec.q))).mul(-scale);
    const diff = O.sub(y);
    return np.sum(diff.ref.mul(diff)).mul(0.5 * scale);
  };
}

/** The case's two calls on a jax-js device, as makeJaxRnn: gradients() (named l{k}.dWx ... head.db) and step(). */
export function makeJaxStack(jax, spec, model, batch, device) {
  const { numpy: np } = jax;
  const put = (a, shape, dtype) => np.array(a, { dtype, device }).reshape(shape);
  const { T, B, d, h, q } = spec;
  const G = GATES[spec.cell];
  const params = {};
  model.layers.forEach((l, k) => {
    const nIn = k === 0 ? d : h;
    params[`l${k}.Wx`] = put(l.Wx, [G * h, nIn]);
    params[`l${k}.Wh`] = put(l.Wh, [G * h, h]);
    params[`l${k}.bx`] = put(l.bx, [G * h]);
    params[`l${k}.bh`] = put(l.bh, [G * h]);
  });
  params['head.W'] = put(model.head.W, [q, h]);
  params['head.b'] = put(model.head.b, [q]);
  const x = spec.tokens ? put(batch.x, [T * B], np.int32) : put(batch.x, [T * B, d]);
  const y = spec.loss === 'cross-entropy' ? put(batch.y, [T * B], np.int32) : put(batch.y, [T * B, q]);
  return jitRunner(jax, {
    loss: lossOf(jax, spec),
    params,
    x,
    y,
    learningRate: spec.learningRate,
    device,
    gradName: (k) => {
      const [at, name] = k.split('.');
      return `${at}.d${name}`;
    },
  });
}

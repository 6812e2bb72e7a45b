// The two timed calls of a jax-js model, shared by the vanilla case (jax-rnn.mjs) and the
// gated stacks (jax-stack.mjs): gradients() reads the loss and every gradient back; step()
// applies one SGD update inside the same compiled program and reads the loss. jax-js counts
// references: every use of an array but the last takes `.ref`.

/**
 * `loss(params, x, y)` under jit(valueAndGrad) on `device`; `params` a record of arrays (owned
 * from here on); `gradName(k)` the name under which gradients() returns the gradient of params[k].
 */
export function jitRunner(jax, { loss, params, x, y, learningRate, device, gradName }) {
  const gradFn = jax.jit(jax.valueAndGrad(loss), { device });
  const ref = (p) => Object.fromEntries(Object.entries(p).map(([k, v]) => [k, v.ref]));
  const stepFn = jax.jit(
    (p, xs, ys) => {
      const [l, g] = jax.valueAndGrad(loss)(ref(p), xs, ys);
      const next = {};
      for (const k of Object.keys(p)) next[k] = p[k].sub(g[k].mul(learningRate));
      return [l, next];
    },
    { device },
  );
  const first = ref(params); // the initial parameters: gradients() always runs on them
  return {
    async gradients() {
      const [l, g] = gradFn(ref(first), x.ref, y.ref);
      const out = { loss: (await l.data())[0] };
      for (const k of Object.keys(first)) out[gradName(k)] = Float32Array.from(await g[k].data());
      return out;
    },
    async step() {
      const [l, next] = stepFn(params, x.ref, y.ref);
      params = next;
      await l.data();
    },
    dispose() {
      for (const p of [params, first]) for (const v of Object.values(p)) v.dispose();
      x.dispose();
      y.dispose();
      gradFn.dispose();
      stepFn.dispose();
    },
  };
}

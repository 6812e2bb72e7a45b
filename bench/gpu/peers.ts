// The GPU benchmark's peers in Node: TensorFlow.js's webgpu backend and
// jax-js's webgpu device, on navigator.gpu, which bench/gpu/run.mjs sets to a
// Dawn instance on the same Vulkan driver as the library's engines (Node 20
// has no navigator; TF.js and jax-js find WebGPU nowhere else). The same
// models as the bench page (bench/page/tfjs-stack.ts, bench/lib/jax-stack.mjs),
// the same seeded problems. bench/gpu/pack.mjs bundles this file with esbuild
// into the packed folder (peers.mjs), so that it runs with node alone.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-backend-webgpu';
import * as jax from '@jax-js/jax';
import { tfjsStackRunner } from '../page/tfjs-stack.js';
import { useTfBackend } from '../page/tfjs-rnn.js';
import { makeJaxStack } from '../lib/jax-stack.mjs';
import type { StackProblem } from '../page/problem.js';
import type { CaseRunner } from '../page/runner.js';

export type PeerId = 'tfjs-webgpu' | 'jax-webgpu';
export const PEERS: PeerId[] = ['tfjs-webgpu', 'jax-webgpu'];

const message = (e: unknown) => (e instanceof Error ? `${e.name}: ${e.message}` : String(e));

/** Starts each peer once; per peer null when it runs here, else why not (the error it gave). */
export async function startPeers(): Promise<Record<PeerId, string | null>> {
  const out: Record<PeerId, string | null> = { 'tfjs-webgpu': null, 'jax-webgpu': null };
  try {
    await useTfBackend('webgpu');
  } catch (e) {
    out['tfjs-webgpu'] = message(e);
  }
  try {
    const devices = (await jax.init('webgpu')) as string[];
    if (!devices.includes('webgpu')) out['jax-webgpu'] = `jax.init('webgpu') started ${devices.join(', ') || 'nothing'}, not webgpu`;
  } catch (e) {
    out['jax-webgpu'] = message(e);
  }
  return out;
}

/** The case's gradients call and training step on a peer (gradients named as stackGradNames names them). */
export async function peerRunner(id: PeerId, problem: StackProblem): Promise<CaseRunner> {
  if (id === 'tfjs-webgpu') return tfjsStackRunner('webgpu', problem);
  const r = makeJaxStack(jax, problem.spec, problem.model, problem.batch, 'webgpu');
  return { async enter() {}, gradients: () => r.gradients(), step: () => r.step(), dispose: () => r.dispose() };
}

/**
 * A square product C = A B (n x n, row-major) on a peer: the first call's C
 * read back whole (for the caller's check), then `runs` timed calls, each from
 * the call to its completion with one element read back (the product must
 * finish; reading all of C would time the copy).
 */
export async function peerGemm(id: PeerId, n: number, a: Float32Array, b: Float32Array, runs: number): Promise<{ c: Float32Array; milliseconds: number[] }> {
  const milliseconds: number[] = [];
  if (id === 'tfjs-webgpu') {
    await useTfBackend('webgpu');
    const A = tf.tensor2d(a, [n, n]);
    const B = tf.tensor2d(b, [n, n]);
    try {
      const first = tf.matMul(A, B);
      const c = (await first.data()) as Float32Array;
      first.dispose();
      for (let k = 0; k < runs; k++) {
        const t0 = performance.now();
        const C = tf.matMul(A, B);
        const corner = tf.slice(C, [0, 0], [1, 1]);
        await corner.data();
        milliseconds.push(performance.now() - t0);
        tf.dispose([C, corner]);
      }
      return { c, milliseconds };
    } finally {
      tf.dispose([A, B]);
    }
  }
  const np = jax.numpy;
  const A = np.array(a, { device: 'webgpu' }).reshape([n, n]);
  const B = np.array(b, { device: 'webgpu' }).reshape([n, n]);
  try {
    const mm = jax.jit((x: jax.Array, y: jax.Array) => np.matmul(x, y)); // runs where its inputs live
    const c = (await mm(A.ref, B.ref).data()) as Float32Array;
    for (let k = 0; k < runs; k++) {
      const t0 = performance.now();
      const C = await mm(A.ref, B.ref).blockUntilReady();
      milliseconds.push(performance.now() - t0);
      C.dispose();
    }
    mm.dispose();
    return { c, milliseconds };
  } finally {
    A.dispose();
    B.dispose();
  }
}

// engine.generate on the GPU: the prefix from zero state, then each
// prediction fed back in, with the state and the token ids kept on the
// device: per new token a one-step forward (K projections + L steps), the
// head, and pick_token.wgsl writing the id both into the next step's input
// and into the output; the final states of one step are copied into the
// initial states of the next. Many tokens per submit (CHUNK dispatches at
// most); only the ids are read back, once.
import type { GenerateCall } from '../validate-forward.js';
import { type DeviceParams, packSequence, sequenceLayout } from '../sequence-params.js';
import { makeRng } from '../rng.js';
import { drawU24 } from '../cpu/sequence/infer.js';
import { type GpuContext, upload } from './context.js';
import { STORAGE, checkLimits } from './limits.js';
import { submitAndRead } from './call.js';
import { kernel } from './kernels.js';
import { type SeqBuffers, type SeqShape, planSequence, recordSequenceForward, recordSequenceOutput, seqBufferSizes } from './sequence-encode.js';
import { copyFinalStates, lengthsOf, withAliases } from './sequence-gradients.js';

const CHUNK = 2048; // dispatches per submit: 256-byte uniform blocks, 512 KiB of them

type FwdBuffers = Pick<SeqBuffers, 'params' | 'x' | 'Gx' | 'Y' | 'saved' | 'state0' | 'lengths' | 'O'>;

/** `onDevice`: a buffer already holding the parameters (a trainer's) in its layout, used in place of an upload of call.sequence's. */
export async function gpuGenerate(ctx: GpuContext, limits: { maxBinding: number; maxBuffer: number }, call: GenerateCall, onDevice?: DeviceParams): Promise<Int32Array> {
  ctx.assertAlive();
  const { sequence, dims, prefix, steps, temperature, seed } = call;
  const given = onDevice?.buffer;
  const layout = onDevice?.layout ?? sequenceLayout(sequence);
  const shape = (T: number): SeqShape => planSequence(dims, { T, B: 1, activation: dims.activation, tokens: true, loss: 'none', xi: null }, layout);
  const sp = shape(prefix.length);
  const s1 = shape(1);
  const names = ['x', 'Gx', 'Y', 'saved', 'state0', 'lengths', 'O'] as const;
  const own: GPUBuffer[] = [];
  const acquire = (n: number, label: string) => {
    const b = ctx.pool.acquire(Math.max(1, n) * 4, STORAGE(), label);
    own.push(b);
    return b;
  };
  const buffersOf = (s: SeqShape, params: GPUBuffer): FwdBuffers => {
    const sizes = seqBufferSizes(s, false);
    checkLimits(Object.fromEntries(names.map((k) => [k, sizes[k]])), limits, 'options.prefix');
    const b = { params, ...Object.fromEntries(names.filter((k) => sizes[k] >= 0).map((k) => [k, acquire(sizes[k], k)])) } as FwdBuffers;
    return withAliases(b, sizes);
  };
  try {
    const params = given ?? acquire(layout.total, 'params');
    const bp = buffersOf(sp, params);
    const b1 = buffersOf(s1, params);
    const out = acquire(steps, 'generated ids');
    const u = acquire(steps, 'draws');
    const rng = makeRng(seed);
    const draws = new Float32Array(steps);
    if (temperature > 0) for (let i = 0; i < steps; i++) draws[i] = drawU24(rng); // one draw per token, as on the CPU (an integer below 2^24: exact in f32)
    const q = dims.q;
    const K = s1.K;
    const lstm = dims.cell === 'lstm';
    const perToken = K + dims.L + 2;
    const pick = (rec: Parameters<Parameters<typeof submitAndRead>[4]>[0], O: GPUBuffer, offO: number, i: number) =>
      rec.dispatch(kernel('pick_token'), {}, { O, u, ids: b1.x, out }, { q, offO, i, temperature, invTemperature: temperature > 0 ? Math.fround(1 / temperature) : 0 }, [1]);
    // the prefix, and the first new token: one submit of its own (its shape differs)
    await submitAndRead(ctx, 'generate', K + dims.L * sp.T + 2, 0, (rec) => {
      if (!given) upload(ctx.device, params, 0, packSequence(sequence));
      upload(ctx.device, bp.x, 0, prefix);
      upload(ctx.device, bp.lengths, 0, lengthsOf(sp));
      upload(ctx.device, b1.lengths, 0, lengthsOf(s1));
      upload(ctx.device, u, 0, draws);
      rec.clear(bp.state0, 0, 2 * K * dims.h * 4);
      recordSequenceForward(rec, sp, bp);
      recordSequenceOutput(rec, sp, bp);
      pick(rec, bp.O, (sp.T - 1) * q, 0);
      copyFinalStates(rec, sp, bp, b1.state0, 0, lstm ? K * dims.h : null);
    });
    // every later token: a one-step forward from the last state and id, many per submit
    const perChunk = Math.max(1, Math.floor(CHUNK / perToken));
    let done = 1;
    while (done < steps) {
      const n = Math.min(perChunk, steps - done);
      const last = done + n === steps;
      const data = await submitAndRead(ctx, 'generate', n * perToken, last ? steps : 0, (rec, staging) => {
        for (let i = done; i < done + n; i++) {
          recordSequenceForward(rec, s1, b1);
          recordSequenceOutput(rec, s1, b1);
          pick(rec, b1.O, 0, i);
          copyFinalStates(rec, s1, b1, b1.state0, 0, lstm ? K * dims.h : null);
        }
        if (last) rec.copy(out, 0, staging, 0, steps * 4);
      });
      done += n;
      if (last) return new Int32Array(data.buffer, 0, steps).slice();
    }
    const data = await submitAndRead(ctx, 'generate', 0, steps, (rec, staging) => rec.copy(out, 0, staging, 0, steps * 4));
    return new Int32Array(data.buffer, 0, steps).slice();
  } finally {
    for (const b of own) ctx.pool.release(b);
    ctx.pool.settle();
  }
}

// This library's backends as bench runners: engine.gradients for the
// gradients mode, trainer.step (loss read back only) for the step mode.
// 'wasm' takes its default thread count: 2 here in a cross-origin-isolated
// page, 1 in a page that is not (its backendReason says which).
import type { Engine } from '../../src/index.js';
import type { Lib } from './lib.js';
import { isStack, stackGradNames, type AnyProblem } from './problem.js';
import type { CaseRunner, Grads } from './runner.js';

type LibBackend = 'webgpu' | 'webgpu-tuned' | 'wasm' | 'cpu';
const engines = new Map<LibBackend, Promise<Engine>>();

/**
 * The tuned engine's bound on tuning one shape class (the candidates are timed
 * on short calls, src/gpu/tuning.ts): 500 ms, the library's default, is less
 * than one candidate's call at the gated cases' size on SwiftShader.
 */
export const TUNING_BUDGET_MS = 60_000;

/**
 * One engine per backend for the whole page; a failed creation is remembered.
 * 'webgpu' runs the default kernels (tuning 'off', as issue 13 compares them;
 * 'auto' would tune on a hardware adapter); 'webgpu-tuned' tunes each case's
 * shape class up front (engine.tune in libraryRunner), never inside a timed call.
 */
export function getEngine(lib: Lib, backend: LibBackend): Promise<Engine> {
  let engine = engines.get(backend);
  if (!engine) {
    if (backend === 'webgpu') engine = lib.createEngine({ backend, tuning: 'off' });
    else if (backend === 'webgpu-tuned') engine = lib.createEngine({ backend: 'webgpu', tuning: { mode: 'manual', budgetMs: TUNING_BUDGET_MS } });
    else engine = lib.createEngine({ backend });
    engines.set(backend, engine);
  }
  return engine;
}

/** Tunes the tuned engine for the case's shape class (an RnnModel's or a stack's), once per class; says what it chose and what it cost. */
async function tuneUpFront(engine: Engine, problem: AnyProblem): Promise<string> {
  const before = engine.stats();
  const choice = isStack(problem)
    ? await engine.tune(problem.model, problem.batch, { loss: problem.spec.loss })
    : await engine.tune(problem.model, problem.batch, { loss: problem.spec.loss });
  const after = engine.stats();
  const spent = (after.tuningMs ?? 0) - (before.tuningMs ?? 0);
  const runs = (after.tuningRuns ?? 0) - (before.tuningRuns ?? 0);
  const what = isStack(problem)
    ? `forward ${choice.forwardStep}, backward ${choice.backwardStep}, matmul ${choice.matmul}${choice.wavefront ? ', wavefront' : ''}${choice.backwardWavefront ? ', backward wavefront' : ''}${choice.finalize === 'multi' ? ', finalize multi' : ''}`
    : `rnn forward ${choice.rnnForwardStep ?? 'direct'}, rnn backward ${choice.rnnBackwardStep ?? 'direct'}, matmul ${choice.matmul}, finalize ${choice.finalize ?? 'single'}`;
  return runs ? `tuned up front: ${what} (${(spent / 1000).toFixed(1)} s, ${runs} candidate calls)` : `tuned earlier on this page: ${what}`;
}

export async function libraryRunner(lib: Lib, backend: LibBackend, problem: AnyProblem): Promise<CaseRunner> {
  const engine = await getEngine(lib, backend);
  const tuned = backend === 'webgpu-tuned' ? await tuneUpFront(engine, problem) : undefined;
  const { spec, batch } = problem;
  const options = { optimizer: { kind: 'sgd' as const, learningRate: spec.learningRate }, loss: spec.loss };
  const stack = isStack(problem) ? problem.model : null;
  const rnn = isStack(problem) ? null : problem.model;
  const trainer = spec.modes.includes('step') ? (stack ? engine.trainer(stack, options) : engine.trainer(rnn!, options)) : null;
  return {
    async enter() {},
    async gradients() {
      if (stack) {
        const r = await engine.gradients(stack, batch, { loss: spec.loss });
        const arrays = [...r.layers.flatMap((l) => [l.dWx, l.dWh, l.dbx, l.dbh]), r.head?.dW, r.head?.db];
        const names = stackGradNames(r.layers.length);
        if (arrays.some((a) => !a)) throw new Error(`library-${backend}: the result lacks a bias or head gradient`);
        return Object.fromEntries([['loss', r.loss], ...names.map((n, i) => [n, arrays[i]!])]) as Grads;
      }
      const r = await engine.gradients(rnn!, batch, { loss: spec.loss });
      if (!r.dbh || !r.dbq) throw new Error(`library-${backend}: the result has no bias gradients`);
      return { loss: r.loss, dWhx: r.dWhx, dWhh: r.dWhh, dWqh: r.dWqh, dbh: r.dbh, dbq: r.dbq };
    },
    async step() {
      if (!trainer) throw new Error('step mode was not asked for in this case');
      await trainer.step(batch);
    },
    // forward only: the loss of the batch (engine.forward with y), nothing stored for a backward pass
    async forward() {
      const r = await engine.forward(stack ?? rnn!, batch);
      if (!Number.isFinite(r.loss)) throw new Error(`library-${backend}: engine.forward gave no loss`);
    },
    stats: backend === 'webgpu' || backend === 'webgpu-tuned' ? () => engine.stats() : undefined,
    about: backend === 'wasm' ? engine.backendReason : tuned,
    dispose() {
      trainer?.dispose();
    },
  };
}

/**
 * HOOK into the WebGPU backend: this library's GEMM kernel on the adapter,
 * through engine.benchGemm(n, runs), which the backend provides: it checks the
 * product on sampled entries, then times `runs` n x n products itself, each
 * from submit to completion (no read-back). Returns null when the build has no
 * benchGemm; the report then says "n/a".
 */
export interface LibraryGemmTiming {
  milliseconds: number[];
  maxError: number;
}

export function libraryGemm(engine: Engine): ((n: number, runs: number) => Promise<LibraryGemmTiming>) | null {
  const fn = (engine as Engine & { benchGemm?: (n: number, runs?: number) => Promise<LibraryGemmTiming> }).benchGemm;
  return typeof fn === 'function' ? (n: number, runs: number) => fn.call(engine, n, runs) : null;
}

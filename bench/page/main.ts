// The benchmark page. bench/run.mjs opens it in headless Chromium and calls
// window.bench.info(), .runCase(spec) and .runGemm(spec), one case at a time;
// progress lines go back through window.benchProgress (puppeteer's
// exposeFunction). Each case: every backend's first gradient call is checked
// against this library's CPU reference, then warm-up calls, then timed runs
// interleaved across backends (run k of every backend, then run k+1 ...).
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-webgpu';
import { getThreadsCount, setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { loadLib, type Lib } from './lib.js';
import { isStack, makeProblem } from './problem.js';
import { tfjsStackRunner } from './tfjs-stack.js';
import { compareGrads } from '../lib/compare.mjs';
import { getEngine, libraryGemm, libraryRunner } from './library.js';
import { tfjsRunner, useTfBackend, type TfBackend } from './tfjs-rnn.js';
import { jaxDevices, jaxRunner, jaxStackRunner } from './jax-rnn.js';
import type { CaseRunner, Grads } from './runner.js';
import type { AnyProblem } from './problem.js';
import type {
  AdapterInfo,
  BackendCaseResult,
  BackendId,
  GemmResult,
  GemmSpec,
  Mode,
  PageInfo,
  RnnCaseResult,
  RnnCaseSpec,
} from './types.js';

setWasmPaths(new URL('./wasm/', document.baseURI).href);
setThreadsCount(navigator.hardwareConcurrency); // TF.js wasm's best: one thread per core (needs cross-origin isolation)

const logEl = document.getElementById('log')!;
logEl.textContent = '';

function progress(line: string): void {
  logEl.textContent += `${line}\n`;
  void window.benchProgress?.(line); // not awaited: keeps the page's timing free of the round trip
}

function message(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

const fmt = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`);

function tfName(id: BackendId): TfBackend {
  return id.slice('tfjs-'.length) as TfBackend;
}

function makeRunner(lib: Lib, id: BackendId, problem: AnyProblem): Promise<CaseRunner> {
  if (id === 'library-webgpu') return libraryRunner(lib, 'webgpu', problem);
  if (id === 'library-cpu') return libraryRunner(lib, 'cpu', problem);
  if (id === 'library-wasm') return libraryRunner(lib, 'wasm', problem);
  if (isStack(problem)) {
    if (id.startsWith('tfjs-')) return tfjsStackRunner(tfName(id), problem);
    if (id === 'jax-wasm' || id === 'jax-webgpu') return jaxStackRunner(id === 'jax-wasm' ? 'wasm' : 'webgpu', problem);
    throw new Error(`${id}: no runner for a ${problem.spec.cell} stack`);
  }
  if (id === 'jax-wasm' || id === 'jax-webgpu') return jaxRunner(id === 'jax-wasm' ? 'wasm' : 'webgpu', problem);
  return tfjsRunner(tfName(id), problem);
}

async function timed<R>(fn: () => Promise<R>): Promise<[R, number]> {
  const t0 = performance.now();
  const r = await fn();
  return [r, performance.now() - t0];
}

async function runCase(spec: RnnCaseSpec): Promise<RnnCaseResult> {
  const start = performance.now();
  const lib = await loadLib();
  const problem = makeProblem(lib, spec);
  const result: RnnCaseResult = { id: spec.id, runsUsed: 0, elapsedMs: 0, backends: {} };
  const runners = new Map<BackendId, CaseRunner>();
  const lastMs = new Map<string, number>(); // backend/mode -> last warm-up time, to size the runs

  // The reference: this library's CPU engine, computed first.
  let ref: Grads | null = null;
  const order: BackendId[] = ['library-cpu', ...spec.backends.filter((b) => b !== 'library-cpu')];
  for (const id of order) {
    const timedHere = spec.backends.includes(id);
    const r: BackendCaseResult = { times: {} };
    if (timedHere) result.backends[id] = r;
    if (timedHere && spec.skip?.[id]) {
      r.skipped = spec.skip[id];
      progress(`  ${spec.id} ${id}: skipped: ${r.skipped}`);
      continue;
    }
    let runner: CaseRunner | null = null;
    try {
      runner = await makeRunner(lib, id, problem);
      await runner.enter();
      const [g, ms] = await timed(() => runner!.gradients());
      if (id === 'library-cpu') ref = g;
      else if (ref) r.check = compareGrads(g, ref, spec.tolerance);
      if (runner.stats) r.stats = { gradients: runner.stats() };
      if (runner.about) r.about = runner.about;
      const verdict = r.check ? (r.check.ok ? `matches the CPU reference (worst ${r.check.worst.toFixed(3)})` : `MISMATCH: ${r.check.mismatches[0]}`) : 'reference';
      progress(`  ${spec.id} ${id}: checked call ${fmt(ms)}, ${verdict}`);
      r.checkedCallMs = ms;
      if (!timedHere) {
        runner.dispose();
        continue;
      }
      // Too slow for the budget: judged on a warm call; the checked call also compiles shaders.
      const tooSlow = (callMs: number, limit: number, what: string) => {
        if (callMs <= limit) return false;
        r.skipped = `${what} took ${fmt(callMs)}, over the ${fmt(limit)} limit per call`;
        progress(`  ${spec.id} ${id}: not timed further: ${r.skipped}`);
        runner!.dispose();
        return true;
      };
      if (tooSlow(ms, 3 * spec.maxCallMs, 'the checked call')) continue;
      let slow = false;
      for (const mode of spec.modes) {
        if (!runner[mode]) continue; // a mode this backend has no call for (forward: this library only)
        for (let w = 0; w < Math.max(1, spec.warmup); w++) {
          const [, wms] = await timed(async () => void (await runner![mode]!()));
          lastMs.set(`${id}/${mode}`, wms);
          if (mode === 'step' && runner.stats) r.stats = { ...r.stats, step: runner.stats() };
        }
        slow = tooSlow(lastMs.get(`${id}/${mode}`) ?? 0, spec.maxCallMs, `a warm ${mode} call`);
        if (slow) break;
      }
      if (slow) {
        for (const mode of spec.modes) lastMs.delete(`${id}/${mode}`);
        continue;
      }
      runners.set(id, runner);
    } catch (e) {
      r.error = message(e);
      runner?.dispose();
      progress(`  ${spec.id} ${id}: ERROR ${r.error}`);
    }
  }

  // Size the timed runs to the case's budget, from the warm-up times.
  let perRun = 0;
  for (const ms of lastMs.values()) perRun += ms;
  const fit = perRun > 0 ? Math.floor(spec.budgetMs / perRun) : spec.runs;
  const runs = Math.max(spec.minRuns, Math.min(spec.runs, fit));
  result.runsUsed = runs;
  if (runs < spec.runs) progress(`  ${spec.id}: ${runs} timed runs instead of ${spec.runs} (about ${fmt(perRun)} a run, budget ${fmt(spec.budgetMs)})`);

  for (let k = 0; k < runs; k++) {
    const ids = [...runners.keys()];
    const rotated = ids.slice(k % ids.length).concat(ids.slice(0, k % ids.length)); // no backend always first
    for (const id of rotated) {
      const runner = runners.get(id);
      if (!runner) continue;
      const r = result.backends[id]!;
      try {
        for (const mode of spec.modes) {
          if (!runner[mode]) continue;
          await runner.enter();
          const [, ms] = await timed(async () => void (await runner[mode]!()));
          (r.times[mode] ??= []).push(ms);
          progress(`  ${spec.id} ${id} ${mode} run ${k + 1}/${runs}: ${fmt(ms)}`);
        }
      } catch (e) {
        r.error = message(e);
        runner.dispose();
        runners.delete(id);
        progress(`  ${spec.id} ${id}: ERROR ${r.error}`);
      }
    }
  }
  for (const runner of runners.values()) runner.dispose();
  result.elapsedMs = performance.now() - start;
  return result;
}

async function runGemm(spec: GemmSpec): Promise<GemmResult> {
  const lib = await loadLib();
  const { n } = spec;
  const result: GemmResult = { n, backends: {} };
  for (const id of spec.backends) {
    const times: number[] = [];
    try {
      let once: () => Promise<unknown>;
      let cleanup = () => {};
      if (id === 'library-webgpu') {
        const gemm = libraryGemm(await getEngine(lib, 'webgpu'));
        if (!gemm) {
          result.backends[id] = { unavailable: 'engine.benchGemm is not provided by this build' };
          progress(`  gemm ${n} ${id}: n/a (engine.benchGemm is not provided by this build)`);
          continue;
        }
        // benchGemm checks, warms up and times the runs itself (submit to completion).
        const timing = await gemm(n, spec.runs);
        result.backends[id] = { times: timing.milliseconds, maxError: timing.maxError, timing: 'engine.benchGemm: submit to completion, no read-back' };
        for (const [k, ms] of timing.milliseconds.entries()) {
          progress(`  gemm ${n} ${id} run ${k + 1}/${spec.runs}: ${fmt(ms)} (${((2 * n ** 3) / ms / 1e6).toFixed(2)} GFLOP/s)`);
        }
        if (!(timing.maxError <= 1)) throw new Error(`engine.benchGemm: the product is wrong (worst error ratio ${timing.maxError})`);
        continue;
      } else if (id.startsWith('tfjs-')) {
        await useTfBackend(tfName(id));
        const a = tf.randomUniform([n, n], -1, 1, 'float32', 1);
        const b = tf.randomUniform([n, n], -1, 1, 'float32', 2);
        once = async () => {
          const c = tf.matMul(a, b);
          await c.data();
          c.dispose();
        };
        cleanup = () => tf.dispose([a, b]);
        result.backends[id] = { timing: 'tf.matMul, then data(): read-back included' };
      } else {
        result.backends[id] = { unavailable: 'no GEMM kernel of its own' };
        continue;
      }
      for (let w = 0; w < spec.warmup; w++) await once();
      for (let k = 0; k < spec.runs; k++) {
        const [, ms] = await timed(once);
        times.push(ms);
        progress(`  gemm ${n} ${id} run ${k + 1}/${spec.runs}: ${fmt(ms)} (${((2 * n ** 3) / ms / 1e6).toFixed(2)} GFLOP/s)`);
      }
      cleanup();
      result.backends[id] = { ...result.backends[id], times };
    } catch (e) {
      result.backends[id] = { ...result.backends[id], error: message(e), times: result.backends[id]?.times ?? times };
      progress(`  gemm ${n} ${id}: ERROR ${message(e)}`);
    }
  }
  return result;
}

function adapterInfo(info: GPUAdapterInfo, adapter?: GPUAdapter): AdapterInfo {
  const fallback = (info as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter ??
    (adapter as (GPUAdapter & { isFallbackAdapter?: boolean }) | undefined)?.isFallbackAdapter;
  return {
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
    isFallbackAdapter: fallback ?? null,
  };
}

async function info(): Promise<PageInfo> {
  const lib = await loadLib();
  const out: PageInfo = {
    userAgent: navigator.userAgent,
    hardwareConcurrency: navigator.hardwareConcurrency,
    crossOriginIsolated: globalThis.crossOriginIsolated === true,
    adapter: null,
    libraryAdapter: null,
    tfjsVersion: tf.version_core,
    tfjsBackends: {},
    wasm: { simd: false, multithread: false, threads: 0 },
  };
  try {
    const adapter = await navigator.gpu?.requestAdapter();
    if (!adapter) throw new Error(navigator.gpu ? 'requestAdapter() returned null' : 'navigator.gpu is missing');
    out.adapter = adapterInfo(adapter.info, adapter);
  } catch (e) {
    out.adapterError = message(e);
  }
  try {
    const engine = await getEngine(lib, 'webgpu');
    out.libraryAdapter = engine.adapter ? { ...engine.adapter } : null;
  } catch (e) {
    out.libraryWebgpuError = message(e);
  }
  try {
    out.libraryWasm = (await getEngine(lib, 'wasm')).backendReason;
  } catch (e) {
    out.libraryWasm = `unavailable: ${message(e)}`;
  }
  out.jaxDevices = await jaxDevices().catch((e) => [`init failed: ${message(e)}`]);
  for (const b of ['webgpu', 'wasm', 'cpu'] as const) {
    try {
      await useTfBackend(b);
      out.tfjsBackends[`tfjs-${b}`] = 'ok';
      if (b === 'wasm') {
        out.wasm = {
          simd: (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) === true,
          multithread: (await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT')) === true,
          threads: getThreadsCount(),
        };
      }
    } catch (e) {
      out.tfjsBackends[`tfjs-${b}`] = message(e);
    }
  }
  return out;
}

export interface BenchApi {
  info(): Promise<PageInfo>;
  runCase(spec: RnnCaseSpec): Promise<RnnCaseResult>;
  runGemm(spec: GemmSpec): Promise<GemmResult>;
}

declare global {
  interface Window {
    bench: BenchApi;
    benchReady?: boolean;
    benchProgress?: (line: string) => Promise<void>;
  }
}

window.bench = { info, runCase, runGemm };
window.benchReady = true;
export type { Mode };

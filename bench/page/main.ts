// The benchmark page. bench/run.mjs opens it in headless Chromium and drives
// it one call at a time (bench/lib/drive-case.mjs): window.bench.openCase(spec),
// then per backend checkBackend(id) (its first gradient call, checked against
// this library's CPU reference), callBackend(id, mode) for each warm-up and
// timed call, dropBackend(id), closeCase(); and runGemm(spec). The order of the
// calls (interleaving, run counts) is decided in Node; progress lines of
// runGemm go back through window.benchProgress (puppeteer's exposeFunction).
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
  BackendId,
  CheckedCall,
  GemmResult,
  GemmSpec,
  Mode,
  PageInfo,
  RnnCaseSpec,
  TimedCall,
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
  if (id === 'library-webgpu-tuned') return libraryRunner(lib, 'webgpu-tuned', problem);
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

/**
 * The case in progress: its problem, the CPU reference's gradients and the
 * runners checked so far. bench/run.mjs (bench/lib/drive-case.mjs) drives it
 * one backend call per page.evaluate, so that no protocol call lasts longer
 * than the slowest single call (minutes on SwiftShader for TF.js webgpu).
 */
interface Session {
  spec: RnnCaseSpec;
  problem: AnyProblem;
  ref: Grads | null;
  runners: Map<BackendId, CaseRunner>;
}
let session: Session | null = null;

function current(): Session {
  if (!session) throw new Error('bench: no case is open (call openCase first)');
  return session;
}

async function openCase(spec: RnnCaseSpec): Promise<void> {
  closeCase();
  const lib = await loadLib();
  session = { spec, problem: makeProblem(lib, spec), ref: null, runners: new Map() };
}

/** Creates the backend's runner and makes its first (checked) gradients call; library-cpu's becomes the reference. */
async function checkBackend(id: BackendId): Promise<CheckedCall> {
  const s = current();
  const lib = await loadLib();
  let runner: CaseRunner | null = null;
  try {
    runner = await makeRunner(lib, id, s.problem);
    await runner.enter();
    const [g, ms] = await timed(() => runner!.gradients());
    const out: CheckedCall = { checkedCallMs: ms };
    if (id === 'library-cpu') s.ref = g;
    else if (s.ref) out.check = compareGrads(g, s.ref, s.spec.tolerance);
    if (runner.stats) out.stats = runner.stats();
    if (runner.about) out.about = runner.about;
    s.runners.set(id, runner);
    return out;
  } catch (e) {
    runner?.dispose();
    return { error: message(e), errorArgument: (e as { argument?: string }).argument };
  }
}

/** One call of a checked backend, timed around the awaited call (read-back included); its engine counts after it. */
async function callBackend(id: BackendId, mode: Mode): Promise<TimedCall> {
  const runner = current().runners.get(id);
  if (!runner) throw new Error(`bench: ${id} has no runner in this case`);
  if (!runner[mode]) return { ms: null };
  await runner.enter();
  const [, ms] = await timed(async () => void (await runner[mode]!()));
  return { ms, stats: runner.stats?.() };
}

function dropBackend(id: BackendId): void {
  session?.runners.get(id)?.dispose();
  session?.runners.delete(id);
}

function closeCase(): void {
  for (const id of [...(session?.runners.keys() ?? [])]) dropBackend(id);
  session = null;
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
  openCase(spec: RnnCaseSpec): Promise<void>;
  checkBackend(id: BackendId): Promise<CheckedCall>;
  callBackend(id: BackendId, mode: Mode): Promise<TimedCall>;
  dropBackend(id: BackendId): void;
  closeCase(): void;
  runGemm(spec: GemmSpec): Promise<GemmResult>;
}

declare global {
  interface Window {
    bench: BenchApi;
    benchReady?: boolean;
    benchProgress?: (line: string) => Promise<void>;
  }
}

window.bench = { info, openCase, checkBackend, callBackend, dropBackend, closeCase, runGemm };
window.benchReady = true;
export type { Mode };

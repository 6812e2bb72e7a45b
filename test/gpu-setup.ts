// GPU test setup: an engine on the WebGPU backend (Dawn in Node, SwiftShader
// where there is no GPU). Under CI=true a missing adapter fails the test with
// the reason; it is never skipped silently.
//
// Also the comparison every GPU test makes against the float64 CPU reference,
// with the worst error per output collected and printed at the end of a file.
import '../src/node.js';
import { afterAll, beforeAll, expect } from 'vitest';
import { createEngine, type Engine } from '../src/index.js';
import type { GradientResult } from '../src/types.js';
import type { TuningOption } from '../src/tuning-types.js';
import { expectClose } from './helpers.js';

export async function gpuEngine(): Promise<Engine> {
  try {
    return await createEngine({ backend: 'webgpu' });
  } catch (e) {
    throw new Error(
      `no WebGPU adapter for the GPU tests (${(e as Error).message}). Install Debian's chromium (SwiftShader) and libvulkan1: bash scripts/install.sh`,
    );
  }
}

/** A test file's WebGPU and CPU engines: created before its tests, disposed after them (then `after`, e.g. printWorst). */
export function gpuAndCpuEngines(after?: () => void): { gpu: Engine; cpu: Engine } {
  const engines = {} as { gpu: Engine; cpu: Engine };
  beforeAll(async () => {
    engines.gpu = await gpuEngine();
    engines.cpu = await createEngine({ backend: 'cpu' });
  });
  afterAll(() => {
    engines.gpu?.dispose();
    engines.cpu?.dispose();
    after?.();
  });
  return engines;
}

/**
 * A maker of WebGPU engines that all share one device (and so its pipeline cache: SwiftShader
 * compiles slowly), each with its own tuning; every engine it made is disposed after the file's
 * tests (then `after`, e.g. printWorst).
 */
export function sharedDeviceEngines(after?: () => void): (tuning: TuningOption | undefined) => Promise<Engine> {
  const engines: Engine[] = [];
  let owner: Engine | null = null;
  afterAll(() => {
    for (const e of engines) e.dispose();
    owner?.dispose();
    after?.();
  });
  return async (tuning) => {
    owner ??= await gpuEngine();
    const e = await createEngine({ backend: 'webgpu', device: owner.device!, tuning });
    engines.push(e);
    return e;
  };
}

/**
 * GPU (float32) against the CPU reference (float64, rounded to float32):
 * per element |gpu - cpu| <= atol + rtol * |cpu|, with
 *   atol = atolRel * max |cpu| over the whole output
 * (relative to the output's magnitude: an element that is a near-cancelling
 * sum of large float32 terms has an absolute error set by those terms, not by
 * its own small value). Scalars (loss, gradNorm) use rtol alone.
 */
export interface GpuTolerance {
  rtol: number;
  atolRel: number;
}

/** The default: short sequences, any activation. */
export const GPU_TOL: GpuTolerance = { rtol: 2e-3, atolRel: 1e-5 };

const OUTPUTS = ['dWhx', 'dWhh', 'dWqh', 'dbh', 'dbq', 'dh0', 'hT', 'dx', 'gradNormPerStep'] as const;

/** Worst ratio |gpu - cpu| / bound seen per output in this file (<= 1 passes). */
export const worstSeen = new Map<string, { ratio: number; relative: number; where: string }>();

function note(output: string, ratio: number, relative: number, where: string): void {
  const prev = worstSeen.get(output);
  if (!prev || ratio > prev.ratio) worstSeen.set(output, { ratio, relative: Math.max(relative, prev?.relative ?? 0), where });
  else if (relative > prev.relative) prev.relative = relative;
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) if (Math.abs(a[i]) > m) m = Math.abs(a[i]);
  return m;
}

/** Largest |gpu - cpu| / max|cpu| over an output: the error relative to the output's magnitude. */
function relativeError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  const m = maxAbs(want);
  let e = 0;
  for (let i = 0; i < want.length; i++) e = Math.max(e, Math.abs(got[i] - want[i]));
  return m > 0 ? e / m : e;
}

/** Per element |got - want| <= rtol * |want| + atolRel * max|want|; returns the worst ratio. */
export function expectCloseRelative(name: string, got: ArrayLike<number>, want: ArrayLike<number>, tol: GpuTolerance): number {
  const atol = Math.max(tol.atolRel * maxAbs(want), 1e-30);
  return expectClose(name, got, want, { rtol: tol.rtol, atol });
}

/** One GPU output against the CPU reference's (see GpuTolerance), recorded in worstSeen; returns the worst ratio. */
export function expectCloseToCpu(where: string, output: string, got: ArrayLike<number>, want: ArrayLike<number>, tol: GpuTolerance = GPU_TOL): number {
  const ratio = expectCloseRelative(`${where}: ${output}`, got, want, tol);
  note(output, ratio, relativeError(got, want), where);
  return ratio;
}

/** Every output of a GPU gradient call against the CPU reference's, and the flags and xi exactly. */
export function expectSameAsCpu(where: string, gpu: GradientResult, cpu: GradientResult, tol: GpuTolerance = GPU_TOL): void {
  for (const key of OUTPUTS) {
    expect(gpu[key] === undefined, `${where}: ${key} present on one side only`).toBe(cpu[key] === undefined);
    if (cpu[key]) expectCloseToCpu(where, key, gpu[key]!, cpu[key]!, tol);
  }
  if (Number.isNaN(cpu.loss)) expect(gpu.loss, `${where}: loss`).toBeNaN();
  else expectCloseToCpu(where, 'loss', [gpu.loss], [cpu.loss], { rtol: tol.rtol, atolRel: 0 });
  expect(gpu.nonFinite, `${where}: nonFinite`).toBe(cpu.nonFinite);
  if (cpu.nonFinite) expect(Number.isFinite(gpu.gradNorm), `${where}: gradNorm finite`).toBe(false);
  else expectCloseToCpu(where, 'gradNorm', [gpu.gradNorm], [cpu.gradNorm], { rtol: tol.rtol, atolRel: 0 });
  expect(gpu.clipped, `${where}: clipped`).toBe(cpu.clipped);
  expect(gpu.xi, `${where}: xi`).toEqual(cpu.xi);
}

/** Prints the worst error per output seen in this file (for the report), largest first. */
export function printWorst(file: string): void {
  const rows = [...worstSeen.entries()].sort((a, b) => b[1].ratio - a[1].ratio);
  const lines = rows.map(([k, v]) => `  ${k.padEnd(16)} worst ratio ${v.ratio.toFixed(3)} of tolerance, max |gpu-cpu|/max|cpu| ${v.relative.toExponential(2)}  (${v.where})`);
  console.log(`${file}: worst GPU error against the CPU reference, per output\n${lines.join('\n')}`);
}

/** A STORAGE | COPY_SRC | COPY_DST buffer holding `data` (f32 or i32, 4 bytes an element). */
export function bufferOf(device: GPUDevice, data: Float32Array | Int32Array): GPUBuffer {
  const b = device.createBuffer({ size: Math.max(4, data.byteLength), usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST, mappedAtCreation: true });
  new Float32Array(b.getMappedRange()).set(new Float32Array(data.buffer, data.byteOffset, data.length));
  b.unmap();
  return b;
}

/** The first n f32 values of a buffer, read back through a staging buffer. */
export async function readBuffer(device: GPUDevice, buffer: GPUBuffer, n: number): Promise<Float32Array> {
  const staging = device.createBuffer({ size: n * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const enc = device.createCommandEncoder();
  enc.copyBufferToBuffer(buffer, 0, staging, 0, n * 4);
  device.queue.submit([enc.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const out = new Float32Array(staging.getMappedRange().slice(0));
  staging.destroy();
  return out;
}

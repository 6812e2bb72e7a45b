// The per-device state of the WebGPU backend: pipelines (cached per kernel and
// variant), bind groups (cached per buffer set), the buffer pool, the
// dispatch/submit counters, and device-loss tracking. Work is recorded with a
// Recorder: many dispatches in one compute pass, one submit, one readback.
import { BpttDeviceError, BpttInputError } from '../errors.js';
import { BufferPool, bufferId } from './buffers.js';
import { linkKernel } from './kernels.js';
import { type KernelInfo, reflectKernel, writeParams } from './reflect.js';
import type { Tuner } from './tuning.js';

export type Constants = Record<string, number | boolean>;

export interface PipelineEntry {
  key: string;
  kernel: KernelInfo;
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
}

const pipelineCaches = new WeakMap<GPUDevice, Map<string, PipelineEntry>>();

export class GpuContext {
  readonly pool: BufferPool;
  readonly uniformAlign: number;
  private bindGroups = new Map<string, GPUBindGroup>();
  lostReason: string | null = null;
  private lostWaiters = new Set<(reason: string) => void>();
  dispatches = 0; // of the last call
  /** Dispatches of the last call per kernel file (tests: which recipe's kernels a call ran). */
  readonly kernelCounts = new Map<string, number>();
  submits = 0;
  readBytes = 0; // mapped back to the host over the engine's life (src/gpu/call.ts, bench-gemm.ts)
  /** The kernel variants of this engine's SequenceModel calls (src/gpu/tuning.ts); null: the defaults. */
  tuner: Tuner | null = null;

  private overrides = new Map<string, KernelInfo>();

  /**
   * `kernelSources` replaces the WGSL of named kernels for this context only
   * (used to test that a broken kernel is caught by the self-check).
   */
  constructor(
    readonly device: GPUDevice,
    kernelSources: Record<string, string> = {},
  ) {
    // linked as the kernels themselves are (a replacement read from kernels/ keeps its `//! include` lines)
    for (const [name, source] of Object.entries(kernelSources)) this.overrides.set(name, reflectKernel(`${name}#override`, linkKernel(name, source)));
    this.pool = new BufferPool(device);
    this.pool.onDestroy = () => this.bindGroups.clear();
    this.uniformAlign = device.limits.minUniformBufferOffsetAlignment;
    device.lost.then((info) => {
      this.lostReason = `the GPU device was lost (${info.reason ?? 'unknown'}${info.message ? `: ${info.message}` : ''})`;
      for (const w of this.lostWaiters) w(this.lostReason);
      this.lostWaiters.clear();
    });
  }

  assertAlive(): void {
    const why = this.closedReason ?? this.lostReason;
    if (why) throw new BpttDeviceError(`${why}; create a new engine`);
  }

  /** Set by the engine's dispose(), before it destroys anything: what pending calls reject with. */
  closedReason: string | null = null;

  /** Every call still waiting on the GPU rejects with a BpttDeviceError saying the engine was disposed. */
  close(): void {
    this.closedReason = 'the engine was disposed while this call was waiting for the GPU';
    for (const w of this.lostWaiters) w(this.closedReason);
    this.lostWaiters.clear();
  }

  /**
   * Awaits a GPU promise so that the call rejects with a BpttDeviceError saying
   * what happened, never hangs (a lost device) and never leaks WebGPU's own
   * errors (an AbortError with an empty message when dispose() destroys a
   * buffer being mapped).
   */
  guard<T>(promise: Promise<T>): Promise<T> {
    const why = () => this.closedReason ?? this.lostReason;
    if (why()) {
      promise.catch(() => {});
      return Promise.reject(new BpttDeviceError(`${why()}; create a new engine`));
    }
    return new Promise<T>((resolve, reject) => {
      const onLost = (reason: string) => reject(new BpttDeviceError(`${reason}; create a new engine`));
      this.lostWaiters.add(onLost);
      promise.then(
        (v) => {
          this.lostWaiters.delete(onLost);
          resolve(v);
        },
        (e) => {
          this.lostWaiters.delete(onLost);
          if (why()) reject(new BpttDeviceError(`${why()}; create a new engine`, { cause: e }));
          else if (e instanceof BpttDeviceError || e instanceof BpttInputError) reject(e);
          else reject(new BpttDeviceError(`WebGPU failed a pending operation (${(e as Error)?.name ?? 'error'}: ${(e as Error)?.message || 'no message'})`, { cause: e }));
        },
      );
    });
  }

  pipeline(original: KernelInfo, constants: Constants = {}): PipelineEntry {
    const kernel = this.overrides.get(original.name) ?? original;
    let cache = pipelineCaches.get(this.device);
    if (!cache) pipelineCaches.set(this.device, (cache = new Map()));
    const key = `${kernel.name}${JSON.stringify(constants)}`;
    const hit = cache.get(key);
    if (hit) return hit;
    const layout = this.device.createBindGroupLayout({
      label: kernel.name,
      entries: kernel.bindings.map((b) => ({
        binding: b.binding,
        visibility: GPUShaderStage.COMPUTE,
        buffer: b.kind === 'uniform' ? { type: 'uniform', hasDynamicOffset: true } : { type: b.kind },
      })),
    });
    const module = this.device.createShaderModule({ label: kernel.name, code: kernel.source });
    const pipeline = this.device.createComputePipeline({
      label: key,
      layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout] }),
      compute: { module, entryPoint: kernel.entryPoint, constants: Object.fromEntries(Object.entries(constants).map(([k, v]) => [k, Number(v)])) },
    });
    const entry = { key, kernel, pipeline, layout };
    cache.set(key, entry);
    return entry;
  }

  bindGroup(entry: PipelineEntry, uniform: GPUBuffer, resources: Record<string, GPUBuffer>): GPUBindGroup {
    const { kernel } = entry;
    const parts: string[] = [entry.key, `${bufferId(uniform)}`];
    const entries: GPUBindGroupEntry[] = [];
    const given = new Set(Object.keys(resources));
    for (const b of kernel.bindings) {
      if (b.kind === 'uniform') {
        entries.push({ binding: b.binding, resource: { buffer: uniform, offset: 0, size: kernel.params!.size } });
        continue;
      }
      const buffer = resources[b.name];
      if (!buffer) throw new Error(`kernel ${kernel.name}: binding "${b.name}" (${b.kind}) was not given a buffer`);
      given.delete(b.name);
      entries.push({ binding: b.binding, resource: { buffer } });
      parts.push(`${b.name}=${bufferId(buffer)}`);
    }
    if (given.size > 0) throw new Error(`kernel ${kernel.name}: has no binding named ${[...given].join(', ')}`);
    const key = parts.join('|');
    let group = this.bindGroups.get(key);
    if (group) {
      this.bindGroups.delete(key); // most recently used last: the Map's order is the eviction order
    } else {
      group = this.device.createBindGroup({ label: kernel.name, layout: entry.layout, entries });
      if (this.bindGroups.size >= GpuContext.MAX_BIND_GROUPS) this.bindGroups.delete(this.bindGroups.keys().next().value!);
    }
    this.bindGroups.set(key, group);
    return group;
  }

  /**
   * Bind groups kept for reuse, least recently used first out. A group keys on
   * its buffers, so every distinct shape (and every buffer the pool hands out)
   * makes new ones: without a bound the cache grew with every call of a new
   * shape while the pool, for small models, never trimmed it. One call of the
   * largest recording binds about 2T + 24 groups; 1024 keeps every group of
   * several such calls.
   */
  static readonly MAX_BIND_GROUPS = 1024;

  /** Bind groups cached now (at most MAX_BIND_GROUPS). */
  get cachedBindGroups(): number {
    return this.bindGroups.size;
  }

  /** Starts recording one call. */
  record(maxDispatches: number): Recorder {
    this.assertAlive();
    this.dispatches = 0;
    this.submits = 0;
    this.kernelCounts.clear();
    return new Recorder(this, maxDispatches);
  }

  private immutable = new Map<string, { data: Uint8Array; buffer: GPUBuffer }[]>();
  private immutableCount = 0;
  static readonly MAX_IMMUTABLE = 256;

  /** A uniform buffer holding `data`, never written again; shared by every recording with the same bytes. */
  immutableUniform(data: Uint8Array): GPUBuffer {
    let hash = 0x811c9dc5;
    const words = new Uint32Array(data.buffer, data.byteOffset, data.byteLength / 4);
    for (let i = 0; i < words.length; i++) hash = Math.imul(hash ^ words[i], 0x01000193);
    const key = `${data.byteLength}:${hash >>> 0}`;
    const list = this.immutable.get(key) ?? [];
    for (const e of list) if (e.data.length === data.length && e.data.every((v, i) => v === data[i])) return e.buffer;
    if (this.immutableCount >= GpuContext.MAX_IMMUTABLE) {
      // Bounded: forget (and free) the oldest content; recordings that used it were made long ago.
      const [oldKey, oldList] = this.immutable.entries().next().value!;
      for (const e of oldList) e.buffer.destroy();
      this.immutableCount -= oldList.length;
      this.immutable.delete(oldKey);
      this.bindGroups.clear();
    }
    const buffer = this.device.createBuffer({ size: data.byteLength, usage: GPUBufferUsage.UNIFORM, mappedAtCreation: true, label: 'params (immutable)' });
    new Uint8Array(buffer.getMappedRange()).set(data);
    buffer.unmap();
    list.push({ data: data.slice(), buffer });
    this.immutable.set(key, list);
    this.immutableCount++;
    return buffer;
  }

  private held = new Map<string, Map<string, GPUBuffer>>();
  private heldBytes = 0;
  static readonly MAX_HELD_SHAPES = 16;

  /**
   * Scratch buffers for work recorded into a caller's encoder. They must stay
   * alive until the caller submits, which the engine cannot see, so they are
   * not pooled (the pool may destroy free buffers): they are kept per shape
   * (`key`), shared by every recording of that shape (the encoders' order
   * makes that safe: each recording writes its scratch before reading it),
   * and destroyed with the engine; at most MAX_HELD_SHAPES shapes, oldest
   * first out.
   */
  heldAllocator(key: string): (bytes: number, usage: number, label: string) => GPUBuffer {
    let set = this.held.get(key);
    if (!set) {
      if (this.held.size >= GpuContext.MAX_HELD_SHAPES) {
        const [oldKey, oldSet] = this.held.entries().next().value!;
        for (const b of oldSet.values()) {
          this.heldBytes -= b.size;
          b.destroy();
        }
        this.held.delete(oldKey);
        this.bindGroups.clear();
      }
      set = new Map();
      this.held.set(key, set);
    }
    const buffers = set;
    return (bytes, usage, label) => {
      const name = `${label}:${usage}`;
      let b = buffers.get(name);
      if (!b || b.size < bytes) {
        if (b) {
          this.heldBytes -= b.size;
          b.destroy();
        }
        b = this.device.createBuffer({ size: Math.ceil(Math.max(bytes, 4) / 256) * 256, usage, label: `${label} (held)` });
        this.heldBytes += b.size;
        buffers.set(name, b);
      }
      return b;
    };
  }

  /** Frees everything this context created outside the pool. */
  destroyCaches(): void {
    for (const list of this.immutable.values()) for (const e of list) e.buffer.destroy();
    this.immutable.clear();
    this.immutableCount = 0;
    for (const set of this.held.values()) for (const b of set.values()) b.destroy();
    this.held.clear();
    this.heldBytes = 0;
    this.bindGroups.clear();
  }

  /** Buffers held outside the pool: immutable uniforms and scratch of recordings into callers' encoders. */
  get extraBuffers(): number {
    let n = this.immutableCount;
    for (const set of this.held.values()) n += set.size;
    return n;
  }

  get extraBytes(): number {
    let n = this.heldBytes;
    for (const list of this.immutable.values()) for (const e of list) n += e.buffer.size;
    return n;
  }
}

type Op =
  | { kind: 'dispatch'; entry: PipelineEntry; resources: Record<string, GPUBuffer>; offset: number; workgroups: [number, number, number] }
  | { kind: 'clear'; buffer: GPUBuffer; offset: number; bytes: number }
  | { kind: 'copy'; src: GPUBuffer; srcOffset: number; dst: GPUBuffer; dstOffset: number; bytes: number };

/**
 * Records one computation as a list of operations, then encodes it at the
 * end: dispatches share one compute pass until a copy or clear, and the params
 * of every dispatch live in one uniform buffer, bound with a dynamic offset.
 * Into our own encoder the params are written through the queue (a pooled
 * buffer); into a caller's encoder, which may be submitted much later, they go
 * into an immutable buffer cached by content, so nothing written later can
 * change what that encoder will read.
 */
export class Recorder {
  private readonly ops: Op[] = [];
  private readonly uniformData: ArrayBuffer;
  private readonly view: DataView;
  private blocks = 0;
  /** matmul.wgsl's WG (invocations per side) for the products recorded here: the tuned matmul variant. */
  matmulWG = 8;
  /** matmul.wgsl's PAD (vec4 after each staged row) for the products recorded here: 1 for the 'tile32pad' variant. */
  matmulPad = 0;

  constructor(
    private readonly ctx: GpuContext,
    private readonly maxDispatches: number,
  ) {
    this.uniformData = new ArrayBuffer(Math.max(1, maxDispatches) * ctx.uniformAlign);
    this.view = new DataView(this.uniformData);
  }

  get device(): GPUDevice {
    return this.ctx.device;
  }

  /** Records one dispatch of `kernel` with its params, over `workgroups` = [x, y, z]. */
  dispatch(
    kernel: KernelInfo,
    constants: Constants,
    resources: Record<string, GPUBuffer>,
    params: Record<string, number>,
    workgroups: [number, number?, number?],
  ): void {
    if (this.blocks >= this.maxDispatches) throw new Error(`recorder: more than ${this.maxDispatches} dispatches recorded`);
    const entry = this.ctx.pipeline(kernel, constants);
    const offset = this.blocks * this.ctx.uniformAlign;
    writeParams(entry.kernel, this.view, offset, params);
    this.blocks++;
    const [x, y = 1, z = 1] = workgroups;
    if (x === 0 || y === 0 || z === 0) return;
    const max = this.ctx.device.limits.maxComputeWorkgroupsPerDimension;
    if (x > max || y > max || z > max) {
      throw new BpttDeviceError(`kernel ${kernel.name}: ${x}x${y}x${z} workgroups exceed maxComputeWorkgroupsPerDimension = ${max}`);
    }
    this.ops.push({ kind: 'dispatch', entry, resources, offset, workgroups: [x, y, z] });
  }

  clear(buffer: GPUBuffer, offset: number, bytes: number): void {
    if (bytes > 0) this.ops.push({ kind: 'clear', buffer, offset, bytes });
  }

  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    if (bytes > 0) this.ops.push({ kind: 'copy', src, srcOffset, dst, dstOffset, bytes });
  }

  private encode(encoder: GPUCommandEncoder, uniform: GPUBuffer): void {
    let pass: GPUComputePassEncoder | null = null;
    for (const op of this.ops) {
      if (op.kind === 'dispatch') {
        const group = this.ctx.bindGroup(op.entry, uniform, op.resources);
        pass ??= encoder.beginComputePass({ label: 'webgpu-bptt' });
        pass.setPipeline(op.entry.pipeline);
        pass.setBindGroup(0, group, [op.offset]);
        pass.dispatchWorkgroups(...op.workgroups);
        this.ctx.dispatches++;
        this.ctx.kernelCounts.set(op.entry.kernel.name, (this.ctx.kernelCounts.get(op.entry.kernel.name) ?? 0) + 1);
        continue;
      }
      pass?.end();
      pass = null;
      if (op.kind === 'clear') encoder.clearBuffer(op.buffer, op.offset, op.bytes);
      else encoder.copyBufferToBuffer(op.src, op.srcOffset, op.dst, op.dstOffset, op.bytes);
    }
    pass?.end();
  }

  private usedBytes(): number {
    return Math.max(1, this.blocks) * this.ctx.uniformAlign;
  }

  /** Encodes into a new encoder and submits it: one submit for the whole computation. */
  finish(): void {
    const bytes = this.usedBytes();
    const uniform = this.ctx.pool.acquire(bytes, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, 'params');
    this.ctx.device.queue.writeBuffer(uniform, 0, this.uniformData, 0, bytes);
    const encoder = this.ctx.device.createCommandEncoder({ label: 'webgpu-bptt' });
    this.encode(encoder, uniform);
    this.ctx.device.queue.submit([encoder.finish()]);
    this.ctx.submits++;
    this.ctx.pool.release(uniform); // later writes are queue-ordered after this submit
  }

  /** Encodes into a caller's encoder; the caller submits it. */
  finishInto(encoder: GPUCommandEncoder): void {
    this.encode(encoder, this.ctx.immutableUniform(new Uint8Array(this.uniformData, 0, this.usedBytes())));
  }
}

// Every host array reaches the device through upload.ts (shared and resizable buffers are copied there).
export { upload } from './upload.js';

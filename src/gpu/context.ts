// The per-device state of the WebGPU backend: pipelines (cached per kernel and
// variant), bind groups (cached per buffer set), the buffer pool, the
// dispatch/submit counters, and device-loss tracking. Work is recorded with a
// Recorder: many dispatches in one compute pass, one submit, one readback.
import { BpttDeviceError } from '../errors.js';
import { BufferPool, bufferId } from './buffers.js';
import { type KernelInfo, reflectKernel, writeParams } from './reflect.js';

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
  submits = 0;

  private overrides = new Map<string, KernelInfo>();

  /**
   * `kernelSources` replaces the WGSL of named kernels for this context only
   * (used to test that a broken kernel is caught by the self-check).
   */
  constructor(
    readonly device: GPUDevice,
    kernelSources: Record<string, string> = {},
  ) {
    for (const [name, source] of Object.entries(kernelSources)) this.overrides.set(name, reflectKernel(`${name}#override`, source));
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
    if (this.lostReason) throw new BpttDeviceError(`${this.lostReason}; create a new engine`);
  }

  /** Rejects when the device is lost, so that no awaited GPU promise can hang. */
  guard<T>(promise: Promise<T>): Promise<T> {
    if (this.lostReason) return Promise.reject(new BpttDeviceError(`${this.lostReason}; create a new engine`));
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
          reject(this.lostReason ? new BpttDeviceError(`${this.lostReason}; create a new engine`, { cause: e }) : e);
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
    if (!group) {
      group = this.device.createBindGroup({ label: kernel.name, layout: entry.layout, entries });
      this.bindGroups.set(key, group);
    }
    return group;
  }

  /** Starts recording one call: dispatches go into one compute pass until a copy. */
  record(maxDispatches: number): Recorder {
    this.assertAlive();
    this.dispatches = 0;
    this.submits = 0;
    return new Recorder(this, maxDispatches);
  }
}

export class Recorder {
  private encoder: GPUCommandEncoder;
  private pass: GPUComputePassEncoder | null = null;
  private readonly uniform: GPUBuffer;
  private readonly uniformData: ArrayBuffer;
  private readonly view: DataView;
  private blocks = 0;

  constructor(
    private readonly ctx: GpuContext,
    private readonly maxDispatches: number,
    encoder?: GPUCommandEncoder,
  ) {
    const bytes = Math.max(1, maxDispatches) * ctx.uniformAlign;
    this.uniform = ctx.pool.acquire(bytes, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, 'params');
    this.uniformData = new ArrayBuffer(this.uniform.size);
    this.view = new DataView(this.uniformData);
    this.encoder = encoder ?? ctx.device.createCommandEncoder({ label: 'webgpu-bptt' });
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
    const group = this.ctx.bindGroup(entry, this.uniform, resources);
    const [x, y = 1, z = 1] = workgroups;
    if (x === 0 || y === 0 || z === 0) return;
    const max = this.ctx.device.limits.maxComputeWorkgroupsPerDimension;
    if (x > max || y > max || z > max) {
      throw new BpttDeviceError(`kernel ${kernel.name}: ${x}x${y}x${z} workgroups exceed maxComputeWorkgroupsPerDimension = ${max}`);
    }
    if (!this.pass) this.pass = this.encoder.beginComputePass({ label: 'webgpu-bptt' });
    this.pass.setPipeline(entry.pipeline);
    this.pass.setBindGroup(0, group, [offset]);
    this.pass.dispatchWorkgroups(x, y, z);
    this.ctx.dispatches++;
  }

  clear(buffer: GPUBuffer, offset: number, bytes: number): void {
    this.endPass();
    if (bytes > 0) this.encoder.clearBuffer(buffer, offset, bytes);
  }

  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    this.endPass();
    if (bytes > 0) this.encoder.copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
  }

  private endPass(): void {
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
  }

  /** Writes the params of every dispatch, then ends the pass and (unless external) submits. */
  finish(submit = true): GPUCommandBuffer | null {
    this.ctx.device.queue.writeBuffer(this.uniform, 0, this.uniformData, 0, Math.max(4, this.blocks * this.ctx.uniformAlign));
    this.endPass();
    const commands = this.encoder.finish();
    this.ctx.pool.release(this.uniform);
    if (!submit) return commands;
    this.ctx.device.queue.submit([commands]);
    this.ctx.submits++;
    return null;
  }

  /** Ends recording into a caller's encoder (uniforms written to the queue first). */
  finishInto(): void {
    this.ctx.device.queue.writeBuffer(this.uniform, 0, this.uniformData, 0, Math.max(4, this.blocks * this.ctx.uniformAlign));
    this.endPass();
    this.ctx.pool.release(this.uniform);
  }
}

/** queue.writeBuffer for any typed array (the DOM types want an ArrayBuffer-backed view). */
export function upload(device: GPUDevice, buffer: GPUBuffer, offset: number, data: Float32Array | Int32Array | Uint32Array): void {
  device.queue.writeBuffer(buffer, offset, data as unknown as Float32Array<ArrayBuffer>);
}

// A pool of GPU buffers keyed by size and usage, which counts what it holds,
// so buffers are reused across calls of the same shapes and tests can assert
// that dispose() leaves nothing alive.

let nextId = 1;
const ids = new WeakMap<GPUBuffer, number>();

/** A stable number for a buffer, for bind group cache keys. */
export function bufferId(buffer: GPUBuffer): number {
  let id = ids.get(buffer);
  if (id === undefined) {
    id = nextId++;
    ids.set(buffer, id);
  }
  return id;
}

const roundUp = (n: number, m: number) => Math.ceil(n / m) * m;

export class BufferPool {
  private free = new Map<string, GPUBuffer[]>();
  private all = new Set<GPUBuffer>();
  liveBytes = 0;
  peakBytes = 0;
  onDestroy: (() => void) | null = null; // e.g. clear bind group caches

  constructor(private readonly device: GPUDevice) {}

  get liveBuffers(): number {
    return this.all.size;
  }

  /** A buffer of at least `bytes` (rounded up to 256) with exactly `usage`. */
  acquire(bytes: number, usage: number, label: string): GPUBuffer {
    const size = roundUp(Math.max(bytes, 4), 256);
    const key = `${usage}:${size}`;
    const list = this.free.get(key);
    const reused = list?.pop();
    if (reused) return reused;
    const buffer = this.device.createBuffer({ size, usage, label });
    this.all.add(buffer);
    this.liveBytes += size;
    this.peakBytes = Math.max(this.peakBytes, this.liveBytes);
    return buffer;
  }

  release(buffer: GPUBuffer): void {
    if (!this.all.has(buffer)) return;
    const key = `${buffer.usage}:${buffer.size}`;
    let list = this.free.get(key);
    if (!list) this.free.set(key, (list = []));
    if (!list.includes(buffer)) list.push(buffer);
  }

  /** Destroys free buffers beyond what the last calls used, keeping memory bounded. */
  trim(maxFreeBytes: number): void {
    let freeBytes = 0;
    for (const list of this.free.values()) for (const b of list) freeBytes += b.size;
    if (freeBytes <= maxFreeBytes) return;
    for (const [key, list] of this.free) {
      for (const b of list) this.destroyOne(b);
      this.free.delete(key);
    }
    this.onDestroy?.();
  }

  private destroyOne(buffer: GPUBuffer): void {
    if (!this.all.delete(buffer)) return;
    this.liveBytes -= buffer.size;
    buffer.destroy();
  }

  destroyAll(): void {
    for (const b of [...this.all]) this.destroyOne(b);
    this.free.clear();
    this.onDestroy?.();
  }
}

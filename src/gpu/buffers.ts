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

/** Free bytes a pool always may keep for reuse, whatever the last calls used. */
export const POOL_MIN_FREE_BYTES = 16 * 1024 * 1024;

export class BufferPool {
  private free = new Map<string, GPUBuffer[]>();
  private freeOrder = new Set<GPUBuffer>(); // the free buffers, least recently released first
  private all = new Set<GPUBuffer>();
  liveBytes = 0;
  peakBytes = 0;
  freeBytes = 0;
  private acquiredBytes = 0; // since the last settle()
  minFreeBytes = POOL_MIN_FREE_BYTES; // what settle() always may keep free
  onDestroy: (() => void) | null = null; // e.g. clear bind group caches

  constructor(private readonly device: GPUDevice) {}

  get liveBuffers(): number {
    return this.all.size;
  }

  /** A buffer of at least `bytes` (rounded up to 256) with exactly `usage`. */
  acquire(bytes: number, usage: number, label: string): GPUBuffer {
    const size = roundUp(Math.max(bytes, 4), 256);
    this.acquiredBytes += size;
    const key = `${usage}:${size}`;
    const list = this.free.get(key);
    const reused = list?.pop();
    if (reused) {
      this.freeOrder.delete(reused);
      this.freeBytes -= reused.size;
      return reused;
    }
    const buffer = this.device.createBuffer({ size, usage, label });
    this.all.add(buffer);
    this.liveBytes += size;
    this.peakBytes = Math.max(this.peakBytes, this.liveBytes);
    return buffer;
  }

  release(buffer: GPUBuffer): void {
    if (!this.all.has(buffer) || this.freeOrder.has(buffer)) return;
    const key = `${buffer.usage}:${buffer.size}`;
    let list = this.free.get(key);
    if (!list) this.free.set(key, (list = []));
    list.push(buffer);
    this.freeOrder.add(buffer);
    this.freeBytes += buffer.size;
  }

  /** Destroys free buffers, least recently released first, until at most `maxFreeBytes` are free. */
  trim(maxFreeBytes: number): void {
    if (this.freeBytes <= maxFreeBytes) return;
    for (const b of this.freeOrder) {
      if (this.freeBytes <= maxFreeBytes) break;
      const key = `${b.usage}:${b.size}`;
      const list = this.free.get(key)!;
      list.splice(list.indexOf(b), 1);
      if (list.length === 0) this.free.delete(key);
      this.freeOrder.delete(b);
      this.freeBytes -= b.size;
      this.destroyOne(b);
    }
    this.onDestroy?.();
  }

  /**
   * Called when a call has finished with its buffers: keeps enough free memory
   * to repeat the calls since the last settle twice over (or minFreeBytes),
   * so calls of one shape reuse everything while memory held across many
   * distinct shapes (or after a burst of concurrent calls) stays bounded.
   */
  settle(): void {
    this.trim(Math.max(this.minFreeBytes, 2 * this.acquiredBytes));
    this.acquiredBytes = 0;
  }

  private destroyOne(buffer: GPUBuffer): void {
    if (!this.all.delete(buffer)) return;
    this.liveBytes -= buffer.size;
    buffer.destroy();
  }

  destroyAll(): void {
    for (const b of [...this.all]) this.destroyOne(b);
    this.free.clear();
    this.freeOrder.clear();
    this.freeBytes = 0;
    this.onDestroy?.();
  }
}

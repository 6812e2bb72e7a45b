// The one door through which host arrays reach the device. Dawn's
// queue.writeBuffer crashes the process (segmentation fault) on a view of a
// SharedArrayBuffer, and a view of a resizable ArrayBuffer may change length
// under it; both are what a multi-threaded caller (or the WebAssembly engine)
// holds. Such views are copied into a plain ArrayBuffer first; a plain view,
// offset or not, is passed as it is (no copy on the common path).

type HostArray = Float32Array | Int32Array | Uint32Array;

/** True when `view` can be handed to WebGPU as it is: a fixed-length, non-shared ArrayBuffer. */
export function isPlainView(view: ArrayBufferView): boolean {
  const buffer = view.buffer as ArrayBufferLike & { resizable?: boolean; growable?: boolean };
  if (typeof SharedArrayBuffer !== 'undefined' && buffer instanceof SharedArrayBuffer) return false;
  if (!(buffer instanceof ArrayBuffer)) return false; // another realm's or an exotic buffer: copy to be safe
  return buffer.resizable !== true;
}

/** `data` itself when it is plain, else a copy of its current elements in a fresh ArrayBuffer. */
export function hostCopy<A extends HostArray>(data: A): A {
  if (isPlainView(data)) return data;
  const Ctor = data.constructor as { new (n: number): A };
  const copy = new Ctor(data.length);
  copy.set(data);
  return copy;
}

/** queue.writeBuffer for any typed array, shared or resizable ones included. */
export function upload(device: GPUDevice, buffer: GPUBuffer, offset: number, data: HostArray): void {
  const plain = hostCopy(data);
  device.queue.writeBuffer(buffer, offset, plain as unknown as Float32Array<ArrayBuffer>);
}

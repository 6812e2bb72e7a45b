// Disposed objects reject every later call with a clear error.
import { BpttDeviceError } from './errors.js';

const disposed = new WeakSet<object>();

export function markDisposed(owner: object): void {
  disposed.add(owner);
}

export function isDisposed(owner: object): boolean {
  return disposed.has(owner);
}

export function assertUsable(owner: object, what: string): void {
  if (disposed.has(owner)) throw new BpttDeviceError(`${what}: this ${what} was disposed; create a new one`);
}

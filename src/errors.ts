// Errors thrown by webgpu-bptt. Each names the argument it is about, what was
// expected and what was received, so a caller can fix the call from the message.

/** Bad input to a public call, detected before any work is done. */
export class BpttInputError extends Error {
  readonly argument: string;
  constructor(argument: string, expected: string, received: string) {
    super(`${argument}: expected ${expected}; received ${received}`);
    this.name = 'BpttInputError';
    this.argument = argument;
  }
}

/** A GPU failure: no adapter, a lost device, a validation error, a disposed engine. */
export class BpttDeviceError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BpttDeviceError';
  }
}

/** Describes a value for an error message: type, and length for arrays. */
export function describe(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (value === null) return 'null';
  if (ArrayBuffer.isView(value)) {
    const name = value.constructor?.name ?? 'typed array';
    const length = (value as unknown as { length?: number }).length;
    return length === undefined ? name : `${name} of length ${length}`;
  }
  if (Array.isArray(value)) return `Array of length ${value.length}`;
  if (typeof value === 'number') return `${value}`;
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'object') return `object ${JSON.stringify(Object.keys(value as object))}`;
  return typeof value;
}

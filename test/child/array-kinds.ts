// Typed arrays of every kind a caller may hold, with the same elements: plain,
// offset views, SharedArrayBuffer-backed (what threads and WebAssembly share),
// growable shared and resizable buffers. Shared by the fuzz test and the
// child processes that feed such arrays to Dawn.
export const ARRAY_KINDS = ['plain', 'offset', 'shared', 'shared-offset', 'growable-shared', 'resizable', 'resizable-tracking'] as const;
export type ArrayKind = (typeof ARRAY_KINDS)[number];

type Typed = Float32Array | Int32Array;
type Ctor<A extends Typed> = { new (buffer: ArrayBufferLike, byteOffset?: number, length?: number): A; BYTES_PER_ELEMENT: number };

/** A view of `kind` holding a copy of `a`'s elements. */
export function asKind<A extends Typed>(a: A, kind: ArrayKind): A {
  const C = a.constructor as unknown as Ctor<A>;
  const bytes = a.length * C.BYTES_PER_ELEMENT;
  let view: A;
  switch (kind) {
    case 'plain':
      view = new C(new ArrayBuffer(bytes));
      break;
    case 'offset':
      view = new C(new ArrayBuffer(bytes + 12), 8, a.length);
      break;
    case 'shared':
      view = new C(new SharedArrayBuffer(bytes));
      break;
    case 'shared-offset':
      view = new C(new SharedArrayBuffer(bytes + 12), 4, a.length);
      break;
    case 'growable-shared':
      view = new C(new (SharedArrayBuffer as unknown as { new (n: number, o: object): SharedArrayBuffer })(bytes, { maxByteLength: 2 * bytes + 8 }), 0, a.length);
      break;
    case 'resizable':
      view = new C(new (ArrayBuffer as unknown as { new (n: number, o: object): ArrayBuffer })(bytes, { maxByteLength: 2 * bytes + 8 }), 0, a.length);
      break;
    case 'resizable-tracking':
      // a length-tracking view: its length follows the buffer's
      view = new C(new (ArrayBuffer as unknown as { new (n: number, o: object): ArrayBuffer })(bytes, { maxByteLength: 2 * bytes + 8 }));
      break;
  }
  view.set(a);
  return view;
}

// Bindings have one source of truth: the WGSL. This reads each kernel with
// wgsl_reflect: its resources (name, binding, access) and the layout of its
// `params` uniform struct, so the host binds by name and writes uniforms by
// member name, and fails loudly when a name or an access mode does not match.
import { WgslReflect } from 'wgsl_reflect/wgsl_reflect.module.js';

export type BindingKind = 'uniform' | 'storage' | 'read-only-storage';

export interface KernelBinding {
  name: string;
  binding: number;
  kind: BindingKind;
}

export interface UniformMember {
  offset: number;
  type: 'u32' | 'i32' | 'f32';
}

export interface KernelInfo {
  name: string;
  source: string;
  entryPoint: string;
  workgroupSize: [number, number, number];
  bindings: KernelBinding[]; // sorted by binding number
  params: { size: number; members: Map<string, UniformMember> } | null;
  /** Byte offsets of the members of storage bindings declared as structs (e.g. finalize's `stats`), by binding name. */
  structs: Map<string, Map<string, number>>;
}

export function reflectKernel(name: string, source: string): KernelInfo {
  const reflect = new WgslReflect(source);
  const entry = reflect.entry.compute[0];
  if (!entry || reflect.entry.compute.length !== 1) {
    throw new Error(`kernel ${name}: expected exactly one @compute entry point, found ${reflect.entry.compute.length}`);
  }
  const bindings: KernelBinding[] = [];
  let params: KernelInfo['params'] = null;
  const structs = new Map<string, Map<string, number>>();
  for (const v of entry.resources) {
    if (v.group !== 0) throw new Error(`kernel ${name}: ${v.name} is in @group(${v.group}); every binding must be in group 0`);
    if (v.resourceType === 0) {
      if (v.name !== 'params') throw new Error(`kernel ${name}: the uniform must be named "params", found "${v.name}"`);
      const members = new Map<string, UniformMember>();
      for (const m of v.members ?? []) {
        const type = m.type.name;
        if (type !== 'u32' && type !== 'i32' && type !== 'f32') throw new Error(`kernel ${name}: params.${m.name} has type ${type}; only u32, i32, f32 are supported`);
        members.set(m.name, { offset: m.offset, type });
      }
      params = { size: v.size, members };
      bindings.push({ name: v.name, binding: v.binding, kind: 'uniform' });
    } else if (v.resourceType === 1) {
      if (v.members) structs.set(v.name, new Map(v.members.map((m) => [m.name, m.offset])));
      bindings.push({ name: v.name, binding: v.binding, kind: v.access === 'read' ? 'read-only-storage' : 'storage' });
    } else {
      throw new Error(`kernel ${name}: resource ${v.name} is neither a uniform nor a storage buffer`);
    }
  }
  bindings.sort((a, b) => a.binding - b.binding);
  const ws = entry.workgroupSize ?? [1, 1, 1];
  return { name, source, entryPoint: entry.name, workgroupSize: [ws[0] ?? 1, ws[1] ?? 1, ws[2] ?? 1], bindings, params, structs };
}

/** Writes `values` into `view` at the reflected offsets; every member must be given, and no other. */
export function writeParams(info: KernelInfo, view: DataView, base: number, values: Record<string, number>): void {
  const params = info.params;
  if (!params) throw new Error(`kernel ${info.name}: has no params uniform`);
  for (const key of Object.keys(values)) {
    if (!params.members.has(key)) throw new Error(`kernel ${info.name}: params has no member "${key}" (members: ${[...params.members.keys()].join(', ')})`);
  }
  for (const [key, m] of params.members) {
    const value = values[key];
    if (value === undefined) throw new Error(`kernel ${info.name}: params.${key} was not given`);
    if (m.type === 'f32') view.setFloat32(base + m.offset, value, true);
    else if (m.type === 'u32') view.setUint32(base + m.offset, value, true);
    else view.setInt32(base + m.offset, value, true);
  }
}

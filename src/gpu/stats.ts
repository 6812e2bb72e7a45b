// Where each scalar of a gradient call lives in the stats buffer: read from
// the `Stats` struct of kernels/finalize.wgsl by member name, so no index is
// shared by hand between the WGSL and the host. Indices are in f32 elements.
import { kernel } from './kernels.js';

export interface StatsLayout {
  loss: number;
  gradNorm: number;
  clipScale: number; // the clip scale's first factor
  clipScale2: number; // its second
  clipScale3: number; // and its third
  nonFinite: number;
  clipped: number;
  step: number;
  perStep: number; // first element of the per-step norms
  fixed: number; // elements before perStep: what a trainer keeps and reads back
}

let layout: StatsLayout | null = null;

export function statsLayout(): StatsLayout {
  if (layout) return layout;
  const members = kernel('finalize').structs.get('stats');
  if (!members) throw new Error('kernel finalize: the binding "stats" is not a struct');
  const at = (name: string): number => {
    const offset = members.get(name);
    if (offset === undefined) throw new Error(`kernel finalize: struct Stats has no member "${name}"`);
    return offset / 4;
  };
  const perStep = at('perStep');
  layout = { loss: at('loss'), gradNorm: at('gradNorm'), clipScale: at('clipScale'), clipScale2: at('clipScale2'), clipScale3: at('clipScale3'), nonFinite: at('nonFinite'), clipped: at('clipped'), step: at('step'), perStep, fixed: perStep };
  return layout;
}

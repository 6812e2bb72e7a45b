// What float32 can represent. Every engine but the CPU reference computes in
// float32 (the WebGPU kernels, the coming WebAssembly engine), so a number
// the API accepts must keep its meaning once rounded to float32: a beta that
// rounds to 1 divides by zero in Adam's bias correction, an epsilon that
// flushes to zero makes 0/0, a clipNorm below the normal range is read as 0
// ("no clipping"). Such values are refused here, before any work, naming the
// argument; every float parameter of the API goes through checkFloat32Number.
import { BpttInputError, describe } from './errors.js';

/** The largest finite float32. */
export const F32_MAX = 3.4028234663852886e38;
/** The smallest positive normal float32 (GPUs may flush smaller values to zero). */
export const F32_MIN_NORMAL = 1.1754943508222875e-38;
/** The largest float32 below 1. */
export const F32_BELOW_ONE = 0.9999999403953552;

export interface Float32Range {
  min: number; // inclusive lower bound of the value as given
  max: number; // inclusive upper bound
  /** The lower bound is exclusive (e.g. a positive number). */
  minExclusive?: boolean;
  /** What the error message says is expected. */
  text?: string;
}

/** Describes a range for an error message. */
function rangeText(r: Float32Range): string {
  if (r.text) return r.text;
  const lo = r.minExclusive ? `(${r.min}` : `[${r.min}`;
  return `a number in ${lo}, ${r.max}] (float32 must represent it)`;
}

/**
 * `value` when it is a number in `range` whose float32 rounding keeps it
 * there; otherwise a BpttInputError naming `argument`.
 */
export function checkFloat32Number(argument: string, value: unknown, range: Float32Range): number {
  if (typeof value !== 'number' || Number.isNaN(value)) throw new BpttInputError(argument, rangeText(range), describe(value));
  const f = Math.fround(value);
  const inRange = (v: number) => (range.minExclusive ? v > range.min : v >= range.min) && v <= range.max;
  if (!inRange(value) || !inRange(f)) {
    const note = inRange(value) ? ` (${value} is ${f} in float32)` : '';
    throw new BpttInputError(argument, rangeText(range), `${describe(value)}${note}`);
  }
  return value;
}

/** A positive number that float32 holds as a normal number (neither flushed to zero nor infinite). */
export const POSITIVE_F32: Float32Range = {
  min: F32_MIN_NORMAL,
  max: F32_MAX,
  text: `a positive number within float32's normal range [${F32_MIN_NORMAL}, ${F32_MAX}]`,
};

/** A number in [0, 1) that stays below 1 in float32. */
export const UNIT_F32: Float32Range = { min: 0, max: F32_BELOW_ONE, text: `a number in [0, 1) that float32 keeps below 1 (at most ${F32_BELOW_ONE})` };

/** |v| as float32 would hold it: values beyond float32's range become +-Infinity; NaN stays NaN. */
export function toFloat32Range(v: number): number {
  return Math.abs(v) <= F32_MAX || Number.isNaN(v) ? v : Number.isFinite(Math.fround(v)) ? v : v * Infinity;
}

/** Applies toFloat32Range to every element of `a` in place, from `start` to `end`. */
export function clampToFloat32Range(a: Float64Array, start = 0, end = a.length): void {
  for (let i = start; i < end; i++) {
    const v = a[i];
    if (!(Math.abs(v) <= F32_MAX)) a[i] = toFloat32Range(v);
  }
}

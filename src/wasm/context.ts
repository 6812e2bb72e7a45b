// The context block the host writes for bptt_run: one 32-bit slot per name,
// in the order of enum Slot in src/wasm/c/bptt.h (test/wasm-context.test.ts
// checks that the two lists agree). S_* are sizes, flags or f32 constants,
// P_* byte offsets into linear memory (0 = absent).
export const SLOTS = [
  'S_T', 'S_B', 'S_D', 'S_H', 'S_Q', 'S_ACT', 'S_TOKENS', 'S_BIAS', 'S_LOSS', 'S_WINDOW', 'S_DX', 'S_N', 'S_FORWARD', 'S_FORWARD_O',
  'S_OPT', 'S_LR', 'S_B1', 'S_B2', 'S_EPS', 'S_C1', 'S_C2', 'S_OMB1', 'S_OMB2',
  'P_PARAMS', 'P_GRADS', 'P_M', 'P_V', 'P_X', 'P_Y', 'P_DOIN', 'P_H0', 'P_DHT', 'P_XI', 'P_LEN',
  'P_WHXT', 'P_WHHT', 'P_WQHT', 'P_P', 'P_HS', 'P_O', 'P_G', 'P_DA', 'P_S1', 'P_S2', 'P_NEXT', 'P_DWHXT', 'P_DX', 'P_DH0',
  'P_PART', 'P_CLIP', 'P_OUT', 'P_PROF', 'P_BARRIER',
] as const;

export type SlotName = (typeof SLOTS)[number];

/** Slots holding float32 constants (written as their bits). */
export const FLOAT_SLOTS: ReadonlySet<SlotName> = new Set(['S_LR', 'S_B1', 'S_B2', 'S_EPS', 'S_C1', 'S_C2', 'S_OMB1', 'S_OMB2']);

export const SLOT_INDEX = Object.fromEntries(SLOTS.map((name, i) => [name, i])) as Record<SlotName, number>;

export const CONTEXT_BYTES = SLOTS.length * 4;

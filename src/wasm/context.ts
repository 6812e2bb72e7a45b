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

// The context block of seq_run (a SequenceModel call), in the order of enum SeqSlot in src/wasm/c/seq.h.
export const SEQ_SLOTS = [
  'Q_T', 'Q_B', 'Q_D', 'Q_H', 'Q_Q', 'Q_L', 'Q_DIRS', 'Q_CELL', 'Q_ACT', 'Q_TOKENS', 'Q_BIAS', 'Q_HEAD', 'Q_HEAD_BIAS', 'Q_LOSS', 'Q_WINDOW',
  'Q_DX', 'Q_N', 'Q_FORWARD', 'Q_FORWARD_O', 'Q_OPT', 'Q_LR', 'Q_B1', 'Q_B2', 'Q_EPS', 'Q_C1', 'Q_C2', 'Q_OMB1', 'Q_OMB2',
  'QP_PARAMS', 'QP_GRADS', 'QP_M', 'QP_V', 'QP_X', 'QP_LABELS', 'QP_DOIN', 'QP_H0', 'QP_C0', 'QP_DHT', 'QP_DCT', 'QP_XI', 'QP_LEN',
  'QP_WXT', 'QP_WHT', 'QP_WT', 'QP_GX', 'QP_YS', 'QP_HP', 'QP_S', 'QP_C', 'QP_GH', 'QP_HT', 'QP_CT', 'QP_O', 'QP_DO', 'QP_DY1', 'QP_DY2',
  'QP_DGX', 'QP_DGH', 'QP_DGXS', 'QP_CH', 'QP_CC', 'QP_DIRH', 'QP_DIRC', 'QP_CP', 'QP_SL1', 'QP_SL2', 'QP_SLC1', 'QP_SLC2', 'QP_GHS',
  'QP_DH0', 'QP_DC0', 'QP_DX', 'QP_ROWLOSS', 'QP_GSQ', 'QP_NSQ', 'QP_PART', 'QP_CLIP', 'QP_OUT', 'QP_PROF', 'QP_BARRIER',
] as const;

export type SeqSlotName = (typeof SEQ_SLOTS)[number];

export const SEQ_FLOAT_SLOTS: ReadonlySet<SeqSlotName> = new Set(['Q_LR', 'Q_B1', 'Q_B2', 'Q_EPS', 'Q_C1', 'Q_C2', 'Q_OMB1', 'Q_OMB2']);

export const SEQ_SLOT_INDEX = Object.fromEntries(SEQ_SLOTS.map((name, i) => [name, i])) as Record<SeqSlotName, number>;

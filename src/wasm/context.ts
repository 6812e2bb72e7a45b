// The context block the host writes for seq_run (src/wasm/c/seq.c), the one entry point: a SequenceModel's call,
// and an RnnModel's as one case of it. One 32-bit slot per name, in the order of enum SeqSlot in
// src/wasm/c/seq.h (test/wasm-engine.test.ts checks that the two lists agree). Q_* are sizes, flags or f32
// constants, QP_* byte offsets into linear memory (0 = absent).
export const SEQ_SLOTS = [
  'Q_T', 'Q_B', 'Q_D', 'Q_H', 'Q_Q', 'Q_L', 'Q_DIRS', 'Q_CELL', 'Q_ACT', 'Q_TOKENS', 'Q_HEAD', 'Q_CHAPTER', 'Q_LOSS', 'Q_WINDOW',
  'Q_DX', 'Q_N', 'Q_FORWARD', 'Q_FORWARD_O', 'Q_OPT', 'Q_LR', 'Q_B1', 'Q_B2', 'Q_EPS', 'Q_C1', 'Q_C2', 'Q_OMB1', 'Q_OMB2',
  'QP_LAYOUT', 'QP_PARAMS', 'QP_GRADS', 'QP_M', 'QP_V', 'QP_X', 'QP_LABELS', 'QP_DOIN', 'QP_H0', 'QP_C0', 'QP_DHT', 'QP_DCT', 'QP_XI', 'QP_LEN',
  'QP_WXT', 'QP_WHT', 'QP_WT', 'QP_GX', 'QP_YS', 'QP_HP', 'QP_S', 'QP_C', 'QP_GH', 'QP_HT', 'QP_CT', 'QP_O', 'QP_DO', 'QP_DY1', 'QP_DY2',
  'QP_DGX', 'QP_DGH', 'QP_DGXS', 'QP_CH', 'QP_CC', 'QP_DIRH', 'QP_DIRC', 'QP_CP', 'QP_SL1', 'QP_SL2', 'QP_SLC1', 'QP_SLC2', 'QP_GHS',
  'QP_DH0', 'QP_DC0', 'QP_DX', 'QP_DWXT', 'QP_ROWLOSS', 'QP_GSQ', 'QP_NSQ', 'QP_PART', 'QP_CLIP', 'QP_OUT', 'QP_PROF', 'QP_BARRIER',
] as const;

export type SeqSlotName = (typeof SEQ_SLOTS)[number];

export const SEQ_FLOAT_SLOTS: ReadonlySet<SeqSlotName> = new Set(['Q_LR', 'Q_B1', 'Q_B2', 'Q_EPS', 'Q_C1', 'Q_C2', 'Q_OMB1', 'Q_OMB2']);

export const SEQ_SLOT_INDEX = Object.fromEntries(SEQ_SLOTS.map((name, i) => [name, i])) as Record<SeqSlotName, number>;

export const SEQ_CONTEXT_BYTES = SEQ_SLOTS.length * 4;

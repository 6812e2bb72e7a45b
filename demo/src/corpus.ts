// The Time Machine as the chapter's examples read it: lower-cased, every run of
// non-letters turned into one space, 27 symbols (space and a-z). The library
// receives token ids [T, B]; it never sees one-hot arrays.
import type { Batch } from '../../src/index.js';

/** The 27 symbols; a symbol's id is its index here. */
export const VOCAB = ' abcdefghijklmnopqrstuvwxyz';
export const VOCAB_SIZE = VOCAB.length;

/** Lower-case, keep letters, turn each run of anything else into one space. */
export function cleanText(raw: string): string {
  return raw.toLowerCase().replace(/[^a-z]+/g, ' ').trim();
}

/** Token ids of clean text (characters outside VOCAB become space, id 0). */
export function encode(text: string): Int32Array {
  const ids = new Int32Array(text.length);
  for (let i = 0; i < text.length; i++) ids[i] = Math.max(0, VOCAB.indexOf(text[i]));
  return ids;
}

export function decode(ids: ArrayLike<number>): string {
  let s = '';
  for (let i = 0; i < ids.length; i++) s += VOCAB[ids[i]] ?? '?';
  return s;
}

export interface StreamBatch {
  batch: Batch; // x, y: Int32Array [T, B] (time-major)
  wrapped: boolean; // true when this batch starts the corpus over (carried state should be reset)
}

/**
 * Sequential partitioning (d2l's seq_data_iter_sequential): the corpus is cut
 * into B streams of equal length, and each call returns the next T tokens of
 * every stream, so the hidden state carried from one batch to the next
 * belongs to the text that follows it. y is x shifted by one token.
 */
export function makeStreamBatcher(ids: Int32Array, T: number, B: number): () => StreamBatch {
  const L = Math.floor((ids.length - 1) / B); // tokens per stream
  if (L < T + 1) throw new Error(`corpus of ${ids.length} tokens is too short for ${B} streams of ${T + 1} tokens`);
  let p = 0;
  return () => {
    let wrapped = false;
    if (p + T > L) {
      p = 0;
      wrapped = true;
    }
    const x = new Int32Array(T * B);
    const y = new Int32Array(T * B);
    for (let t = 0; t < T; t++) {
      for (let b = 0; b < B; b++) {
        const i = b * L + p + t;
        x[t * B + b] = ids[i];
        y[t * B + b] = ids[i + 1];
      }
    }
    p += T;
    return { batch: { steps: T, batchSize: B, x, y }, wrapped };
  };
}

// Rows past a sequence's end (MATH.md part 2, packed sequences): what a caller put there is
// ignored, so every engine zeroes those rows of its inputs before a product reads them
// (0 * NaN is NaN in dWx = dGx^T X, in the loss's dO and in dY).

/** Zeroes, in place, the rows t >= n_b of each sequence b of a [T, B, width] array; returns it. No lengths: unchanged. */
export function zeroPaddedRows(a: Float32Array, lengths: ArrayLike<number> | null | undefined, T: number, B: number, width: number): Float32Array {
  if (lengths) for (let b = 0; b < B; b++) for (let t = lengths[b]; t < T; t++) a.fill(0, (t * B + b) * width, (t * B + b + 1) * width);
  return a;
}

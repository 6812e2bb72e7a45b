// lib/stats: the scalars of a gradient call, written by finalize.wgsl; the host reads
// them by member name through reflection (src/gpu/stats.ts). Every kernel that binds
// `stats` takes this one declaration with `//! include stats`.
struct Stats {
  loss: f32, // L
  gradNorm: f32, // ||g|| before clipping (NaN if any g_i is not finite)
  clipScale: f32, // min(1, clipNorm / ||g||) = clipScale * clipScale2 * clipScale3, applied one factor after the other
  nonFinite: f32, // 1 when ||g|| is NaN or infinite
  clipped: f32, // 1 when clipped
  step: f32, // updates applied so far: Adam's t
  clipScale2: f32, // the clip scale's second factor (each factor a normal f32: the scale itself may be below 2^-126)
  clipScale3: f32, // its third factor
  perStep: array<f32>, // ||dH_t|| per (layer-direction,) step
}

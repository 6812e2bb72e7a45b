// lib/finite: the non-finite test of the norms and flags. `//! include finite`.

fn isFiniteF(x: f32) -> bool {
  // Tested on the bits: a shader compiler may assume floats are never NaN or infinite.
  return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u;
}

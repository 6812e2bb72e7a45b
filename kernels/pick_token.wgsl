// pick_token: the next token of engine.generate from the logits of the last step, on the device
//
//   temperature 0: id = argmax_c o[c] (the first on ties)
//   else:          a_c = (o_c - o_best) * invTemperature, X_c = floor(max(a_c, -20) * 2^24),
//                  E_c = expQ24(X_c) >> shift (2^24 exp(a_c) in integers), S = sum of E, and
//                  id = the first c with E_0 + ... + E_c > floor(U S / 2^24), U = the host's draw
//                  for this token (makeRng(seed), one per token, an integer below 2^24: drawU24)
//   The float part is one subtraction and one multiplication (each correctly rounded, and no
//   multiply-add a compiler could fuse), the rest is integer arithmetic: the same operations as
//   the CPU reference's pickToken and expQ24 (src/cpu/sequence/infer.ts), so from the same
//   logits both pick the same id on any device.
//   ids[0] = id (the next step's input: the x buffer of a one-step forward), out[i] = id
//
//   O    [rows, q] the head's output, the last step's row at offO
//   u    [steps] the draws U, integers below 2^24 (exact in f32)
//   ids  i32 [1], out i32 [steps]
//
// One invocation (q is a vocabulary: a loop is cheaper than a reduction's barriers).

struct Params {
  q: u32,
  offO: u32,
  i: u32, // this token's index in out
  temperature: f32,
  invTemperature: f32, // fround(1 / temperature), from the host
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> O: array<f32>;
@group(0) @binding(2) var<storage, read> u: array<f32>;
@group(0) @binding(3) var<storage, read_write> ids: array<i32>;
@group(0) @binding(4) var<storage, read_write> out: array<i32>;

const LN2_Q24 = 11629080; // round(ln 2 * 2^24)

/** floor(p r / 2^24) for p < 2^29, r < 2^24, from 32-bit products only (limbs of 14 and 12 bits). */
fn mulShift24(p: u32, r: u32) -> u32 {
  let ph = p >> 14u;
  let pl = p & 0x3fffu;
  let rh = r >> 12u;
  let rl = r & 0xfffu;
  return ph * rh * 4u + ((ph * rl * 4u + pl * rh + ((pl * rl) >> 12u)) >> 12u);
}

/** floor(U S / 2^24) for U < 2^24, S < 2^31, from 32-bit products only. */
fn scaleQ24(U: u32, S: u32) -> u32 {
  let uh = U >> 12u;
  let ul = U & 0xfffu;
  let sh = S >> 16u;
  let sl = S & 0xffffu;
  return uh * sh * 16u + ((ul * sh + ((uh * sl + ((ul * sl) >> 12u)) >> 4u)) >> 8u);
}

/** 2^24 exp(X / 2^24) for an integer X in [-20 * 2^24, 0], as expQ24 of src/cpu/sequence/infer.ts (Taylor to r^9 in Q28). */
fn expQ24(X: i32) -> u32 {
  let k = -((-X + LN2_Q24 - 1) / LN2_Q24); // floor(X / L): i32 division truncates toward zero
  let r = u32(X - k * LN2_Q24);
  var p = 740u; // round(2^28 / i!), i = 9 down to 0
  p = 6658u + mulShift24(p, r);
  p = 53261u + mulShift24(p, r);
  p = 372827u + mulShift24(p, r);
  p = 2236962u + mulShift24(p, r);
  p = 11184811u + mulShift24(p, r);
  p = 44739243u + mulShift24(p, r);
  p = 134217728u + mulShift24(p, r);
  p = 268435456u + mulShift24(p, r);
  p = 268435456u + mulShift24(p, r);
  let s = u32(4 - k);
  if (s >= 32u) { return 0u; } // (a shift by 32 or more is not defined in WGSL)
  return p >> s;
}

/** E_c: softmax's numerator for logit o against the largest, ob, in Q24 >> shift. */
fn weight(o: f32, ob: f32, shift: u32) -> u32 {
  let a = (o - ob) * params.invTemperature;
  return expQ24(i32(floor(max(a, -20.0) * 16777216.0))) >> shift;
}

@compute @workgroup_size(1)
fn main() {
  let q = params.q;
  var best = 0u;
  for (var c = 1u; c < q; c++) {
    if (O[params.offO + c] > O[params.offO + best]) { best = c; }
  }
  var id = best;
  if (params.temperature > 0.0) {
    let ob = O[params.offO + best];
    let shift = u32(max(0, 32 - i32(countLeadingZeros(q)) - 7)); // keeps the sum below 2^31
    var sum = 0u;
    for (var c = 0u; c < q; c++) { sum += weight(O[params.offO + c], ob, shift); }
    let threshold = scaleQ24(u32(u[params.i]), sum);
    var cum = 0u;
    id = q - 1u;
    for (var c = 0u; c < q; c++) {
      cum += weight(O[params.offO + c], ob, shift);
      if (cum > threshold) {
        id = c;
        break;
      }
    }
  }
  ids[0] = i32(id);
  out[params.i] = i32(id);
}

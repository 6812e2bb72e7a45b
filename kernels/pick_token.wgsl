// pick_token: the next token of engine.generate from the logits of the last step, on the device
//
//   temperature 0: id = argmax_c o[c] (the first on ties)
//   else:          z_c = o_c * invTemperature, m = max z, p_c = expF32(z_c - m), S = p_0 + p_1 + ...
//                  (in order), and id = the first c with u S - p_0 - ... - p_c < 0, u = the host's
//                  draw for this token (makeRng(seed), one per token, on 24 bits: drawU)
//   Every operation is a float32 +, -, *, floor or power of two, each exact or correctly rounded,
//   in the order of the CPU reference's pickToken and expF32 (src/cpu/sequence/infer.ts), so
//   that from the same logits both pick the same id (no exp() builtin: its error is not specified
//   to the bit). A compiler that fuses a multiply and an add could still move a value by an ulp.
//   ids[0] = id (the next step's input: the x buffer of a one-step forward), out[i] = id
//
//   O    [rows, q] the head's output, the last step's row at offO
//   u    [steps] uniform draws in [0, 1)
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

// The float32 constants of expF32, as bits (a decimal literal may round either way when converted):
// log2(e), ln2's low part C2 (C1 = 0.693359375 is exact), and 1/7!, 1/6!, 1/5!, 1/4!, 1/3!.
const LOG2E = bitcast<f32>(0x3fb8aa3bu);
const LN2_LO = bitcast<f32>(0xb95e8083u);
const C7 = bitcast<f32>(0x39500d01u);
const C6 = bitcast<f32>(0x3ab60b61u);
const C5 = bitcast<f32>(0x3c088889u);
const C4 = bitcast<f32>(0x3d2aaaabu);
const C3 = bitcast<f32>(0x3e2aaaabu);

/** exp(x) for x <= 0, as expF32 of src/cpu/sequence/infer.ts: x = k ln2 + r (Cody-Waite), Taylor to r^7, times 2^k. */
fn expF32(x: f32) -> f32 {
  if (x < -87.0) { return 0.0; }
  let k = floor(x * LOG2E + 0.5);
  let r = (x - k * 0.693359375) - k * LN2_LO;
  var p = C7;
  p = p * r + C6;
  p = p * r + C5;
  p = p * r + C4;
  p = p * r + C3;
  p = p * r + 0.5;
  p = p * r + 1.0;
  p = p * r + 1.0;
  return ldexp(p, i32(k));
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
    let m = O[params.offO + best] * params.invTemperature;
    var sum = 0.0;
    for (var c = 0u; c < q; c++) { sum += expF32(O[params.offO + c] * params.invTemperature - m); }
    var left = u[params.i] * sum;
    id = q - 1u;
    for (var c = 0u; c < q; c++) {
      left -= expF32(O[params.offO + c] * params.invTemperature - m);
      if (left < 0.0) {
        id = c;
        break;
      }
    }
  }
  ids[0] = i32(id);
  out[params.i] = i32(id);
}

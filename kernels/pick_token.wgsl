// pick_token: the next token of engine.generate from the logits of the last step, on the device
//
//   temperature 0: id = argmax_c o[c] (the first on ties)
//   else:          z_c = o_c / temperature, p_c = exp(z_c - max z), and id = the first c
//                  with u * sum(p) < p_0 + ... + p_c, u = the host's draw for this token
//                  (makeRng(seed), one per token, as the CPU reference's pickToken)
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
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> O: array<f32>;
@group(0) @binding(2) var<storage, read> u: array<f32>;
@group(0) @binding(3) var<storage, read_write> ids: array<i32>;
@group(0) @binding(4) var<storage, read_write> out: array<i32>;

@compute @workgroup_size(1)
fn main() {
  let q = params.q;
  var best = 0u;
  for (var c = 1u; c < q; c++) {
    if (O[params.offO + c] > O[params.offO + best]) { best = c; }
  }
  var id = best;
  if (params.temperature > 0.0) {
    let m = O[params.offO + best] / params.temperature;
    var sum = 0.0;
    for (var c = 0u; c < q; c++) { sum += exp(O[params.offO + c] / params.temperature - m); }
    var left = u[params.i] * sum;
    id = q - 1u;
    for (var c = 0u; c < q; c++) {
      left -= exp(O[params.offO + c] / params.temperature - m);
      if (left < 0.0) {
        id = c;
        break;
      }
    }
  }
  ids[0] = i32(id);
  out[params.i] = i32(id);
}

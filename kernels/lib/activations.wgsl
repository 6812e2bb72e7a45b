// lib/activations: the activations of every cell, and phi' from the output, in one place.
// A kernel takes them with the line `//! include activations`; one that uses phi or phiGrad
// declares `override ACTIVATION: u32` (0 identity, 1 tanh, 2 relu) itself.
// The CPU reference's twins are activate and activationGrad in src/cpu/kernels.ts.

// sigmoid(NaN) = NaN, as on the CPU: SwiftShader's exp made it finite, hiding a NaN bias from the
// non-finite flag (found by the fuzz test, FUZZ_SEED=20261202 FUZZ_ONLY=600065); tested on the bits
fn sigmoid(a: f32) -> f32 {
  if ((bitcast<u32>(a) & 0x7fffffffu) > 0x7f800000u) { return a; }
  return 1.0 / (1.0 + exp(-a));
}

// tanh by its series below 0.1: an exp-based tanh (SwiftShader's) loses the digits of small
// arguments (tanh(1e-30) was 0); beyond 16 it is +-1 in f32 exactly (tanh(+-Infinity) was NaN).
fn tanhF(a: f32) -> f32 {
  if (abs(a) < 0.1) {
    let a2 = a * a;
    return a * (1.0 + a2 * (-1.0 / 3.0 + a2 * (2.0 / 15.0 - a2 * (17.0 / 315.0))));
  }
  return select(tanh(a), sign(a), abs(a) > 16.0);
}

fn phi(a: f32) -> f32 {
  if (ACTIVATION == 1u) { return tanhF(a); }
  // relu(NaN) = 0, as on the CPU (max(NaN, 0) is not defined in WGSL); the NaN still reaches the gradients
  if (ACTIVATION == 2u) { return select(0.0, a, a > 0.0); }
  return a;
}

// phi'(a) from h = phi(a): 1 - h^2 for tanh, [h > 0] for relu
fn phiGrad(hv: f32) -> f32 {
  if (ACTIVATION == 1u) { return 1.0 - hv * hv; }
  if (ACTIVATION == 2u) { return select(0.0, 1.0, hv > 0.0); }
  return 1.0;
}

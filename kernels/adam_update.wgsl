// adam_update: Adam on every parameter, skipped when the gradients are not finite
//
//   g = clip * grad[i]                        clip = stats[2] * stats[6], applied one factor after the other
//   m <- beta1 m + (1 - beta1) g;   v <- beta2 v + (1 - beta2) g^2
//   theta <- theta - lr * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + epsilon)
//
//   1 - beta comes from the host (computed in float64), and 1 - beta^t is
//   computed from it without pow: for beta near 1 (0.9999999 is legal),
//   f32 1 - beta and 1 - pow(beta, t) keep few or no correct digits.
//
//   params/theta [n], grad [n], m [n], v [n]
//   stats        from finalize.wgsl: stats[2], stats[6] the clip scale's factors, stats[3] not finite, stats[5] = t
//                (counted on the device, so a skipped step does not advance t)
//
// One invocation per element, 256 per workgroup, over x and y.

struct Params {
  n: u32,
  learningRate: f32,
  beta1: f32,
  beta2: f32,
  epsilon: f32,
  oneMinusBeta1: f32, // 1 - beta1, from the host in float64
  oneMinusBeta2: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read> stats: array<f32>;
@group(0) @binding(3) var<storage, read_write> theta: array<f32>;
@group(0) @binding(4) var<storage, read_write> m: array<f32>;
@group(0) @binding(5) var<storage, read_write> v: array<f32>;

/** 1 - beta^t, beta = 1 - x: t log(beta) by the series of log(1 - x) for small x, then 1 - e^y by its series for small |y|. */
fn oneMinusPow(beta: f32, x: f32, t: f32) -> f32 {
  var lg = log(beta); // beta <= 0.99: 1 - x is exact enough
  if (x < 0.01) { lg = -x * (1.0 + x * (0.5 + x * (1.0 / 3.0 + x * 0.25))); }
  let y = t * lg;
  if (y > -0.01) { return -y * (1.0 + y * (0.5 + y * (1.0 / 6.0 + y / 24.0))); }
  return 1.0 - exp(y);
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.y * nwg.x * 256u + gid.x;
  if (i >= params.n || stats[3] != 0.0) { return; }
  let t = stats[5];
  let g = (grad[i] * stats[2]) * stats[6];
  let mi = params.beta1 * m[i] + params.oneMinusBeta1 * g;
  let vi = params.beta2 * v[i] + params.oneMinusBeta2 * g * g;
  m[i] = mi;
  v[i] = vi;
  let mHat = mi / oneMinusPow(params.beta1, params.oneMinusBeta1, t);
  let vHat = vi / oneMinusPow(params.beta2, params.oneMinusBeta2, t);
  theta[i] = theta[i] - params.learningRate * mHat / (sqrt(vHat) + params.epsilon);
}

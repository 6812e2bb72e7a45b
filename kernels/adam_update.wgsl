// adam_update: Adam on every parameter, skipped when the gradients are not finite
//
//   g = clip * grad[i]                        clip = stats.clipScale * stats.clipScale2 * stats.clipScale3, applied one factor after the other
//   m <- beta1 m + (1 - beta1) g;   v <- beta2 v + (1 - beta2) g^2
//   theta <- theta - lr * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + epsilon)
//
//   1 - beta comes from the host (computed in float64), and 1 - beta^t is
//   computed from it without pow: for beta near 1 (0.9999999 is legal),
//   f32 1 - beta and 1 - pow(beta, t) keep few or no correct digits.
//
//   The buffer v holds r = sqrt(v), the root mean square of g, updated as
//   r <- hypot(sqrt(beta2) r, sqrt(1 - beta2) |g|) without forming g^2: g^2
//   leaves float32's normal range for |g| below about 1e-19 (GPUs flush it to
//   zero, and with a small epsilon the update became lr * g / epsilon, 1e10
//   times too large) and above about 1.8e19. The update is
//   lr * (m / (r + epsilon sqrt(c2))) * (sqrt(c2) / c1), c = 1 - beta^t,
//   the same number in an order where no intermediate leaves the range.
//
//   params/theta [n], grad [n], m [n], v [n] (holding r)
//   stats        from finalize.wgsl: stats.clipScale, stats.clipScale2, stats.clipScale3 the clip scale's factors, stats.nonFinite, stats.step = t
//                (counted on the device, so a skipped step does not advance t)
//
// One invocation per element, 256 per workgroup, over x and y.

//! include stats

struct Params {
  n: u32,
  learningRate: f32,
  beta1: f32,
  beta2: f32,
  epsilon: f32,
  oneMinusBeta1: f32, // 1 - beta1, from the host in float64
  oneMinusBeta2: f32,
  sqrtBeta2: f32, // sqrt(beta2), from the host in float64
  sqrtOneMinusBeta2: f32, // sqrt(1 - beta2)
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read> stats: Stats;
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

/** sqrt(a^2 + b^2) for a, b >= 0, scaled by powers of two so that no square leaves float32's range. */
fn hypot(a: f32, b: f32) -> f32 {
  let M = max(a, b);
  if (M == 0.0) { return 0.0; }
  let e = frexp(M).exp; // M = f * 2^e, f in [0.5, 1)
  let k = vec2<f32>(exp2(f32(-(e / 2))), exp2(f32(e / 2 - e))); // product about 1 / M, each factor a normal f32
  let x = (a * k.x) * k.y;
  let y = (b * k.x) * k.y;
  return sqrt(x * x + y * y) / k.y / k.x;
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.y * nwg.x * 256u + gid.x;
  if (i >= params.n || stats.nonFinite != 0.0) { return; }
  let t = stats.step;
  let g = ((grad[i] * stats.clipScale) * stats.clipScale2) * stats.clipScale3;
  let mi = params.beta1 * m[i] + params.oneMinusBeta1 * g;
  let ri = hypot(params.sqrtBeta2 * v[i], params.sqrtOneMinusBeta2 * abs(g));
  m[i] = mi;
  v[i] = ri;
  let c1 = oneMinusPow(params.beta1, params.oneMinusBeta1, t);
  let rootC2 = sqrt(oneMinusPow(params.beta2, params.oneMinusBeta2, t));
  // For small r, numerator and denominator times 2^64: epsilon * sqrt(c2) (down to 1.2e-38 * 2.4e-4) stays a normal f32, not 0 (0 / 0 at v = 0)
  let K = select(1.0, 18446744073709551616.0, ri < 1e-18);
  let u = (mi * K) / (ri * K + (params.epsilon * K) * rootC2);
  theta[i] = theta[i] - params.learningRate * u * (rootC2 / c1);
}

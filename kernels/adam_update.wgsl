// adam_update: Adam on every parameter, skipped when the gradients are not finite
//
//   g = clip * grad[i]
//   m <- beta1 m + (1 - beta1) g;   v <- beta2 v + (1 - beta2) g^2
//   theta <- theta - lr * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + epsilon)
//
//   params/theta [n], grad [n], m [n], v [n]
//   stats        from finalize.wgsl: stats.clipScale, stats.nonFinite, stats.step = t
//                (counted on the device, so a skipped step does not advance t)
//
// One invocation per element, 256 per workgroup, over x and y.

// The scalars of a gradient call, written by finalize.wgsl; the host reads
// them by member name through reflection (src/gpu/stats.ts), and every kernel
// that reads them declares this same struct (test/gpu-stats-struct.test.ts).
struct Stats {
  loss: f32, // L
  gradNorm: f32, // ||g|| before clipping (NaN if any g_i is not finite)
  clipScale: f32, // min(1, clipNorm / ||g||)
  nonFinite: f32, // 1 when ||g|| is NaN or infinite
  clipped: f32, // 1 when clipped
  step: f32, // updates applied so far: Adam's t
  perStep: array<f32>, // ||dH_t|| per (layer-direction,) step
}

struct Params {
  n: u32,
  learningRate: f32,
  beta1: f32,
  beta2: f32,
  epsilon: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read> stats: Stats;
@group(0) @binding(3) var<storage, read_write> theta: array<f32>;
@group(0) @binding(4) var<storage, read_write> m: array<f32>;
@group(0) @binding(5) var<storage, read_write> v: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.y * nwg.x * 256u + gid.x;
  if (i >= params.n || stats.nonFinite != 0.0) { return; }
  let t = stats.step;
  let g = stats.clipScale * grad[i];
  let mi = params.beta1 * m[i] + (1.0 - params.beta1) * g;
  let vi = params.beta2 * v[i] + (1.0 - params.beta2) * g * g;
  m[i] = mi;
  v[i] = vi;
  let mHat = mi / (1.0 - pow(params.beta1, t));
  let vHat = vi / (1.0 - pow(params.beta2, t));
  theta[i] = theta[i] - params.learningRate * mHat / (sqrt(vHat) + params.epsilon);
}

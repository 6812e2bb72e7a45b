// window_io: the interface of the chapter's window(tau) step kernels (window_backward_step,
// window_backward_small): one Params and one set of bindings,
// since chapter-kernels.ts records each with the same ones. The buffers and fields are described in
// each kernel's header.

struct Params {
  B: u32,
  h: u32,
  tau: u32,
  first: u32, // 1 at t = T
  offOld: u32,
  offNew: u32,
  offG: u32,
  offH: u32,
  offOut: u32,
  offWhh: u32,
  normBase: u32, // 0xffffffff: no norm partials
}

override ACTIVATION: u32 = 1u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> G: array<f32>;
@group(0) @binding(2) var<storage, read> H: array<f32>;
@group(0) @binding(3) var<storage, read> W: array<f32>;
@group(0) @binding(4) var<storage, read> dhT: array<f32>;
@group(0) @binding(5) var<storage, read_write> slots: array<f32>;
@group(0) @binding(6) var<storage, read_write> dA: array<f32>;
@group(0) @binding(7) var<storage, read_write> normPartials: array<f32>;

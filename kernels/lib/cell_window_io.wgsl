// cell_window_io: the interface of the window(tau) step kernels (cell_window_backward_step, cell_window_backward_tile4):
// one Params and one set of bindings, since sequence-encode.ts records each with the same ones.
// The buffers and fields are described in each kernel's header.

struct Params {
  B: u32,
  h: u32,
  T: u32,
  tau: u32,
  s: u32, // 1..T+1
  offWh: u32,
  offY: u32,
  offHs: u32,
  offC: u32,
  offS: u32,
  offDY: u32,
  offDGx: u32,
  offDGh: u32,
  offDGa: u32,
  offDH: u32,
  offDC: u32,
  offDHa: u32,
  offDCa: u32,
  normBase: u32, // 0xffffffff: no norm partials
}

override CELL: u32 = 2u;
override ACTIVATION: u32 = 1u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> W: array<f32>;
@group(0) @binding(2) var<storage, read> Y: array<f32>;
@group(0) @binding(3) var<storage, read> saved: array<f32>;
@group(0) @binding(4) var<storage, read> dY: array<f32>;
@group(0) @binding(5) var<storage, read> lengths: array<u32>;
@group(0) @binding(6) var<storage, read_write> dG: array<f32>;
@group(0) @binding(7) var<storage, read_write> dState: array<f32>;
@group(0) @binding(8) var<storage, read_write> normPartials: array<f32>;

// cell_backward_io: the interface of the reverse-sweep step kernels (cell_backward_step, cell_backward_tile4,
// cell_backward_lanes): one Params and one set of bindings, since sequence-encode.ts records each with the same ones.
// The buffers and fields are described in each kernel's header.

struct Params {
  B: u32,
  h: u32,
  T: u32,
  dirs: u32,
  s: u32, // 1..T+1
  offWh: u32,
  strideK: u32,
  offY: u32,
  offHs: u32,
  offC: u32,
  offS: u32,
  offDY: u32,
  offDGx: u32,
  offDGh: u32,
  offDH: u32,
  offDC: u32,
  xi0: f32, // scale of the carry into this step, forward direction
  xi1: f32, // reverse direction
  normBase0: u32, // 0xffffffff: no norm partials
  normBase1: u32,
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

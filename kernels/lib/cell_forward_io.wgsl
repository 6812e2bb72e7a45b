// cell_forward_io: the interface of the forward step kernels (cell_forward_step, cell_forward_tile4, cell_forward_splitk):
// one Params and one set of bindings, since sequence-encode.ts records each with the same ones.
// The buffers and fields are described in each kernel's header.

struct Params {
  B: u32,
  h: u32,
  T: u32,
  dirs: u32,
  s: u32, // step 1..T
  offWh: u32, // dir 0's Wh in W
  offBh: u32,
  strideK: u32, // elements between the parameters of dir 0 and dir 1
  hasBias: u32,
  offGx: u32, // dir 0's block in Gx
  offY: u32, // this layer's block in Y
  offHs: u32, // dir 0's block of Hs in saved
  offC: u32, // dir 0's block of C in saved
  offS: u32, // dir 0's block of S in saved
  offH0: u32, // dir 0's block in state0: h0
  offC0: u32, // and c0
}

override CELL: u32 = 2u;
override ACTIVATION: u32 = 1u; // rnn only: 0 identity, 1 tanh, 2 relu

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> W: array<f32>;
@group(0) @binding(2) var<storage, read> Gx: array<f32>;
@group(0) @binding(3) var<storage, read> state0: array<f32>;
@group(0) @binding(4) var<storage, read> lengths: array<u32>;
@group(0) @binding(5) var<storage, read_write> Y: array<f32>;
@group(0) @binding(6) var<storage, read_write> saved: array<f32>;

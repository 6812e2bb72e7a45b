// rnn_forward_io: the interface of the chapter's forward step kernels (rnn_forward_step, rnn_forward_subgroup): one Params and one set of bindings,
// since chapter-kernels.ts records each with the same ones. The buffers and fields are described in
// each kernel's header.

struct Params {
  B: u32,
  h: u32,
  offPrev: u32,
  offCur: u32,
  offP: u32,
  offWhh: u32,
}

override ACTIVATION: u32 = 1u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> P: array<f32>;
@group(0) @binding(2) var<storage, read> W: array<f32>;
@group(0) @binding(3) var<storage, read_write> H: array<f32>;

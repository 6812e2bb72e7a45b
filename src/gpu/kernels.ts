// The WGSL kernels, one file each in kernels/, read once with wgsl_reflect.
import adamUpdate from '../../kernels/adam_update.wgsl';
import carrySequenceState from '../../kernels/carry_sequence_state.wgsl';
import cellBackwardLanes from '../../kernels/cell_backward_lanes.wgsl';
import cellBackwardStep from '../../kernels/cell_backward_step.wgsl';
import cellBackwardTile4 from '../../kernels/cell_backward_tile4.wgsl';
import cellBackwardSweep from '../../kernels/cell_backward_sweep.wgsl';
import cellForwardLanes from '../../kernels/cell_forward_lanes.wgsl';
import cellForwardSplitk from '../../kernels/cell_forward_splitk.wgsl';
import cellForwardStep from '../../kernels/cell_forward_step.wgsl';
import cellForwardSubgroup from '../../kernels/cell_forward_subgroup.wgsl';
import cellForwardTile4 from '../../kernels/cell_forward_tile4.wgsl';
import cellWindowBackwardStep from '../../kernels/cell_window_backward_step.wgsl';
import cellWindowBackwardTile4 from '../../kernels/cell_window_backward_tile4.wgsl';
import columnSums from '../../kernels/column_sums.wgsl';
import finalize from '../../kernels/finalize.wgsl';
import finalizeParts from '../../kernels/finalize_parts.wgsl';
import gatherColumns from '../../kernels/gather_columns.wgsl';
import maskRows from '../../kernels/mask_rows.wgsl';
import matmul from '../../kernels/matmul.wgsl';
import outputLoss from '../../kernels/output_loss.wgsl';
import pickToken from '../../kernels/pick_token.wgsl';
import reduceSplits from '../../kernels/reduce_splits.wgsl';
import rnnBackwardReduce from '../../kernels/rnn_backward_reduce.wgsl';
import rnnBackwardSmall from '../../kernels/rnn_backward_small.wgsl';
import rnnBackwardStep from '../../kernels/rnn_backward_step.wgsl';
import rnnForwardReduce from '../../kernels/rnn_forward_reduce.wgsl';
import rnnForwardSmall from '../../kernels/rnn_forward_small.wgsl';
import rnnForwardSubgroup from '../../kernels/rnn_forward_subgroup.wgsl';
import rnnForwardStep from '../../kernels/rnn_forward_step.wgsl';
import rnnStepSplit from '../../kernels/rnn_step_split.wgsl';
import scaleGradients from '../../kernels/scale_gradients.wgsl';
import sgdUpdate from '../../kernels/sgd_update.wgsl';
import tokenScatterAdd from '../../kernels/token_scatter_add.wgsl';
import transpose from '../../kernels/transpose.wgsl';
import windowBackwardSmall from '../../kernels/window_backward_small.wgsl';
import windowBackwardStep from '../../kernels/window_backward_step.wgsl';
import libActivations from '../../kernels/lib/activations.wgsl';
import libCellStep from '../../kernels/lib/cell_step.wgsl';
import libCellForwardIo from '../../kernels/lib/cell_forward_io.wgsl';
import libCellBackwardIo from '../../kernels/lib/cell_backward_io.wgsl';
import libCellBackwardFinish from '../../kernels/lib/cell_backward_finish.wgsl';
import libCellWindowIo from '../../kernels/lib/cell_window_io.wgsl';
import libCellWindowGates from '../../kernels/lib/cell_window_gates.wgsl';
import libRnnForwardIo from '../../kernels/lib/rnn_forward_io.wgsl';
import libRnnBackwardIo from '../../kernels/lib/rnn_backward_io.wgsl';
import libWindowIo from '../../kernels/lib/window_io.wgsl';
import libFinite from '../../kernels/lib/finite.wgsl';
import libGates from '../../kernels/lib/gates.wgsl';
import libTileNorm4 from '../../kernels/lib/tilenorm4.wgsl';
import libGateGrads from '../../kernels/lib/gate_grads.wgsl';
import libGroupReduce from '../../kernels/lib/group_reduce.wgsl';
import libStats from '../../kernels/lib/stats.wgsl';
import { type KernelInfo, reflectKernel } from './reflect.js';

/** The ACTIVATION override of every kernel with phi (kernels/lib/activations.wgsl): 0 identity, 1 tanh, 2 relu. */
export const ACTIVATION_CODE = { identity: 0, tanh: 1, relu: 2 } as const;

const SOURCES = {
  adam_update: adamUpdate,
  carry_sequence_state: carrySequenceState,
  cell_backward_lanes: cellBackwardLanes,
  cell_backward_step: cellBackwardStep,
  cell_backward_tile4: cellBackwardTile4,
  cell_backward_sweep: cellBackwardSweep,
  cell_forward_lanes: cellForwardLanes,
  cell_forward_splitk: cellForwardSplitk,
  cell_forward_step: cellForwardStep,
  cell_forward_subgroup: cellForwardSubgroup,
  cell_forward_tile4: cellForwardTile4,
  cell_window_backward_step: cellWindowBackwardStep,
  cell_window_backward_tile4: cellWindowBackwardTile4,
  column_sums: columnSums,
  finalize,
  finalize_parts: finalizeParts,
  gather_columns: gatherColumns,
  mask_rows: maskRows,
  matmul,
  output_loss: outputLoss,
  pick_token: pickToken,
  reduce_splits: reduceSplits,
  rnn_backward_reduce: rnnBackwardReduce,
  rnn_backward_small: rnnBackwardSmall,
  rnn_backward_step: rnnBackwardStep,
  rnn_forward_reduce: rnnForwardReduce,
  rnn_forward_small: rnnForwardSmall,
  rnn_forward_subgroup: rnnForwardSubgroup,
  rnn_forward_step: rnnForwardStep,
  rnn_step_split: rnnStepSplit,
  scale_gradients: scaleGradients,
  sgd_update: sgdUpdate,
  token_scatter_add: tokenScatterAdd,
  transpose,
  window_backward_small: windowBackwardSmall,
  window_backward_step: windowBackwardStep,
};

export type KernelName = keyof typeof SOURCES;

/**
 * WGSL has no includes: a kernel names the shared functions it uses (kernels/lib/) with a line
 * `//! include NAME`, replaced here by that file, so each function has one home; so has the
 * interface (Params and bindings) that the variants of one step kernel share (the *_io files).
 */
const LIBS: Record<string, string> = {
  activations: libActivations,
  cell_backward_finish: libCellBackwardFinish,
  cell_backward_io: libCellBackwardIo,
  cell_forward_io: libCellForwardIo,
  cell_step: libCellStep,
  cell_window_gates: libCellWindowGates,
  cell_window_io: libCellWindowIo,
  finite: libFinite,
  gates: libGates,
  gate_grads: libGateGrads,
  group_reduce: libGroupReduce,
  rnn_backward_io: libRnnBackwardIo,
  rnn_forward_io: libRnnForwardIo,
  stats: libStats,
  tilenorm4: libTileNorm4,
  window_io: libWindowIo,
};

export function linkKernel(name: string, source: string): string {
  return source.replace(/^\/\/! include (\S+)[ \t]*$/gm, (_, lib: string) => {
    const text = LIBS[lib];
    if (text === undefined) throw new Error(`kernel ${name}: no kernels/lib/${lib}.wgsl to include`);
    return text;
  });
}

const reflected = new Map<KernelName, KernelInfo>();

/** The kernel's source and reflected bindings (parsed on first use). */
export function kernel(name: KernelName): KernelInfo {
  let info = reflected.get(name);
  if (!info) {
    info = reflectKernel(name, linkKernel(name, SOURCES[name]));
    reflected.set(name, info);
  }
  return info;
}

export const KERNEL_NAMES = Object.keys(SOURCES) as KernelName[];

// A SequenceModel to and from PyTorch's parameter names (nn.RNN / nn.GRU /
// nn.LSTM plus an nn.Linear named `head`): the weight layouts are the same, so
// the tensors move unchanged.
import { BpttInputError, describe } from './errors.js';
import { GATES, CELLS } from './sequence-model.js';
import type { Activation, CellKind, SequenceModel } from './types.js';
import { validateSequenceModel } from './validate-sequence.js';
import { fail } from './validate.js';

export interface TorchOptions {
  cell: CellKind;
  numLayers?: number;
  bidirectional?: boolean;
  activation?: Activation; // nn.RNN's nonlinearity ('tanh' or 'relu'); rnn only
}

/** PyTorch's name of a layer-direction's tensor: weight_ih_l0, bias_hh_l1_reverse, ... */
function torchName(kind: 'weight_ih' | 'weight_hh' | 'bias_ih' | 'bias_hh', l: number, dir: number): string {
  return `${kind}_l${l}${dir === 1 ? '_reverse' : ''}`;
}

function tensor(stateDict: Record<string, unknown>, key: string): Float32Array {
  const v = stateDict[key];
  if (!(v instanceof Float32Array)) fail(`stateDict["${key}"]`, 'a Float32Array (PyTorch parameter of that name)', v);
  return v.slice();
}

/**
 * A SequenceModel from a record of Float32Arrays named as PyTorch names them; sizes are read
 * from the lengths (h from weight_hh_l0, d from weight_ih_l0, q from head.weight). Copies the arrays.
 */
export function fromTorch(stateDict: Record<string, Float32Array>, options: TorchOptions): SequenceModel {
  if (typeof stateDict !== 'object' || stateDict === null) fail('stateDict', 'a record of Float32Arrays named as PyTorch names them', stateDict);
  if (typeof options !== 'object' || options === null) fail('options', "{ cell: 'rnn' | 'gru' | 'lstm', numLayers?, bidirectional?, activation? }", options);
  if (!CELLS.includes(options.cell)) fail('options.cell', `one of ${CELLS.map((c) => `"${c}"`).join(', ')}`, options.cell);
  const L = options.numLayers ?? 1;
  if (typeof L !== 'number' || !Number.isInteger(L) || L < 1 || L > 8) fail('options.numLayers', 'an integer in 1..8', L);
  if (options.bidirectional !== undefined && typeof options.bidirectional !== 'boolean') fail('options.bidirectional', 'a boolean', options.bidirectional);
  if (options.activation !== undefined && (options.cell !== 'rnn' || (options.activation !== 'tanh' && options.activation !== 'relu'))) {
    fail('options.activation', "'tanh' or 'relu' for an rnn cell (nn.RNN's nonlinearity), nothing for gru and lstm", options.activation);
  }
  const dirs = options.bidirectional ? 2 : 1;
  const G = GATES[options.cell];
  const Wh0 = tensor(stateDict, 'weight_hh_l0');
  const h = Math.round(Math.sqrt(Wh0.length / G));
  if (h < 1 || G * h * h !== Wh0.length) fail('stateDict["weight_hh_l0"]', `a Float32Array of length G*h*h (G = ${G} for ${options.cell})`, Wh0);
  const d = tensor(stateDict, 'weight_ih_l0').length / (G * h);
  if (!Number.isInteger(d) || d < 1) fail('stateDict["weight_ih_l0"]', `a Float32Array of length G*h*d = ${G * h}*d`, stateDict.weight_ih_l0);
  const known = new Set<string>();
  const layers: SequenceModel['layers'] = [];
  for (let l = 0; l < L; l++) {
    for (let dir = 0; dir < dirs; dir++) {
      const names = (['weight_ih', 'weight_hh', 'bias_ih', 'bias_hh'] as const).map((kind) => torchName(kind, l, dir));
      names.forEach((n) => known.add(n));
      const layer: SequenceModel['layers'][number] = { Wx: tensor(stateDict, names[0]), Wh: tensor(stateDict, names[1]) };
      if (names[2] in stateDict) layer.bx = tensor(stateDict, names[2]);
      if (names[3] in stateDict) layer.bh = tensor(stateDict, names[3]);
      layers.push(layer);
    }
  }
  const model: SequenceModel = { cell: options.cell, inputSize: d, hiddenSize: h, layers };
  if (options.numLayers !== undefined) model.numLayers = L;
  if (options.bidirectional !== undefined) model.bidirectional = options.bidirectional;
  if (options.activation !== undefined) model.activation = options.activation;
  known.add('head.weight').add('head.bias');
  if ('head.weight' in stateDict) {
    const W = tensor(stateDict, 'head.weight');
    const q = W.length / (dirs * h);
    if (!Number.isInteger(q) || q < 1) fail('stateDict["head.weight"]', `a Float32Array of length q*dirs*h = q*${dirs * h}`, W);
    model.head = { outputSize: q, W };
    if ('head.bias' in stateDict) model.head.b = tensor(stateDict, 'head.bias');
  } else if ('head.bias' in stateDict) {
    fail('stateDict["head.weight"]', 'a Float32Array beside head.bias', undefined);
  }
  for (const key of Object.keys(stateDict)) {
    if (!known.has(key)) throw new BpttInputError(`stateDict["${key}"]`, `only PyTorch names of a ${L}-layer ${dirs === 2 ? 'bidirectional ' : ''}${options.cell} and head.weight/head.bias`, describe(stateDict[key]));
  }
  validateSequenceModel(model);
  return model;
}

/** The record of PyTorch names for a SequenceModel (arrays copied): loads into nn.RNN/GRU/LSTM plus nn.Linear `head`. */
export function toTorch(model: SequenceModel): Record<string, Float32Array> {
  const { L, dirs } = validateSequenceModel(model);
  const out: Record<string, Float32Array> = {};
  for (let l = 0; l < L; l++) {
    for (let dir = 0; dir < dirs; dir++) {
      const layer = model.layers[l * dirs + dir];
      out[torchName('weight_ih', l, dir)] = layer.Wx.slice();
      out[torchName('weight_hh', l, dir)] = layer.Wh.slice();
      if (layer.bx) out[torchName('bias_ih', l, dir)] = layer.bx.slice();
      if (layer.bh) out[torchName('bias_hh', l, dir)] = layer.bh.slice();
    }
  }
  if (model.head) {
    out['head.weight'] = model.head.W.slice();
    if (model.head.b) out['head.bias'] = model.head.b.slice();
  }
  return out;
}

// What the gates do to the vanishing gradient: the same task for rnn, gru and
// lstm (one layer, token inputs from the corpus, a head over the 27 symbols),
// the loss at the last step only (loss 'none', dO nonzero at t = T), and
// log ||dL/dh_t|| against t from the library's gradNormPerStep. At PyTorch's
// initialisation all three vanish alike; a positive bias on the gate that
// keeps the state (lstm's forget gate, gru's update gate) lets the gradient
// flow back through c_t (lstm) or h_t (gru) nearly untouched, while the
// vanilla cell has no such gate.
import type { Batch, CellKind, Engine } from '../../src/index.js';
import { makeRng } from '../../src/index.js';
import { fitLine } from './exercise.js';
import { initSequenceModel } from './model.js';

export const GATE_CELLS: CellKind[] = ['rnn', 'gru', 'lstm'];

export interface GateOptions {
  hiddenSize: number;
  steps: number; // T
  gateBias: number; // added to the keep gate's bias (gru z, lstm f); nothing for rnn
  seed: number;
}

export interface GateCurve {
  cell: CellKind;
  logNorms: Float64Array; // [T]: log ||dL/dh_t||, t = 1..T (natural log)
  slope: number; // least-squares slope over t = 1..T/2, the half farthest from the loss
}

/** The shared task: the first T tokens of B streams of the corpus, and dO only at t = T (seeded, the same for every cell). */
export function gateBatch(x: Int32Array, steps: number, batchSize: number, vocab: number, seed: number): Batch {
  const rng = makeRng(seed + 7919);
  const dO = new Float32Array(steps * batchSize * vocab);
  for (let i = (steps - 1) * batchSize * vocab; i < dO.length; i++) dO[i] = rng() - 0.5;
  return { steps, batchSize, x, dO };
}

export async function gateCurves(engine: Engine, batch: Batch, vocab: number, o: GateOptions): Promise<GateCurve[]> {
  const T = batch.steps;
  const fitTo = Math.max(2, Math.floor(T / 2));
  const ts = Array.from({ length: fitTo }, (_, i) => i + 1);
  const curves: GateCurve[] = [];
  for (const cell of GATE_CELLS) {
    const model = initSequenceModel({ cell, numLayers: 1, inputSize: vocab, hiddenSize: o.hiddenSize, outputSize: vocab, seed: o.seed, gateBias: o.gateBias });
    const r = await engine.gradients(model, batch, { loss: 'none', gradNormPerStep: true });
    const logNorms = Float64Array.from(r.gradNormPerStep!, (v) => Math.log(v));
    curves.push({ cell, logNorms, slope: fitLine(ts, ts.map((t) => logNorms[t - 1])).slope });
  }
  return curves;
}

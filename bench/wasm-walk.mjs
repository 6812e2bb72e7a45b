#!/usr/bin/env node
// An RnnModel against the same model as a SequenceModel on the 'wasm' engine,
// side by side in one process: the cases of bench/node-wasm.mjs (char, dense,
// d2l), gradient calls and SGD trainer steps, interleaved (call k of each, then
// call k+1), medians and their ratio. The SequenceModel is the RnnModel's
// rnnAsSequence with biases as the public API takes them, in pairs: bx = bh of
// the RnnModel, bh = 0 (so the two compute the same function).
//
//   npm run build && nice -n 10 node bench/wasm-walk.mjs [--runs=N] [--cases=char,dense,d2l] [--threads=1]
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { WASM_CASES } from './lib/cases.mjs';
import { makeProblem } from './lib/problem.mjs';
import { summarize } from './lib/stats.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({ options: { runs: { type: 'string' }, cases: { type: 'string' }, threads: { type: 'string' } } });
const runs = Number(args.runs ?? 15);
const threads = Number(args.threads ?? 1);
const caseIds = args.cases ? args.cases.split(',') : Object.keys(WASM_CASES);
const lib = await import(join(root, 'dist/node/index.js'));

function asSequence(m) {
  return {
    cell: 'rnn',
    inputSize: m.inputSize,
    hiddenSize: m.hiddenSize,
    activation: m.activation,
    layers: [{ Wx: m.Whx, Wh: m.Whh, bx: m.bh, bh: new Float32Array(m.hiddenSize) }],
    head: { outputSize: m.outputSize, W: m.Wqh, b: m.bq },
  };
}

const engine = await lib.createEngine({ backend: 'wasm', threads });
const start = loadavg();
console.log(`wasm, ${threads} thread(s), ${runs} runs; load average at the start ${start.map((v) => v.toFixed(2)).join(' ')}`);
for (const id of caseIds) {
  const spec = { id, ...WASM_CASES[id], seed: 7 };
  const { model, batch } = makeProblem(lib, spec);
  const seq = asSequence(model);
  const options = { loss: spec.loss };
  const sgd = { optimizer: { kind: 'sgd', learningRate: 0.01 }, loss: spec.loss };
  const trainers = { rnn: engine.trainer(model, sgd), seq: engine.trainer(seq, sgd) };
  const models = { rnn: model, seq };
  const times = { rnn: { gradients: [], step: [] }, seq: { gradients: [], step: [] } };
  for (const k of ['rnn', 'seq']) {
    await engine.gradients(models[k], batch, options);
    await trainers[k].step(batch);
  }
  for (let r = 0; r < runs; r++) {
    for (const k of r % 2 ? ['seq', 'rnn'] : ['rnn', 'seq']) {
      let t0 = performance.now();
      await engine.gradients(models[k], batch, options);
      times[k].gradients.push(performance.now() - t0);
      t0 = performance.now();
      await trainers[k].step(batch);
      times[k].step.push(performance.now() - t0);
    }
  }
  for (const t of Object.values(trainers)) t.dispose();
  const row = (k, what) => summarize(times[k][what]);
  for (const what of ['gradients', 'step']) {
    const a = row('rnn', what);
    const b = row('seq', what);
    console.log(
      `${id.padEnd(6)} ${what.padEnd(9)} RnnModel ${a.median.toFixed(2)} ms (${a.min.toFixed(2)}-${a.max.toFixed(2)})` +
        `  SequenceModel ${b.median.toFixed(2)} ms (${b.min.toFixed(2)}-${b.max.toFixed(2)})  ratio RnnModel/SequenceModel ${(a.median / b.median).toFixed(3)}`,
    );
  }
}
console.log(`load average at the end ${loadavg().map((v) => v.toFixed(2)).join(' ')}`);
engine.dispose();
process.exit(0);

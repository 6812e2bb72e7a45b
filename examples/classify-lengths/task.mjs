// A many-to-one task on sequences of different lengths: each sequence is a
// random bit string of length 1..maxLength, and its class is read at its own
// last step (majority: more ones than zeros; parity: an odd number of ones).
// The batch is padded to T = maxLength and trained through batch.lengths, so
// the padding carries no state and no loss. The loss at each sequence's last
// step is written by hand: trainer.forward gives the head's outputs O, the
// cross-entropy gradient goes into dO at step lengths[b] - 1 only, and
// trainer.step takes it with loss 'none'.
import { makeRng, uniformArray } from 'webgpu-bptt';

export const CLASSES = 2;

/** B bit strings padded to T: x [T, B] token ids (0 or 1, and 0 past the end), lengths [B] uniform in 1..T, labels [B]. */
export function makeBatch(rng, T, B, task) {
  const x = new Int32Array(T * B);
  const lengths = new Int32Array(B);
  const labels = new Int32Array(B);
  for (let b = 0; b < B; b++) {
    const n = 1 + Math.floor(rng() * T);
    let ones = 0;
    for (let t = 0; t < n; t++) {
      const bit = rng() < 0.5 ? 1 : 0;
      x[t * B + b] = bit;
      ones += bit;
    }
    lengths[b] = n;
    labels[b] = task === 'parity' ? ones % 2 : ones * 2 > n ? 1 : 0;
  }
  return { batch: { steps: T, batchSize: B, x, lengths }, labels };
}

/**
 * Cross-entropy of softmax(O) at each sequence's last step, averaged over the
 * batch: the loss, how many were right, and dO [T, B, q] (zero but there).
 */
export function lastStepLoss(O, lengths, labels, T, B, q = CLASSES) {
  const dO = new Float32Array(T * B * q);
  let loss = 0;
  let correct = 0;
  for (let b = 0; b < B; b++) {
    const at = ((lengths[b] - 1) * B + b) * q;
    let m = -Infinity;
    for (let k = 0; k < q; k++) m = Math.max(m, O[at + k]);
    let z = 0;
    for (let k = 0; k < q; k++) z += Math.exp(O[at + k] - m);
    let best = 0;
    for (let k = 0; k < q; k++) {
      const p = Math.exp(O[at + k] - m) / z;
      dO[at + k] = (p - (k === labels[b] ? 1 : 0)) / B;
      if (O[at + k] > O[at + best]) best = k;
    }
    loss -= (O[at + labels[b]] - m - Math.log(z)) / B;
    if (best === labels[b]) correct++;
  }
  return { loss, correct, dO };
}

/** A one-layer classifier (PyTorch's initialisation) over the two bits, with a head of CLASSES outputs. */
export function makeModel(cell, hiddenSize, seed) {
  const G = { rnn: 1, gru: 3, lstm: 4 }[cell];
  const rng = makeRng(seed);
  const s = 1 / Math.sqrt(hiddenSize);
  return {
    cell,
    inputSize: 2,
    hiddenSize,
    layers: [{ Wx: uniformArray(rng, G * hiddenSize * 2, 1), Wh: uniformArray(rng, G * hiddenSize * hiddenSize, s), bx: uniformArray(rng, G * hiddenSize, s), bh: uniformArray(rng, G * hiddenSize, s) }],
    head: { outputSize: CLASSES, W: uniformArray(rng, CLASSES * hiddenSize, s), b: new Float32Array(CLASSES) },
  };
}

/** Accuracy on fresh batches, from the trainer's forward pass. */
export async function evaluate(trainer, rng, o, batches = 8) {
  let correct = 0;
  for (let i = 0; i < batches; i++) {
    const { batch, labels } = makeBatch(rng, o.maxLength, o.batchSize, o.task);
    const { O } = await trainer.forward(batch, { outputs: ['O'] });
    correct += lastStepLoss(O, batch.lengths, labels, o.maxLength, o.batchSize).correct;
  }
  return correct / (batches * o.batchSize);
}

export const DEFAULTS = { task: 'majority', cell: 'gru', maxLength: 64, hiddenSize: 16, batchSize: 32, steps: 400, learningRate: 0.02, seed: 1, reportEvery: 50 };

/**
 * Trains and reports: onReport({ step, loss, trainAccuracy, accuracy }) every
 * reportEvery steps (loss and trainAccuracy over those steps; accuracy on
 * held-out batches). Returns the last report.
 */
export async function train(engine, options = {}, onReport = () => {}) {
  const o = { ...DEFAULTS, ...options };
  const rng = makeRng(o.seed);
  const testRng = makeRng(o.seed + 1_000_003);
  const trainer = engine.trainer(makeModel(o.cell, o.hiddenSize, o.seed), { optimizer: { kind: 'adam', learningRate: o.learningRate }, loss: 'none', clipNorm: 1 });
  let last = null;
  let loss = 0;
  let correct = 0;
  try {
    for (let step = 1; step <= o.steps; step++) {
      const { batch, labels } = makeBatch(rng, o.maxLength, o.batchSize, o.task);
      const { O } = await trainer.forward(batch, { outputs: ['O'] });
      const r = lastStepLoss(O, batch.lengths, labels, o.maxLength, o.batchSize);
      await trainer.step({ ...batch, dO: r.dO });
      loss += r.loss;
      correct += r.correct;
      if (step % o.reportEvery === 0 || step === o.steps) {
        const n = step % o.reportEvery || o.reportEvery;
        last = { step, loss: loss / n, trainAccuracy: correct / (n * o.batchSize), accuracy: await evaluate(trainer, testRng, o) };
        onReport(last);
        loss = 0;
        correct = 0;
      }
    }
  } finally {
    trainer.dispose();
  }
  return last;
}

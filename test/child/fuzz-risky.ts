// Child process of the fuzz test: the calls that could kill a process, at
// every engine of fuzz-engines-list.ts. Arrays of every kind (shared, growable,
// resizable: Dawn's writeBuffer crashed on shared ones), engines disposed at
// random points, and devices destroyed at random points (a device loss).
// Prints the tally as JSON on its last line; the parent checks it and that
// this process ended normally.
import { ENGINES, reference } from '../fuzz-engines-list.js';
import { fuzzDisposal, fuzzGradients, mergeTally, newTally } from '../fuzz-run.js';
import { ARRAY_KINDS } from './array-kinds.js';

const { seed, shared, disposals, losses, only } = JSON.parse(process.argv[2]) as { seed: number; shared: number; disposals: number; losses: number; only: number | null };
const range = (from: number, n: number) => (only !== null ? (only >= from && only < from + n ? [only] : []) : Array.from({ length: n }, (_, k) => from + k));

const total = newTally();
const ref = await reference();
const perEngine: Record<string, { calls: number; failures: number }> = {};
for (const factory of ENGINES) {
  const tally = newTally();
  const base = await factory.create();
  await fuzzGradients(base, ref, seed, range(200_000, shared), ARRAY_KINDS, tally);
  await fuzzDisposal(factory, base, ref, seed, range(300_000, disposals), ['plain', 'shared', 'resizable'], false, tally);
  if (factory.device) await fuzzDisposal(factory, base, ref, seed, range(400_000, losses), ['plain', 'shared'], true, tally);
  base.dispose();
  perEngine[factory.name] = { calls: tally.calls, failures: tally.failures.length };
  mergeTally(total, tally);
}
console.log(JSON.stringify({ ...total, perEngine }));

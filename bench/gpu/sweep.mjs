// The reverse-sweep variants side by side (issue 13): one SequenceModel
// gradients call per engine, every engine on the same device with ALL of its
// kernel variants fixed (no tuning), the engines alternating call by call, the
// fastest call of each; every engine checked against the CPU engine first.
//   node bench/gpu/sweep.mjs          (after npm run build; or from the packed folder)
// Cases: the benchmark's L = 2 LSTM (B = 32, h = 256, tokens) with T cut to 8,
// where the persistent sweep does not fit any adapter's workgroup memory, and a
// small-batch L = 2 LSTM (B = 4, h = 64) where it fits and where a real GPU,
// whose per-dispatch cost dominates such small steps, should favour it. On a
// software adapter (SwiftShader) the figures are a CPU's.
// Writes bench/results/sweep-<adapter>.{json,md} (results/ when packed).
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const packed = existsSync(join(here, 'lib', 'index.js'));
const lib = await import(packed ? join(here, 'lib', 'index.js') : join(here, '..', '..', 'dist', 'node', 'index.js'));
const { problem, worst, timeInterleaved, seqFlops } = await import(join(here, 'common.mjs'));
const { createEngine } = lib;

const T = Number(process.argv.find((a) => a.startsWith('--T='))?.slice(4) ?? 8);
const cases = [
  { id: 'lstm-2', label: `LSTM L=2 T=${T} B=32 tokens/28 h=256 q=28`, cell: 'lstm', L: 2, T, B: 32, d: 28, h: 256, q: 28, tokens: true, loss: 'cross-entropy' },
  { id: 'lstm-2-small', label: `LSTM L=2 T=${T} B=4 tokens/28 h=64 q=28`, cell: 'lstm', L: 2, T, B: 4, d: 28, h: 64, q: 28, tokens: true, loss: 'cross-entropy' },
];
const DEFAULT = { forwardStep: 'tile4', backwardStep: 'tile4', matmul: 'tile32', wavefront: false, backwardWavefront: false }; // DEFAULT_CHOICE (src/tuning-types.ts)
const choices = [
  ['defaults', {}],
  ['backward persistent', { backwardStep: 'persistent' }],
  ['forward + backward persistent', { forwardStep: 'persistent', backwardStep: 'persistent' }],
  ['backward wavefront', { backwardWavefront: true }],
  ['forward + backward wavefront', { wavefront: true, backwardWavefront: true }],
  ['backward wavefront, lanes4', { backwardWavefront: true, backwardStep: 'lanes4' }],
].map(([name, c]) => [name, { ...DEFAULT, ...c }]);

const started = performance.now();
const owner = await createEngine({ backend: 'webgpu', tuning: 'off' });
const adapter = owner.adapter;
const software = adapter.isFallbackAdapter || adapter.architecture === 'swiftshader';
const adapterName = [adapter.vendor, adapter.architecture, adapter.device].filter(Boolean).join(' ').trim() || 'unknown';
console.log(`adapter: ${adapterName}${software ? ' [software]' : ''}; maxComputeWorkgroupStorageSize ${owner.device.limits.maxComputeWorkgroupStorageSize}`);
const runs = software ? 3 : 10;
const cpu = await createEngine({ backend: 'cpu' });
const rows = [];
for (const c of cases) {
  const p = problem(lib, c);
  const want = await cpu.gradients(p.model, p.batch, p.options);
  const engines = [];
  const names = [];
  for (const [name, fixed] of choices) {
    const e = await createEngine({ backend: 'webgpu', device: owner.device, tuning: { fixed } });
    try {
      const w = worst(await e.gradients(p.model, p.batch, p.options), want);
      if (!(w <= 1)) throw new Error(`${c.id}, ${name}: does not match the CPU engine (worst ${w} of tolerance); not timing it`);
      engines.push(e);
      names.push(name);
    } catch (err) {
      if (err.name !== 'BpttInputError') throw err;
      rows.push({ case: c.id, label: c.label, choice: name, fixed, ms: null, dispatches: null, note: `refused: ${err.message}` });
      e.dispose();
    }
  }
  const timed = await timeInterleaved(engines, p, runs);
  const base = timed[names.indexOf('defaults')].ms;
  timed.forEach((t, i) => rows.push({ case: c.id, label: c.label, choice: names[i], fixed: choices.find(([n]) => n === names[i])[1], ms: t.ms, dispatches: t.dispatches, ratio: t.ms / base, gflops: seqFlops({ ...c, G: p.G }) / (t.ms * 1e6) }));
  for (const e of engines) e.dispose();
  console.log(`${c.id}: ${timed.map((t, i) => `${names[i]} ${t.ms.toFixed(1)} ms (${t.dispatches})`).join(', ')}`);
}
const seconds = (performance.now() - started) / 1000;
const md = [
  `# Reverse-sweep variants on ${adapterName}${software ? ' (software adapter)' : ''}`,
  '',
  `${new Date().toISOString()}, ${seconds.toFixed(0)} s, \`node bench/gpu/sweep.mjs${T !== 8 ? ` --T=${T}` : ''}\`. One gradients call, fastest of ${runs} per engine, engines alternating call by call, all kernels fixed; every engine checked against the CPU engine first.`,
  '',
  '| case | variants | ms per call | over defaults | dispatches |',
  '| --- | --- | ---: | ---: | ---: |',
  ...rows.map((r) => `| ${r.label} | ${r.choice} | ${r.ms === null ? 'n/a' : r.ms.toFixed(1)} | ${r.ms === null ? r.note.replace(/\|/g, '/') : `${r.ratio.toFixed(2)}x`} | ${r.dispatches ?? ''} |`),
  '',
].join('\n');
const outDir = packed ? join(here, 'results') : join(here, '..', 'results');
mkdirSync(outDir, { recursive: true });
const slug = adapterName.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
writeFileSync(join(outDir, `sweep-${slug}.json`), JSON.stringify({ adapter: { ...adapter, name: adapterName }, software, T, runs, rows, seconds }, null, 2));
writeFileSync(join(outDir, `sweep-${slug}.md`), md);
console.log(`\n${md}\nwrote ${join(outDir, `sweep-${slug}.{json,md}`)}`);
cpu.dispose();
owner.dispose();
process.exit(0);

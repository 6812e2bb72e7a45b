// `node bench/run.mjs --quick` (issue 4): one small case of everything, every
// backend in one headless Chromium page. It must exit 0, which it only does when
// no backend errors and every result (this library's WebGPU one and each
// TF.js backend's) matches this library's CPU reference; the report it writes
// must hold every backend for every case. Needs the build (npm test runs it).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BACKENDS = ['library-webgpu', 'library-cpu', 'tfjs-webgpu', 'tfjs-wasm', 'tfjs-cpu'];

interface ModeFigures {
  samples: number[];
  median: number;
}
interface QuickReport {
  startedAt: string;
  mode: string;
  browser: { version: string };
  adapter: { vendor: string; architecture: string } | null;
  cases: {
    id: string;
    modes: string[];
    backends: Record<string, { error?: string; skipped?: string; check?: { ok: boolean; worst: number }; modes: Record<string, ModeFigures> }>;
  }[];
  gemm: { backends: Record<string, { error?: string; unavailable?: string; gflops?: number }> } | null;
  targets: { id: string; status: string }[];
  problems: string[];
  tunedVsDefault: { case: string; mode: string; ratio: number }[];
  gated: { case: string; tfjsWebgpuOverLibraryWebgpu: number | null; libraryWasmSpeedup: Record<string, number> | null; libraryWasmNote: string | null }[];
}

describe('bench --quick', () => {
  it('runs every backend on one small case of everything and matches the CPU reference', () => {
    expect(existsSync(join(root, 'dist/browser/index.js')), 'dist/browser/index.js: run `npm run build` first').toBe(true);
    const started = Date.now();
    // The WebGPU backend has landed, so --allow-missing-webgpu (which tolerates a
    // createEngine({ backend: 'webgpu' }) that fails) is not passed: it must work.
    const run = spawnSync(process.execPath, ['bench/run.mjs', '--quick'], { cwd: root, encoding: 'utf8', timeout: 170_000 });
    const output = `${run.stdout}\n${run.stderr}`;
    expect(run.status, output.slice(-4000)).toBe(0);

    const report = JSON.parse(readFileSync(join(root, 'bench/results/quick.json'), 'utf8')) as QuickReport;
    expect(Date.parse(report.startedAt)).toBeGreaterThanOrEqual(started - 1000);
    expect(report.mode).toBe('quick');
    expect(report.browser.version).toMatch(/Chrom/);
    expect(report.adapter?.vendor, 'the adapter is named').toBeTruthy();
    expect(report.cases.map((c) => c.id)).toEqual(['char', 'dense', 'sweep-T-6', 'sweep-h-20', 'sweep-B-5', 'lstm', 'gru', 'lstm-lengths', 'lstm-full']);
    for (const c of report.cases) {
      // the variable-length pair runs on the engines that take batch.lengths (TF.js has no packed sequences)
      const expected = c.id.startsWith('lstm-') ? ['library-cpu', 'library-webgpu'] : BACKENDS;
      expect(Object.keys(c.backends).filter((b) => BACKENDS.includes(b)).sort(), `${c.id}: backends`).toEqual([...expected].sort());
      for (const b of expected) {
        const r = c.backends[b];
        expect(r, `${c.id} ${b}: present`).toBeDefined();
        expect(r.error, `${c.id} ${b}: error`).toBeUndefined();
        expect(r.skipped, `${c.id} ${b}: skipped`).toBeUndefined();
        if (b !== 'library-cpu') expect(r.check?.ok, `${c.id} ${b}: matches the CPU reference (worst ${r.check?.worst})`).toBe(true);
        for (const mode of c.modes) {
          expect(r.modes[mode]?.samples.length, `${c.id} ${b} ${mode}: timed runs`).toBe(2);
          expect(r.modes[mode].median).toBeGreaterThan(0);
        }
      }
    }
    for (const b of ['tfjs-webgpu', 'tfjs-wasm', 'tfjs-cpu']) expect(report.gemm?.backends[b]?.gflops, `gemm ${b}`).toBeGreaterThan(0);
    // issue 13: the tuned engine beside the default one on every named case, checked, with the ratio reported
    for (const c of report.cases.filter((x) => !x.id.startsWith('sweep-'))) {
      expect(c.backends['library-webgpu-tuned']?.check?.ok, `${c.id} library-webgpu-tuned: matches the CPU reference`).toBe(true);
    }
    expect(report.cases.filter((c) => c.id.startsWith('sweep-')).every((c) => !c.backends['library-webgpu-tuned']), 'the tuned engine: named cases only').toBe(true);
    for (const id of ['char', 'dense', 'lstm', 'gru', 'lstm-lengths']) {
      expect(report.tunedVsDefault.some((t) => t.case === id && t.ratio > 0), `${id}: tuned/default ratio`).toBe(true);
    }
    // issue 10: the gated summary, with library-wasm timed or its engine's refusal given
    expect(report.gated.map((g) => g.case)).toEqual(['lstm', 'gru']);
    for (const g of report.gated) {
      expect(g.tfjsWebgpuOverLibraryWebgpu, g.case).toBeGreaterThan(0);
      expect(g.libraryWasmSpeedup !== null || /refuses|error/.test(g.libraryWasmNote ?? ''), `${g.case}: library-wasm timed or why not`).toBe(true);
    }
    expect(report.targets.map((t) => t.id)).toEqual(['step-vs-tfjs-webgpu', 'char-vs-gemm', 'linear-in-T', 'cpu-vs-tfjs-cpu']);
    expect(readFileSync(join(root, 'bench/results/quick.md'), 'utf8')).toContain('## Targets');
    expect(readFileSync(join(root, 'bench/results/quick.svg'), 'utf8')).toMatch(/^<svg[\s\S]*<\/svg>\n$/);
  }, 180_000);
});

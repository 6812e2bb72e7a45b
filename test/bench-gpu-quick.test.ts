// `npm run bench:gpu` packs bench/gpu into a folder that runs with node alone
// (issue 13). This packs it into a temporary folder, runs its --quick mode
// (tiny shapes, one timed call, GEMM n=64) on this machine's adapter
// (SwiftShader here) and checks what it wrote: every case checked against the
// CPU engine and timed untuned and tuned, TF.js webgpu and jax-js webgpu run
// beside it or say why not, the GEMM of each tile variant, a pack under 64 MiB.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dir = mkdtempSync(join(tmpdir(), 'bench-gpu-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface PeerRow {
  ms?: number;
  notRun?: string;
  check?: { ok: boolean; worst: number };
}
interface GpuReport {
  quick: boolean;
  adapter: { name: string };
  cuts: string[];
  cases: { id: string; untunedMs: number; tunedMs: number; untunedDispatches: number; tunedDispatches: number; worstError: { untuned: number; tuned: number }; choice: unknown; peers: Record<string, PeerRow> }[];
  gemm: { n: number; rows: Record<string, { gflops?: number; notRun?: string; maxError?: number }>; libraryBest: { gflops: number } | null };
}

describe('bench:gpu --quick, packed', () => {
  it('packs under 64 MiB, runs with node alone and reports every case, the peers and the GEMM', () => {
    expect(existsSync(join(root, 'dist/node/index.js')), 'dist/node/index.js: run `npm run build` first').toBe(true);
    const pack = spawnSync(process.execPath, ['bench/gpu/pack.mjs', `--out=${dir}`], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    expect(pack.status, `${pack.stdout}\n${pack.stderr}`).toBe(0);
    const mib = Number(/packed .*: ([\d.]+) MiB/.exec(pack.stdout)?.[1]);
    expect(mib).toBeGreaterThan(10); // dawn.node is in it
    expect(mib).toBeLessThan(64);
    // run from elsewhere, as on a GPU machine: nothing from the repo's node_modules
    const run = spawnSync(process.execPath, [join(dir, 'run.mjs'), '--quick'], { cwd: tmpdir(), encoding: 'utf8', timeout: 90_000 });
    const output = `${run.stdout}\n${run.stderr}`;
    expect(run.status, output.slice(-4000)).toBe(0);
    const files = readdirSync(join(dir, 'results'));
    const json = files.find((f) => /^gpu-quick-.*\.json$/.test(f));
    expect(json, files.join(', ')).toBeDefined();
    expect(files).toContain(json!.replace(/\.json$/, '.md'));
    const r = JSON.parse(readFileSync(join(dir, 'results', json!), 'utf8')) as GpuReport;
    expect(r.quick).toBe(true);
    expect(r.adapter.name).toBeTruthy();
    expect(r.cuts.join(' ')).toMatch(/--quick/);
    expect(r.cases.map((c) => c.id)).toEqual(['char', 'dense', 'lstm-2']);
    for (const c of r.cases) {
      expect(c.untunedMs, c.id).toBeGreaterThan(0);
      expect(c.tunedMs, c.id).toBeGreaterThan(0);
      expect(c.untunedDispatches, c.id).toBeGreaterThan(0);
      expect(c.worstError.untuned, c.id).toBeLessThanOrEqual(1);
      expect(c.worstError.tuned, c.id).toBeLessThanOrEqual(1);
      expect(c.choice, `${c.id}: the tuned choice is reported`).toBeTruthy();
      for (const peer of ['tfjs-webgpu', 'jax-webgpu']) {
        const p = c.peers[peer];
        expect(p, `${c.id} ${peer}`).toBeDefined();
        // a peer that runs was checked against the CPU engine first; one that does not says why
        if (p.ms !== undefined) expect(p.check?.ok, `${c.id} ${peer}: matches the CPU engine`).toBe(true);
        else expect(p.notRun, `${c.id} ${peer}: why not`).toMatch(/\w/);
      }
    }
    expect(r.gemm.n).toBe(64);
    expect(r.gemm.rows['library tile32']?.gflops).toBeGreaterThan(0);
    expect(r.gemm.libraryBest?.gflops).toBeGreaterThan(0);
    for (const k of ['library tile16', 'library tile64', 'tfjs-webgpu', 'jax-webgpu']) {
      const g = r.gemm.rows[k];
      expect(g, k).toBeDefined();
      expect(g.gflops ?? g.notRun, k).toBeTruthy();
      if (g.gflops) expect(g.maxError!, k).toBeLessThanOrEqual(1);
    }
  }, 150_000);
});

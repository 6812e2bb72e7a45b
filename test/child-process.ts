// Runs a TypeScript entry of test/child/ in its own Node process, for the
// cases that could kill the process that runs them (a segmentation fault in
// Dawn, a lost device): a crash there is a failed test here, with the exit
// signal, not a dead test runner. The entry is bundled with esbuild from the
// current sources (not dist/), as the package's Node build is.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { buildWasm } from '../scripts/build-wasm.mjs';

const repo = fileURLToPath(new URL('..', import.meta.url));
// Inside the repository (.tmp/ is ignored), so that the bundle finds 'webgpu' in node_modules as dist/ does.
mkdirSync(join(repo, '.tmp'), { recursive: true });
const outDir = mkdtempSync(join(repo, '.tmp', 'child-'));
const bundles = new Map<string, Promise<string>>();

function bundle(entry: string): Promise<string> {
  let out = bundles.get(entry);
  if (!out) {
    const file = join(outDir, `${entry.replace(/[^a-z0-9]+/gi, '-')}.mjs`);
    buildWasm(); // the WebAssembly kernels the sources embed (rebuilt only when stale)
    out = build({
      entryPoints: [join(repo, 'test', 'child', entry)],
      outfile: file,
      bundle: true,
      format: 'esm',
      platform: 'node',
      target: 'es2022',
      external: ['webgpu'],
      loader: { '.wgsl': 'text', '.wasm': 'binary' },
      logLevel: 'warning',
    }).then(() => file);
    bundles.set(entry, out);
  }
  return out;
}

export interface ChildRun<R> {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  result: R | null; // the JSON the child printed on its last line of stdout
}

/** Runs test/child/<entry> with `input` (JSON, as argv[2]); resolves however the child ends. */
export async function runChild<R>(entry: string, input: unknown, options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<ChildRun<R>> {
  const file = await bundle(entry);
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [file, JSON.stringify(input)],
      { cwd: repo, env: options.env ?? process.env, timeout: options.timeoutMs ?? 120_000, maxBuffer: 64 * 2 ** 20, encoding: 'utf8' },
      (error, stdout, stderr) => {
        const last = stdout.trim().split('\n').at(-1) ?? '';
        let result: R | null = null;
        try {
          result = JSON.parse(last) as R;
        } catch {
          result = null;
        }
        const e = error as (Error & { code?: number | string; signal?: string }) | null;
        resolve({ code: e ? (typeof e.code === 'number' ? e.code : null) : 0, signal: e?.signal ?? null, stdout, stderr, result });
      },
    );
  });
}

// Compiles the WebAssembly kernels (src/wasm/c/*.c) with Debian's clang and
// wasm-ld into build/wasm/, in two variants of the same source:
//   bptt-st.wasm  one thread: plain (unshared) memory, usable in any page
//   bptt-mt.wasm  several threads: shared memory and atomics (the barriers),
//                 for Node and cross-origin-isolated pages
// Both import their memory from the host, export seq_run (seq.c, every call), __heap_base and
// __stack_pointer (each thread's instance gets its own stack in the arena).
// scripts/build.mjs embeds both in the bundles; test runs build them on demand.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, statSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const srcDir = join(root, 'src/wasm/c');
const outDir = join(root, 'build/wasm');
export const WASM_OUTPUTS = { st: join(outDir, 'bptt-st.wasm'), mt: join(outDir, 'bptt-mt.wasm') };

const COMMON = [
  '--target=wasm32', '-O3', '-flto', '-fno-builtin', '-msimd128', '-mmutable-globals', '-nostdlib', '-Wall', '-Werror',
  '-Wl,--no-entry', '-Wl,--import-memory', '-Wl,--export=__heap_base', '-Wl,--export=__stack_pointer',
  '-Wl,-z,stack-size=65536', '-Wl,--initial-memory=1048576', '-Wl,--max-memory=2147483648',
];
const VARIANTS = { st: [], mt: ['-matomics', '-mbulk-memory', '-Wl,--shared-memory'] };

function clang() {
  for (const name of ['clang', 'clang-14', 'clang-15', 'clang-16']) {
    try {
      execFileSync(name, ['--version'], { stdio: 'ignore' });
      return name;
    } catch {}
  }
  throw new Error('build-wasm: clang not found; install clang and lld (bash scripts/install.sh does)');
}

/** Rebuilds when a C file is newer than an output (or an output is missing). */
export function buildWasm({ force = false } = {}) {
  const sources = readdirSync(srcDir).filter((f) => f.endsWith('.c') || f.endsWith('.h')).map((f) => join(srcDir, f));
  const newest = Math.max(...sources.map((f) => statSync(f).mtimeMs), statSync(fileURLToPath(import.meta.url)).mtimeMs);
  const stale = Object.values(WASM_OUTPUTS).some((o) => !existsSync(o) || statSync(o).mtimeMs < newest);
  if (!force && !stale) return;
  mkdirSync(outDir, { recursive: true });
  const cc = clang();
  const cFiles = sources.filter((f) => f.endsWith('.c'));
  for (const [variant, flags] of Object.entries(VARIANTS)) {
    execFileSync(cc, [...COMMON, ...flags, ...cFiles, '-o', WASM_OUTPUTS[variant]], { stdio: 'inherit' });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) buildWasm({ force: process.argv.includes('--force') });

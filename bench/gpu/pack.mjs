// Packs the GPU benchmark into one folder that runs with `node` alone on a
// linux-x64 machine with a GPU and no network (and at most 64 MiB carried):
//   bench/gpu/pack/
//     run.mjs, gemm.mjs, cases.mjs  the runner, its GEMM part and the benchmark's cases
//     common.mjs, sweep.mjs         shared helpers (FLOP count, ...); the reverse-sweep variants side by side
//     problem.mjs, compare.mjs      the seeded problems and the check against the CPU reference (bench/lib)
//     peers.mjs                     TF.js (core + webgpu backend) and jax-js with the bench's models, one
//                                   minified esbuild bundle of bench/gpu/peers.ts (about 1.5 MiB)
//     lib/index.js                  the built library (dist/node; wgsl_reflect and every kernel bundled in)
//     node_modules/webgpu/          Dawn's node bindings: index.js, package.json, dist/linux-x64/dawn.node only
//     vulkan/libvulkan.so.1         the Vulkan loader, used only where the machine has none
// About 24 MiB. Run: node bench/gpu/pack/run.mjs (npm run bench:gpu packs, then runs it).
//   node bench/gpu/pack.mjs [--out=DIR]   (default bench/gpu/pack; the test packs into a temporary folder)
import { build } from 'esbuild';
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const outArg = process.argv.slice(2).find((a) => a.startsWith('--out='));
const out = outArg ? outArg.slice('--out='.length) : join(root, 'bench', 'gpu', 'pack');
rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'lib'), { recursive: true });

const need = (p) => {
  if (!existsSync(p)) throw new Error(`pack: ${p} is missing (run npm run build, and npm ci for node_modules/webgpu)`);
  return p;
};
copyFileSync(need(join(root, 'dist', 'node', 'index.js')), join(out, 'lib', 'index.js'));
for (const f of ['run.mjs', 'gemm.mjs', 'common.mjs', 'sweep.mjs']) copyFileSync(join(root, 'bench', 'gpu', f), join(out, f));
for (const f of ['cases.mjs', 'problem.mjs', 'compare.mjs']) copyFileSync(join(root, 'bench', 'lib', f), join(out, f));
await build({
  entryPoints: [join(root, 'bench', 'gpu', 'peers.ts')],
  outfile: join(out, 'peers.mjs'),
  bundle: true,
  minify: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // TF.js's Node platform calls require() (util, ...): an ES module has none of its own
  banner: { js: "import { createRequire as __peersRequire } from 'node:module'; const require = __peersRequire(import.meta.url);" },
  logLevel: 'warning',
});

const webgpu = realpathSync(join(root, 'node_modules', 'webgpu'));
const dawnOut = join(out, 'node_modules', 'webgpu');
mkdirSync(join(dawnOut, 'dist', 'linux-x64'), { recursive: true });
for (const f of ['index.js', 'package.json', 'LICENSE.md']) if (existsSync(join(webgpu, f))) copyFileSync(join(webgpu, f), join(dawnOut, f));
cpSync(need(join(webgpu, 'dist', 'linux-x64')), join(dawnOut, 'dist', 'linux-x64'), { recursive: true });

// The Vulkan loader of this machine (Debian's libvulkan1), for a machine without one.
const loader = ['/usr/lib/x86_64-linux-gnu/libvulkan.so.1', '/usr/lib64/libvulkan.so.1', '/usr/lib/libvulkan.so.1'].find(existsSync);
if (loader) {
  mkdirSync(join(out, 'vulkan'), { recursive: true });
  copyFileSync(realpathSync(loader), join(out, 'vulkan', 'libvulkan.so.1'));
} else {
  console.warn('pack: no libvulkan.so.1 here to bring along; the GPU machine must have its own');
}
writeFileSync(join(out, 'package.json'), JSON.stringify({ type: 'module', private: true }, null, 2));

const size = (p) => (statSync(p).isDirectory() ? readdirSync(p).reduce((a, f) => a + size(join(p, f)), 0) : statSync(p).size);
const mib = size(out) / 2 ** 20;
console.log(`packed ${out}: ${mib.toFixed(1)} MiB${mib > 64 ? ' (over the 64 MiB a GPU machine receives!)' : ''}`);
if (mib > 64) process.exit(1);

// Node only: asks the system's Vulkan drivers for an adapter in a child
// process, so that what Dawn and the Vulkan loader print while they look
// (on a machine without a GPU: "Warning: Vulkan shaderUniform*ArrayDynamicIndexing
// required" for Mesa's llvmpipe, with a source path and line) goes to a pipe
// we read, not to the user's stderr. A library prints nothing on its own; what
// the probe found is said in engine.backendReason instead.
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

export interface ProbeResult {
  adapter: string | null; // "vendor architecture" of the adapter the system's drivers give, or null
  messages: string[]; // what Dawn or the loader printed, one line each (paths and stack lines left out)
}

// Runs in the child: one instance on the system's drivers, one adapter request, the answer on stdout.
const CHILD = `
const { create } = await import(process.argv[1]);
const gpu = create([]);
const a = await gpu.requestAdapter({ powerPreference: 'high-performance' });
process.stdout.write(JSON.stringify(a ? { adapter: (a.info.vendor + ' ' + a.info.architecture).trim() || 'unknown' } : { adapter: null }));
process.exit(0);
`;

/** The lines worth repeating from what the child printed: Dawn's warnings and errors, without source locations. */
function messagesOf(stderr: string): string[] {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('at ') && !l.startsWith('- While'));
  return [...new Set(lines.map((l) => l.replace(/^(Warning|Error|error):\s*/, '')))];
}

/** Probes the system's Vulkan drivers without printing anything; never throws. */
export function probeSystemDrivers(env: NodeJS.ProcessEnv): Promise<ProbeResult> {
  let url: string;
  try {
    url = pathToFileURL(createRequire(import.meta.url).resolve('webgpu')).href;
  } catch (e) {
    return Promise.resolve({ adapter: null, messages: [`the 'webgpu' package was not found (${(e as Error).message})`] });
  }
  return new Promise((resolve) => {
    execFile(process.execPath, ['--input-type=module', '-e', CHILD, url], { env, timeout: 30_000, encoding: 'utf8' }, (error, stdout, stderr) => {
      const messages = messagesOf(stderr ?? '');
      try {
        const { adapter } = JSON.parse(stdout) as { adapter: string | null };
        resolve({ adapter, messages });
      } catch {
        resolve({ adapter: null, messages: [...messages, `the probe did not answer (${error ? error.message.split('\n')[0] : 'no output'})`] });
      }
    });
  });
}

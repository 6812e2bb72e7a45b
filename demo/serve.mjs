// `npm run demo`: builds the demo and serves it on 127.0.0.1 (a secure
// context, so the page and its workers get navigator.gpu), then prints the URL.
//   node demo/serve.mjs [--port 8080]
// Without --port it tries 8080 and falls back to a free port when 8080 is taken.
import { serveStatic } from '../scripts/serve.mjs';
import { buildDemo, demoRoot } from './build.mjs';

function portArgument(argv) {
  const i = argv.findIndex((a) => a === '--port' || a.startsWith('--port='));
  if (i < 0) return null;
  const value = argv[i].includes('=') ? argv[i].split('=')[1] : argv[i + 1];
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`--port: expected an integer in [0, 65535], received ${JSON.stringify(value)}`);
  }
  return port;
}

let asked;
try {
  asked = portArgument(process.argv.slice(2));
} catch (e) {
  console.error(e.message);
  process.exit(2);
}
await buildDemo();
let server;
try {
  server = await serveStatic(demoRoot, { port: asked ?? 8080 });
} catch (e) {
  if (asked !== null || e.code !== 'EADDRINUSE') throw e;
  console.log('port 8080 is taken; using a free port');
  server = await serveStatic(demoRoot, { port: 0 });
}
console.log(`webgpu-bptt demo: ${server.url}`);
console.log('open it in a browser with WebGPU (Chrome, Edge); press Ctrl+C to stop');
const stop = async () => {
  await server.close();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

// Serves the bench page cross-origin isolated (COOP same-origin + COEP
// require-corp) so that TF.js's wasm backend may use its threaded build
// (SharedArrayBuffer needs isolation): TF.js gets its fastest CPU path. A thin
// proxy in front of scripts/serve.mjs, which serves the files.
import { createServer, request } from 'node:http';
import { serveStatic } from '../../scripts/serve.mjs';

export async function serveBench(root, { isolated = true } = {}) {
  const inner = await serveStatic(root);
  if (!isolated) return inner;
  const server = createServer((req, res) => {
    const upstream = request(new URL(req.url ?? '/', inner.url), { method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, {
        ...r.headers,
        'cross-origin-opener-policy': 'same-origin',
        'cross-origin-embedder-policy': 'require-corp',
      });
      r.pipe(res);
    });
    upstream.on('error', (e) => {
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(String(e));
    });
    req.pipe(upstream);
  });
  await new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', ok);
  });
  return {
    url: `http://127.0.0.1:${server.address().port}/`,
    close: async () => {
      server.closeAllConnections?.();
      await new Promise((ok) => server.close(() => ok()));
      await inner.close();
    },
  };
}

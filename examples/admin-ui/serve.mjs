// A tiny static server for the admin console: the page's own files at `/`, and the
// @keyward/wasm package (web build, stores) under `/keyward/`, where the page's import map
// points. Listens on 127.0.0.1 only.
//
//   node serve.mjs            → http://127.0.0.1:8420/  (PORT=... for another port)
//
// The port is fixed by default because IndexedDB belongs to an origin, port included: the
// console's data is found again after a restart only on the same port.
import { createServer } from 'node:http';
import { readFile, realpath } from 'node:fs/promises';
import { dirname, extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const PAGE_FILES = new Set(['index.html', 'app.mjs', 'engine.mjs', 'style.css']);
const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
};

/** Starts the server; `port` 0 picks a free one. Resolves to `{ server, url }`. */
export async function startServer({ port = 0 } = {}) {
  // node_modules/@keyward/wasm is a link to the package (npm's `file:` dependency): serve the
  // real folder, so that the containment check below compares real paths.
  const keyward = await realpath(join(here, 'node_modules', '@keyward', 'wasm'));
  const server = createServer(async (req, res) => {
    const file = fileFor(new URL(req.url, 'http://127.0.0.1').pathname, keyward);
    const type = file && TYPES[extname(file)];
    let body;
    try {
      body = type && (await readFile(file));
    } catch {
      body = null;
    }
    if (!body) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' }).end(body);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return { server, url: `http://127.0.0.1:${server.address().port}/` };
}

/** The file a request path names, or null: only the page's files and the package's. */
function fileFor(pathname, keyward) {
  let path;
  try {
    path = decodeURIComponent(pathname);
  } catch {
    return null;
  }
  if (path === '/') return join(here, 'index.html');
  if (path.startsWith('/keyward/')) {
    const file = normalize(join(keyward, path.slice('/keyward/'.length)));
    return file.startsWith(keyward + sep) ? file : null;
  }
  return PAGE_FILES.has(path.slice(1)) ? join(here, path.slice(1)) : null;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { url } = await startServer({ port: Number(process.env.PORT ?? 8420) });
  console.log(`Keyward admin console: ${url}  (Ctrl-C to stop)`);
}

// @keyward/wasm in Chromium (Debian's, driven by playwright-core): the browser build loads
// from a plain static server, with no bundler, and decides client-side.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join, normalize, extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = fileURLToPath(new URL('../..', import.meta.url));
const types = { '.html': 'text/html', '.mjs': 'text/javascript', '.js': 'text/javascript', '.wasm': 'application/wasm' };
const executablePath = '/usr/bin/chromium';
let server;
let browser;
let base;

before(async () => {
  server = createServer(async (req, res) => {
    const path = req.url === '/' ? '/tests/e2e/browser.html' : new URL(req.url, 'http://x').pathname;
    const file = normalize(join(root, path));
    if (!file.startsWith(root) || !existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' });
    res.end(await readFile(file));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${server.address().port}`;
  browser = await chromium.launch({
    executablePath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
    // playwright starts Chromium with a fresh, temporary profile of its own.
  });
});

after(async () => {
  await browser?.close();
  server?.close();
});

test('Chromium: one init call, then tokens are made and verified in the page', async () => {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${base}/`);
  await page.waitForFunction(() => window.result !== undefined, null, { timeout: 30_000 });
  const result = await page.evaluate(() => window.result);
  assert.equal(result.failure, undefined, result.failure);
  assert.deepEqual(errors, []);
  assert.equal(result.allowed.allowed, true);
  assert.equal(result.allowed.matched.source, 'role:viewer');
  assert.equal(result.denied.reason, 'forbidden', 'administration is not in `viewer` (R-41)');
  assert.equal(result.code, 'not_found');
});

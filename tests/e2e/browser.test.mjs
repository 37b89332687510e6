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

// @keyward/wasm/stores' IndexedDbStore: the pages of one browser profile share its databases.
async function storePage(context) {
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${base}/tests/e2e/indexeddb.html`);
  await page.waitForFunction(() => window.loaded === true, null, { timeout: 30_000 });
  return { page, errors };
}

test('Chromium IndexedDB: checkStore passes on IndexedDbStore', async () => {
  const context = await browser.newContext();
  const { page, errors } = await storePage(context);
  const ran = await page.evaluate(() => window.keyward.check());
  assert.equal(ran.length, 7, ran.join(', '));
  assert.deepEqual(errors, []);
  await context.close();
});

test('Chromium IndexedDB: keys list in UTF-8 byte order, not IndexedDB\'s UTF-16 string order', async () => {
  const context = await browser.newContext();
  const { page } = await storePage(context);
  assert.deepEqual(await page.evaluate(() => window.keyward.list('keyward-order', 'a/')), ['a/z', 'a/é', 'a/\uE000', 'a/\u{10000}']);
  await context.close();
});

test('Chromium IndexedDB: three pages incrementing one key at once lose no update', async () => {
  const context = await browser.newContext();
  const pages = await Promise.all([1, 2, 3].map(() => storePage(context)));
  const results = await Promise.all(pages.map(({ page }) => page.evaluate(() => window.keyward.increment('keyward-shared', 20))));
  const last = await pages[0].page.evaluate(() => window.keyward.increment('keyward-shared', 0));
  assert.deepEqual(last.final, { value: '60', version: 60 }, JSON.stringify(results));
  await context.close();
});

test('Chromium IndexedDB: a token provisioned in one page verifies in another, from the stored data', async () => {
  const context = await browser.newContext();
  const first = await storePage(context);
  const token = await first.page.evaluate(() => window.keyward.provision('keyward-app'));
  await first.page.close();
  const second = await storePage(context);
  const allowed = await second.page.evaluate((t) => window.keyward.verify('keyward-app', t, 'models:read'), token);
  assert.equal(allowed.allowed, true, JSON.stringify(allowed));
  assert.equal((await second.page.evaluate((t) => window.keyward.verify('keyward-app', t, 'accounts:write'), token)).reason, 'forbidden');
  assert.deepEqual([...first.errors, ...second.errors], []);
  await context.close();
});

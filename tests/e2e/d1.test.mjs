// @keyward/wasm/stores' D1Store in workerd (through Miniflare) with a real D1 binding
// (`d1Databases`, SQLite underneath, in memory): the store conformance suite, concurrent
// requests losing no update, the shared table's shape, and verify in at most two statements.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { Miniflare } from 'miniflare';

const root = fileURLToPath(new URL('../..', import.meta.url));
const mf = new Miniflare({
  modules: true,
  modulesRoot: root,
  modulesRules: [
    { type: 'ESModule', include: ['**/*.js', '**/*.mjs'] },
    { type: 'CompiledWasm', include: ['**/*.wasm'] },
  ],
  scriptPath: fileURLToPath(new URL('./d1-worker.mjs', import.meta.url)),
  d1Databases: ['DB'],
});
after(() => mf.dispose());

async function get(path, init) {
  const r = await mf.dispatchFetch(`http://localhost${path}`, init);
  const body = await r.json();
  assert.equal(body.failure, undefined, body.failure);
  return body;
}

test('workerd D1: checkStore passes on D1Store over a real D1 binding', async () => {
  const { ran } = await get('/check');
  assert.equal(ran.length, 7, ran.join(', '));
});

test('workerd D1: the table is API.md\'s, and concurrent requests lose no increment', async () => {
  await get('/reset');
  const answers = await Promise.all(Array.from({ length: 24 }, () => get('/increment')));
  assert.equal(answers.length, 24);
  assert.deepEqual(await get('/counter'), { value: '24', version: 24 });
  const db = await mf.getD1Database('DB');
  const { sql } = await db.prepare("SELECT sql FROM sqlite_master WHERE name = 'keyward_kv'").first();
  assert.match(sql, /^CREATE TABLE keyward_kv \(key TEXT PRIMARY KEY, value TEXT NOT NULL, version BIGINT NOT NULL\)$/);
});

test('workerd D1: an engine keeps its data in D1; verify costs at most two statements', async () => {
  await get('/reset');
  const now = 1_700_000_000_000;
  const { token } = await get(`/engine?now=${now}`);
  const headers = { authorization: `Bearer ${token}` };
  await get(`/verify?permission=models:read&now=${now + 1}`, { headers }); // the first use may record it
  const ok = await get(`/verify?permission=models:read&now=${now + 1}`, { headers });
  assert.equal(ok.decision.allowed, true, JSON.stringify(ok.decision));
  assert.ok(ok.statements.length <= 2, ok.statements.join('\n'));
  const no = await get(`/verify?permission=models:write&now=${now + 1}`, { headers });
  assert.equal(no.decision.reason, 'forbidden');
});

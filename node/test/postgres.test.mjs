// PostgresStore on a real PostgreSQL server (KEYWARD_TEST_PG_URL, set by
// scripts/with-postgres.sh in `make js-test`): the store conformance suite, every scenario of
// tests/conformance, the shared table's shape, and verify in at most two queries.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { PostgresStore } from '../stores.mjs';
import { checkStore } from '../testing.mjs';
import { defineConformance } from '../../js/conformance.mjs';

const url = process.env.KEYWARD_TEST_PG_URL;
if (!url) {
  throw new Error('KEYWARD_TEST_PG_URL is not set: run the tests through scripts/with-postgres.sh (make js-test does)');
}
const keyward = createRequire(import.meta.url)('../index.js');
const ROOT = 'root@acme.test';

// A database of this file's own, so that test files running at once never share a table.
const dbName = `keyward_node_${process.pid}`;
const admin = new pg.Pool({ connectionString: url, max: 1 });
let pool;
let dbUrl;

before(async () => {
  await admin.query(`DROP DATABASE IF EXISTS ${dbName}`);
  await admin.query(`CREATE DATABASE ${dbName}`);
  const u = new URL(url);
  u.pathname = `/${dbName}`;
  dbUrl = u.href;
  pool = new pg.Pool({ connectionString: dbUrl, max: 8 });
});

after(async () => {
  await pool?.end();
  await admin.query(`DROP DATABASE IF EXISTS ${dbName}`);
  await admin.end();
});

// A writer process: CAS-retry increments of one key through a pool and a store of its own.
// (Inline: any .mjs file under test/ would be run as a test.)
const WRITER = `
import pg from 'pg';
import { PostgresStore } from './stores.mjs';

const [url, times] = process.argv.slice(1);
const pool = new pg.Pool({ connectionString: url, max: 2 });
const store = new PostgresStore(pool);
let conflicts = 0;
try {
  for (let i = 0; i < Number(times); i++) {
    for (;;) {
      const current = await store.get('counter');
      const n = current ? Number(current.value) : 0;
      if ((await store.put('counter', String(n + 1), current ? current.version : null)) !== null) break;
      conflicts += 1;
    }
  }
  process.stdout.write(JSON.stringify({ conflicts }));
} finally {
  await pool.end();
}
`;

/** A PostgresStore over an empty table. */
async function emptyStore() {
  await pool.query('DROP TABLE IF EXISTS keyward_kv');
  return new PostgresStore(pool);
}

/** A pool that counts the queries sent through it. */
function counting(inner) {
  const counter = { queries: [], query: (text, values) => { counter.queries.push(text); return inner.query(text, values); } };
  return counter;
}

test('PostgresStore: checkStore passes on a real server (32 concurrent writers over 8 connections)', async () => {
  const ran = await checkStore(emptyStore, { getMany: true, writers: 32, increments: 5 });
  assert.equal(ran.length, 7);
});

test('PostgresStore: four processes incrementing one key at once lose no update', async () => {
  await emptyStore();
  const cwd = fileURLToPath(new URL('..', import.meta.url));
  const runs = await Promise.all(Array.from({ length: 4 }, () =>
    promisify(execFile)(process.execPath, ['--input-type=module', '-e', WRITER, dbUrl, '25'], { cwd })));
  const conflicts = runs.map((r) => JSON.parse(r.stdout).conflicts);
  assert.deepEqual(await new PostgresStore(pool).get('counter'), { value: '100', version: 100 }, `conflicts per process: ${conflicts}`);
});

test('PostgresStore: creates the one table of API.md, key TEXT COLLATE "C"', async () => {
  const store = await emptyStore();
  assert.equal(await store.get('x'), null);
  const { rows } = await pool.query(`SELECT column_name, data_type, collation_name, is_nullable FROM information_schema.columns
    WHERE table_name = 'keyward_kv' ORDER BY ordinal_position`);
  assert.deepEqual(rows.map((r) => [r.column_name, r.data_type, r.collation_name, r.is_nullable]), [
    ['key', 'text', 'C', 'NO'], ['value', 'text', null, 'NO'], ['version', 'bigint', null, 'NO']]);
  const pk = await pool.query(`SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
    WHERE i.indrelid = 'keyward_kv'::regclass AND i.indisprimary`);
  assert.deepEqual(pk.rows.map((r) => r.attname), ['key']);
  // Stores first used at once all try to create the table: none fails (this raced once in
  // three runs before "type already exists" was expected too).
  for (let round = 0; round < 10; round++) {
    await pool.query('DROP TABLE keyward_kv');
    const others = Array.from({ length: 6 }, () => new PostgresStore(pool));
    assert.deepEqual(await Promise.all(others.map((s, i) => s.put(`k${i}`, 'v', null))), [1, 1, 1, 1, 1, 1]);
  }
});

test('PostgresStore: BIGINT versions come back as numbers; one beyond 2^53 is an error, not a rounding', async () => {
  const store = await emptyStore();
  await store.put('k', 'v', null);
  assert.deepEqual(await store.get('k'), { value: 'v', version: 1 });
  await pool.query(`UPDATE keyward_kv SET version = 9007199254740991 WHERE key = 'k'`);
  assert.deepEqual(await store.get('k'), { value: 'v', version: 9007199254740991 });
  await pool.query(`UPDATE keyward_kv SET version = 9007199254740993 WHERE key = 'k'`);
  await assert.rejects(store.get('k'), /version 9007199254740993, not a positive integer below 2\^53/);
  await assert.rejects(store.list('', null, 10), /9007199254740993/);
  await assert.rejects(store.getMany(['k', 'j']), /9007199254740993/);
});

test('PostgresStore: each compare-and-set and each getMany is one statement; verify costs at most two queries', async () => {
  await emptyStore();
  const counter = counting(pool);
  const store = new PostgresStore(counter);
  assert.equal(await store.get('warm'), null); // the table is made once, before counting
  counter.queries.length = 0;
  await store.put('a', '1', null);
  await store.put('a', '2', 1);
  await store.put('a', '3', 1);
  await store.delete('a', 2);
  await store.getMany(['a', 'b', 'c']);
  assert.equal(counter.queries.length, 5, counter.queries.join('\n'));
  assert.match(counter.queries[0], /^INSERT .* ON CONFLICT \(key\) DO NOTHING RETURNING version$/);
  assert.match(counter.queries[1], /^UPDATE .* WHERE key = \$1 AND version = \$3 RETURNING version$/);
  assert.match(counter.queries[4], /= ANY\(/);

  let now = 1_700_000_000_000;
  const engine = new keyward.Engine({ store, clock: () => now });
  await engine.createTenant('acme', { admin: ROOT });
  const bot = await engine.createServiceAccount(ROOT, 'acme', 'bot', { role: 'viewer' });
  const { token } = await engine.createToken(ROOT, bot.principal);
  now += 1;
  assert.equal((await engine.verify(token, 'acme', 'models:read')).allowed, true);
  counter.queries.length = 0;
  const decision = await engine.verify(token, 'acme', 'models:read');
  assert.equal(decision.allowed, true);
  assert.ok(counter.queries.length <= 2, `verify sent ${counter.queries.length} queries:\n${counter.queries.join('\n')}`);
  // A token provisioned here verifies through another store on the same database (one table for every host).
  const other = new keyward.Engine({ store: new PostgresStore(pool), clock: () => now });
  assert.equal((await other.verify(token, 'acme', 'models:write')).reason, 'forbidden');
});

test('PostgresStore: list treats % and _ as characters and orders bytewise where the database collation would not', async () => {
  const store = await emptyStore();
  for (const k of ['a_b', 'axb', 'a%c', 'aZc', 'B', 'a', 'é', '\u{10000}', '\uE000']) await store.put(k, k, null);
  assert.deepEqual((await store.list('a_', null, 10)).map((e) => e.key), ['a_b']);
  assert.deepEqual((await store.list('a%', null, 10)).map((e) => e.key), ['a%c']);
  assert.deepEqual((await store.list('', null, 20)).map((e) => e.key), ['B', 'a', 'a%c', 'aZc', 'a_b', 'axb', 'é', '\uE000', '\u{10000}']);
});

// Every scenario of tests/conformance with PostgresStore as the host store.
defineConformance(keyward, '@keyward/node', { PostgresStore: emptyStore });

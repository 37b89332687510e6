// Shared by the tests: a PostgreSQL database of each test's own (so its `keyward_kv` table starts
// empty), an engine on it, the backend listening on a free port, and an HTTP client.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import pg from 'pg';
import { Engine } from '@keyward/node';
import { PostgresStore } from '@keyward/node/stores';
import { createServer, engineFromEnv } from '../server.mjs';

export const PG_URL = process.env.KEYWARD_TEST_PG_URL;
if (!PG_URL) throw new Error('KEYWARD_TEST_PG_URL is not set: run the tests through scripts/with-postgres.sh');

export const ROOT = 'root@acme.test';
/** Any token of this engine (prefix `kw`): `kw_<12 id>_<32 secret><6 check>`. */
export const TOKEN_SHAPE = /kw_[0-9A-Za-z]{12}_[0-9A-Za-z]{38}/;

/** Runs `fn` when test `t` ends, after everything registered later (a stack, unlike t.after). */
const stacks = new WeakMap();
export function defer(t, fn) {
  let stack = stacks.get(t);
  if (!stack) {
    stack = [];
    stacks.set(t, stack);
    t.after(async () => {
      while (stack.length > 0) await stack.pop()();
    });
  }
  stack.push(fn);
}

let databases = 0;
/** The URL of a new, empty database, dropped when `t` ends. */
export async function freshDatabase(t) {
  const name = `keyward_backend_${process.pid}_${++databases}`;
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  defer(t, async () => {
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await c.end();
  });
  const url = new URL(PG_URL);
  url.pathname = `/${name}`;
  return url.href;
}

/** An engine on its own pool over the database at `url`: what another process would have. */
export function engineOn(t, url) {
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  // Dropping the database at the end terminates what is still connected: not a test failure.
  pool.on('error', () => {});
  defer(t, () => pool.end());
  return new Engine({ store: new PostgresStore(pool) });
}

/**
 * The backend on a free port, configured as `node server.mjs` would be from the environment
 * `env` (besides DATABASE_URL); its log lines are kept in `logs`.
 */
export async function startBackend(t, url, env = {}) {
  const { engine, pool } = engineFromEnv({ DATABASE_URL: url, PG_POOL_MAX: '4', ...env });
  defer(t, () => pool.end());
  const logs = [];
  const server = createServer({ engine, log: (line) => logs.push(line) });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  defer(t, () => {
    server.closeAllConnections();
    return new Promise((resolve) => server.close(resolve));
  });
  return { base: `http://127.0.0.1:${server.address().port}`, engine, logs };
}

/** One HTTP request; `body` an object (sent as JSON) or a raw string. */
export async function call(base, method, path, { token, body, headers = {} } = {}) {
  const h = { ...headers };
  if (token !== undefined) h.authorization = `Bearer ${token}`;
  if (body !== undefined) h['content-type'] = 'application/json';
  const res = await fetch(base + path, { method, headers: h, body: body === undefined || typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: JSON.parse(text) };
}

/** Asserts that an answer is the error `code` with HTTP `status`. */
export function assertError(answer, status, code) {
  assert.equal(answer.status, status, answer.text);
  assert.equal(answer.json.error.code, code, answer.text);
}

/** A tenant `acme` (admin ROOT) with service accounts, and a token for each: { name: { principal, token, tokenId } }. */
export async function provision(engine, accounts, { tenant = 'acme', admin = ROOT, settings } = {}) {
  await engine.createTenant(tenant, { admin, settings });
  const out = {};
  for (const [name, { role, grants, scopes }] of Object.entries(accounts)) {
    const { principal } = await engine.createServiceAccount(admin, tenant, name, { role, grants });
    const { token, tokenId } = await engine.createToken(admin, principal, { name: 'main', scopes });
    out[name] = { principal, token, tokenId };
  }
  return out;
}

// One database, every host, through the examples as their users run them (issue 9):
//
//   1. the edge worker's provision.sh — `keyward` commands — provisions a tenant, accounts and
//      tokens in PostgreSQL;
//   2. the Node backend (examples/node-backend, `node server.mjs`) accepts a token;
//   3. the Python job (examples/python-automation, `python -m fleet rotate`) rotates it;
//   4. the backend accepts the new token, and the old one for its grace period only;
//   5. the edge worker's D1 copy of that same database (its to-d1.sh copies the rows as they
//      are) answers the same way in workerd.
//
// Needs KEYWARD_TEST_PG_URL (scripts/with-postgres.sh), KEYWARD_BIN, PYTHON (with keyward), the
// built packages and each example's npm packages (their test.sh installs them).
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

import { startWorker, wranglerConfig } from '../../examples/edge-worker/local.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const examples = join(root, 'examples');
const pg = createRequire(join(examples, 'node-backend', 'package.json'))('pg');

const pgUrl = process.env.KEYWARD_TEST_PG_URL;
const keyward = process.env.KEYWARD_BIN;
const python = process.env.PYTHON ?? 'python3';
// Long enough for a loaded 2-core machine to ask twice within it.
const GRACE_SECONDS = 6;

/** A fresh database on the test cluster, so this test shares nothing with the others. */
async function freshDatabase() {
  const name = `every_host_${process.pid}_${Date.now()}`;
  const admin = new pg.Client({ connectionString: pgUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(pgUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** `node server.mjs` of the Node backend, on a free port; resolves to its base URL. */
async function startBackend(env) {
  const child = spawn(process.execPath, ['server.mjs'], {
    cwd: join(examples, 'node-backend'),
    env: { ...process.env, ...env, PORT: '0', HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d) => { output += d; });
  const url = await new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => {
      output += d;
      const m = /listening on (http:\/\/\S+)/.exec(output);
      if (m) resolve(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`the backend exited (${code}): ${output}`)));
  });
  return { url, child, output: () => output };
}

async function get(url, token) {
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: await res.json() };
}

test('one PostgreSQL table: the keyward command provisions, Node accepts, Python rotates, the edge copy agrees', async (t) => {
  assert.ok(pgUrl, 'KEYWARD_TEST_PG_URL: run through scripts/with-postgres.sh');
  assert.ok(keyward, 'KEYWARD_BIN: the built keyward command');
  const dir = mkdtempSync(join(tmpdir(), 'keyward-every-host-'));
  const db = await freshDatabase();
  // Every host agrees on the worker's settings (wrangler.toml) and one pepper.
  const { vars } = wranglerConfig();
  const pepper = randomBytes(24).toString('base64url');
  const shared = { KEYWARD_DOMAIN: vars.DOMAIN, KEYWARD_TOKEN_PREFIX: vars.TOKEN_PREFIX, KEYWARD_PEPPER: pepper };

  // 1. The edge worker's provisioning commands, on PostgreSQL.
  const tokensFile = join(dir, 'tokens.env');
  execFileSync(join(examples, 'edge-worker', 'provision.sh'), [tokensFile], {
    env: { ...process.env, ...shared, KEYWARD_BIN: keyward, KEYWARD_DB: db },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const tokens = Object.fromEntries(
    readFileSync(tokensFile, 'utf8').trim().split('\n').map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
  const old = tokens.LAPTOP_TOKEN; // 7 days to live: the one the job will rotate

  // 2. The Node backend on the same table accepts it.
  const backend = await startBackend({ ...shared, DATABASE_URL: db });
  t.after(() => backend.child.kill('SIGTERM'));
  const model = `${backend.url}/tenants/acme/models/llama`;
  const first = await get(model, old);
  assert.equal(first.status, 200, JSON.stringify(first.body));

  // 3. The Python job rotates every token expiring within 8 days: exactly that one.
  const out = join(dir, 'rotated.jsonl');
  const job = execFileSync(
    python,
    ['-m', 'fleet', 'rotate', '--tenant', 'acme', '--within-days', '8', '--grace-seconds', String(GRACE_SECONDS), '--out', out, '--quiet'],
    {
      cwd: join(examples, 'python-automation'),
      env: { ...process.env, ...shared, KEYWARD_DB: db, KEYWARD_ACTOR: 'root@acme.test' },
      encoding: 'utf8',
    },
  );
  assert.equal(statSync(out).mode & 0o777, 0o600);
  const rotated = readFileSync(out, 'utf8').trim().split('\n').map((line) => JSON.parse(line));
  assert.equal(rotated.length, 1, job);
  assert.equal(rotated[0].name, 'laptop');
  const fresh = rotated[0].token;
  assert.ok(!job.includes(fresh) && !job.includes(old), 'the job prints no token');

  // 4. The backend: the new token at once; the old one during its grace period only.
  assert.equal((await get(model, fresh)).status, 200);
  const during = await get(model, old);
  assert.equal(during.status, 200, 'the old token works during its grace period');
  await sleep(GRACE_SECONDS * 1000 + 500);
  const after = await get(model, old);
  assert.deepEqual([after.status, after.body.error?.code], [401, 'token_expired']);
  assert.equal((await get(model, fresh)).status, 200);
  for (const token of Object.values(tokens).concat(fresh)) {
    assert.ok(!backend.output().includes(token), 'the backend logs no token');
  }

  // 5. The edge worker's D1 copy of this database: the same rows, the same answers.
  const seedSql = join(dir, 'seed.sql');
  execFileSync(join(examples, 'edge-worker', 'to-d1.sh'), [db, seedSql], { env: { ...process.env, PYTHON: python }, stdio: ['ignore', 'ignore', 'inherit'] });
  const { mf } = await startWorker({ pepper, seedSql });
  t.after(() => mf.dispose());
  const edge = async (token) => {
    const res = await mf.dispatchFetch('http://edge.test/v1/models/llama', { headers: { authorization: `Bearer ${token}` } });
    return { status: res.status, body: await res.json() };
  };
  assert.equal((await edge(fresh)).status, 200);
  const edgeOld = await edge(old);
  assert.deepEqual([edgeOld.status, edgeOld.body.error], [401, 'token_expired']);
  assert.equal((await edge(tokens.DEPLOYER_TOKEN)).status, 200);
  assert.equal((await edge('edge_not-a-token')).status, 401);
});

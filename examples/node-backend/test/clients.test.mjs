// The backend as its users run it — `node server.mjs`, configured by the environment — on a
// real PostgreSQL server, with several client processes at once, each mixing tokens and
// routes and checking every answer, while they also create accounts and race for the last
// token slots of one account. This process provisions through an engine of its own: for the
// server, another process sharing the table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { once } from 'node:events';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { ROOT, TOKEN_SHAPE, call, defer, engineOn, freshDatabase, provision } from './support.mjs';

const CLIENTS = 8;
const REQUESTS = 50; // data and read requests per client, besides its writes
const TOKEN_CAP = 10;
const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const enc = encodeURIComponent;

/** `node server.mjs` on a free port; resolves to its URL and a stop() that returns its output. */
async function startServerProcess(t, url) {
  const child = spawn(process.execPath, [here('../server.mjs')], {
    env: { PATH: process.env.PATH, DATABASE_URL: url, PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s) => (stderr += s));
  const exited = once(child, 'exit');
  defer(t, () => child.exitCode === null && child.kill('SIGKILL'));
  while (!/listening on http:\/\/\S+\n/.test(stdout)) {
    if (child.exitCode !== null) throw new Error(`the server exited: ${stderr}`);
    await new Promise((resolve) => child.stdout.once('data', resolve));
  }
  const base = /listening on (http:\/\/\S+)\n/.exec(stdout)[1];
  return {
    base,
    async stop() {
      child.kill('SIGTERM');
      const [code] = await exited;
      return { code, stdout, stderr };
    },
  };
}

/** Runs one load-client process; resolves to its report. */
async function runClient(plan) {
  const { stdout } = await promisify(execFile)(process.execPath, [here('./load-client.mjs')], {
    env: { PATH: process.env.PATH, LOAD_PLAN: JSON.stringify(plan) },
  });
  return JSON.parse(stdout);
}

test(`${CLIENTS} client processes × ${REQUESTS} requests, mixed tokens and concurrent admin writes, every answer checked`, async (t) => {
  const url = await freshDatabase(t);
  const engine = engineOn(t, url);
  const sa = await provision(engine, {
    reader: { role: 'viewer' },
    invoker: { role: 'inference-user' },
    llama: { role: 'viewer', scopes: [{ permission: 'models:read', resource: 'models/llama*' }] },
    gone: { role: 'viewer' },
    ops: { role: 'admin' },
    fleet: { role: 'viewer' },
  }, { settings: { maxTokensPerAccount: TOKEN_CAP } });
  await engine.revokeToken(ROOT, sa.gone.principal, sa.gone.tokenId);
  const narrowOps = (await engine.createToken(ROOT, sa.ops.principal, { name: 'models only', scopes: ['models:read'] })).token;
  await engine.createTenant('globex', { admin: 'root@globex.test' });

  const server = await startServerProcess(t, url);
  const P = (name) => sa[name].principal;
  // Every kind of answer, each with what it must be.
  const cases = [
    { method: 'GET', path: '/tenants/acme/models/llama-3', token: sa.reader.token, expect: { status: 200, json: { servedTo: P('reader') } } },
    { method: 'POST', path: '/tenants/acme/models/llama-3/invoke', token: sa.reader.token, body: { input: 1 }, expect: { status: 403, code: 'forbidden' } },
    { method: 'POST', path: '/tenants/acme/models/llama-3/invoke', token: sa.invoker.token, body: { input: 2 }, expect: { status: 200, json: { invokedBy: P('invoker'), input: 2 } } },
    { method: 'GET', path: '/tenants/acme/models/llama-3', token: sa.llama.token, expect: { status: 200, json: { servedTo: P('llama') } } },
    { method: 'GET', path: '/tenants/acme/models/gpt-4', token: sa.llama.token, expect: { status: 403, code: 'forbidden' } },
    { method: 'GET', path: '/tenants/globex/models/llama-3', token: sa.reader.token, expect: { status: 403, code: 'forbidden' } },
    { method: 'GET', path: '/tenants/acme/models/llama-3', token: sa.gone.token, expect: { status: 401, code: 'token_revoked' } },
    { method: 'GET', path: '/whoami', token: 'kw_000000000000_00000000000000000000000000000000000000', expect: { status: 401, code: 'invalid_credentials' } },
    { method: 'GET', path: '/tenants/acme/models/llama-3', expect: { status: 401, code: 'invalid_credentials' } },
    { method: 'GET', path: '/whoami', token: sa.ops.token, expect: { status: 200, json: { principal: P('ops') } } },
    { method: 'GET', path: `/tenants/acme/accounts/${enc(P('fleet'))}`, token: sa.ops.token, expect: { status: 200, json: { principal: P('fleet') } } },
    { method: 'GET', path: '/tenants/acme/accounts?page_size=3', token: narrowOps, expect: { status: 403, code: 'forbidden' } },
  ];
  const plans = Array.from({ length: CLIENTS }, (_, i) => {
    const requests = Array.from({ length: REQUESTS }, (_, j) => cases[(i * 5 + j) % cases.length]);
    // Writes, interleaved with the reads: three new accounts, and three tries at fleet's last token slots.
    for (let k = 0; k < 3; k++) {
      requests.splice(k * 17, 0,
        { method: 'POST', path: '/tenants/acme/accounts', token: sa.ops.token, body: { name: `load-${i}-${k}`, role: 'viewer' }, retryConflicts: true, expect: { status: 201, json: { principal: `load-${i}-${k}@acme.sa.keyward.local` } } },
        { method: 'POST', path: `/accounts/${enc(P('fleet'))}/tokens`, token: sa.ops.token, body: { name: `load-${i}-${k}` }, retryConflicts: true, whoami: P('fleet'), expect: { status: [201, 409], code: 'quota_exceeded' } });
    }
    return { base: server.base, inFlight: 4, requests };
  });

  const reports = await Promise.all(plans.map(runClient));
  for (const [i, report] of reports.entries()) {
    assert.deepEqual(report.failures, [], `client ${i}`);
    assert.equal(report.checked, REQUESTS + 6 + report.created, `client ${i}`);
  }
  // The token cap held across processes: fleet's slots were filled exactly, its first token included.
  assert.equal(reports.reduce((n, r) => n + r.created, 0), TOKEN_CAP - 1);
  const live = (await engine.listTokens(ROOT, P('fleet'))).filter((x) => x.revokedAt === null);
  assert.equal(live.length, TOKEN_CAP);

  // Every account written by the clients is there, seen through the API.
  const loaded = await call(server.base, 'GET', `/tenants/acme/accounts?page_size=1000&filter=${enc('name="load-*"')}`, { token: sa.ops.token });
  assert.equal(loaded.status, 200, loaded.text);
  const expected = plans.flatMap((_, i) => [0, 1, 2].map((k) => `load-${i}-${k}@acme.sa.keyward.local`)).sort();
  assert.deepEqual(loaded.json.accounts.map((a) => a.principal), expected);

  // A revocation from this process holds at the server's next request.
  await engine.revokeToken(ROOT, P('reader'), sa.reader.tokenId);
  const after = await runClient({ base: server.base, inFlight: 1, requests: [{ ...cases[0], expect: { status: 401, code: 'token_revoked' } }] });
  assert.deepEqual(after, { checked: 1, created: 0, conflicts: 0, failures: [] });

  // The server stops cleanly, having logged every request and no token.
  const { code, stdout, stderr } = await server.stop();
  assert.equal(code, 0, stderr);
  assert.equal(stderr, '');
  const lines = stdout.trim().split('\n');
  const conflicts = reports.reduce((n, r) => n + r.conflicts, 0);
  const sent = reports.reduce((n, r) => n + r.checked, 0) + conflicts + 2; // + the listing and the last client
  assert.equal(lines.length, 1 + sent); // + the "listening" line
  assert.doesNotMatch(stdout, TOKEN_SHAPE);
  assert.equal(lines.filter((l) => l.startsWith('POST /accounts/:principal/tokens 201 ops@acme.sa.keyward.local')).length, TOKEN_CAP - 1);
  t.diagnostic(`${sent} requests from ${CLIENTS + 1} client processes; ${conflicts} conflicts retried`);
});

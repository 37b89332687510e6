// The backend in this process, on a real PostgreSQL server (KEYWARD_TEST_PG_URL), driven over
// HTTP with fetch as its clients would. Each test has a database of its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { engineFromEnv } from '../server.mjs';
import { ROOT, TOKEN_SHAPE, assertError, call, defer, engineOn, freshDatabase, provision, startBackend } from './support.mjs';

const SA = (name, tenant = 'acme') => `${name}@${tenant}.sa.keyward.local`;
const enc = encodeURIComponent;

/** No log line holds anything shaped like a token. */
function assertNoSecretsIn(logs) {
  assert.ok(logs.length > 0, 'the backend logged nothing');
  for (const line of logs) assert.doesNotMatch(line, TOKEN_SHAPE, `a log line holds a token: ${line}`);
}

test('data routes: allowed with the grant that matched, refused with 403 and the reason', async (t) => {
  const { base, engine, logs } = await startBackend(t, await freshDatabase(t));
  const sa = await provision(engine, {
    reader: { role: 'viewer' },
    invoker: { role: 'inference-user' },
    'llama-only': { grants: [{ permission: 'models:read', resource: 'models/llama*' }] },
  });
  await engine.createTenant('globex', { admin: 'root@globex.test' });

  const read = await call(base, 'GET', '/tenants/acme/models/llama-3', { token: sa.reader.token });
  assert.equal(read.status, 200, read.text);
  assert.deepEqual(read.json, {
    tenant: 'acme', model: 'llama-3', servedTo: sa.reader.principal,
    grant: { permission: '*:read', resource: '*', source: 'role:viewer' },
  });
  assertError(await call(base, 'POST', '/tenants/acme/models/llama-3/invoke', { token: sa.reader.token, body: { input: 'hi' } }), 403, 'forbidden');

  const invoked = await call(base, 'POST', '/tenants/acme/models/llama-3/invoke', { token: sa.invoker.token, body: { input: 'hi' } });
  assert.equal(invoked.status, 200, invoked.text);
  assert.deepEqual(invoked.json, { tenant: 'acme', model: 'llama-3', invokedBy: sa.invoker.principal, input: 'hi' });

  // A grant on a resource pattern reaches that resource and nothing else.
  const llama = await call(base, 'GET', '/tenants/acme/models/llama-3', { token: sa['llama-only'].token });
  assert.equal(llama.status, 200, llama.text);
  assert.equal(llama.json.grant.source, 'direct');
  assertError(await call(base, 'GET', '/tenants/acme/models/gpt-4', { token: sa['llama-only'].token }), 403, 'forbidden');

  // Rights in one tenant do not reach another.
  assertError(await call(base, 'GET', '/tenants/globex/models/llama-3', { token: sa.reader.token }), 403, 'forbidden');
  assertNoSecretsIn(logs);
});

test('credential failures are 401 with the reason, on data and admin routes alike', async (t) => {
  const { base, engine, logs } = await startBackend(t, await freshDatabase(t));
  const sa = await provision(engine, { aa: { role: 'viewer' }, bb: { role: 'viewer' }, cc: { role: 'viewer' } });
  const routes = [['GET', '/tenants/acme/models/m'], ['GET', '/whoami']];
  async function expect401(token, code, authorization) {
    for (const [method, path] of routes) {
      const headers = authorization ? { authorization } : {};
      const answer = await call(base, method, path, { token, headers });
      assertError(answer, 401, code);
      assert.equal(answer.headers.get('www-authenticate'), token ? 'Bearer error="invalid_token"' : 'Bearer');
    }
  }

  await expect401(undefined, 'invalid_credentials');
  await expect401(undefined, 'invalid_credentials', `Basic ${Buffer.from('a:b').toString('base64')}`);
  await expect401('kw_000000000000_00000000000000000000000000000000000000', 'invalid_credentials');
  // A real token with one character of its secret changed: the same answer as an unknown one (R-12).
  const i = sa.aa.token.length - 10;
  await expect401(sa.aa.token.slice(0, i) + (sa.aa.token[i] === 'x' ? 'y' : 'x') + sa.aa.token.slice(i + 1), 'invalid_credentials');

  await engine.revokeToken(ROOT, sa.aa.principal, sa.aa.tokenId);
  await expect401(sa.aa.token, 'token_revoked');

  // Rotation with no grace ends the old token at once; the new one works.
  const rotated = await engine.rotateToken(ROOT, sa.bb.principal, sa.bb.tokenId, { graceSeconds: 0 });
  await expect401(sa.bb.token, 'token_expired');
  assert.equal((await call(base, 'GET', '/whoami', { token: rotated.token })).status, 200);

  await engine.disableAccount(ROOT, sa.cc.principal);
  await expect401(sa.cc.token, 'account_disabled');
  await engine.revokeAccount(ROOT, sa.cc.principal);
  await expect401(sa.cc.token, 'account_revoked');
  assertNoSecretsIn(logs);
});

test('admin routes act as the caller: a token scoped narrower than its account is refused (R-26)', async (t) => {
  const { base, engine, logs } = await startBackend(t, await freshDatabase(t));
  const rights = ['accounts:read', 'accounts:write', 'tokens:read', 'tokens:write'];
  const sa = await provision(engine, {
    ops: { role: 'viewer', grants: rights },
    target: { role: 'viewer' },
  });
  const ops = sa.ops.principal;
  const wide = sa.ops.token;
  const narrow = (await engine.createToken(ROOT, ops, { name: 'models only', scopes: ['models:read'] })).token;
  const readOnly = (await engine.createToken(ROOT, ops, { name: 'read accounts', scopes: ['accounts:read'] })).token;

  // The account may list accounts: its unscoped token does (the positive control)...
  const listed = await call(base, 'GET', '/tenants/acme/accounts', { token: wide });
  assert.equal(listed.status, 200, listed.text);
  assert.ok(listed.json.accounts.some((a) => a.principal === sa.target.principal));
  // ...its token scoped to models:read does not, though the account holds accounts:read.
  assertError(await call(base, 'GET', '/tenants/acme/accounts', { token: narrow }), 403, 'forbidden');
  assertError(await call(base, 'GET', `/tenants/acme/accounts/${enc(ops)}`, { token: narrow }), 403, 'forbidden');

  // A scope of accounts:read allows reading and nothing more.
  assert.equal((await call(base, 'GET', '/tenants/acme/accounts', { token: readOnly })).status, 200);
  assertError(await call(base, 'POST', '/tenants/acme/accounts', { token: readOnly, body: { name: 'by-read-only' } }), 403, 'forbidden');
  assertError(await call(base, 'POST', `/accounts/${enc(sa.target.principal)}/tokens`, { token: readOnly, body: { name: 'x' } }), 403, 'forbidden');
  assertError(await call(base, 'GET', `/accounts/${enc(sa.target.principal)}/tokens`, { token: readOnly }), 403, 'forbidden');

  // The same requests with the unscoped token succeed.
  assert.equal((await call(base, 'POST', '/tenants/acme/accounts', { token: wide, body: { name: 'by-wide' } })).status, 201);
  assert.equal((await call(base, 'POST', `/accounts/${enc(sa.target.principal)}/tokens`, { token: wide, body: { name: 'x' } })).status, 201);

  // The engine wrote each refused mutation in the audit log (reads write none), the account as the actor.
  const denied = await engine.auditLog(ROOT, 'acme', { filter: 'outcome="denied"' });
  assert.deepEqual(denied.events.map((e) => [e.action, e.actor.principal]), [['token.create', ops], ['service_account.create', ops]]);
  assertNoSecretsIn(logs);
});

test('admin routes: service accounts and tokens, a new token shown once, errors mapped to statuses', async (t) => {
  const { base, engine, logs } = await startBackend(t, await freshDatabase(t));
  const sa = await provision(engine, { ops: { role: 'admin' } });
  await provision(engine, { outsider: { role: 'viewer' } }, { tenant: 'globex', admin: 'root@globex.test' });
  const token = sa.ops.token;

  const created = await call(base, 'POST', '/tenants/acme/accounts', { token, body: { name: 'etl-bot', role: 'viewer', description: 'nightly ETL' } });
  assert.equal(created.status, 201, created.text);
  const etl = created.json.principal;
  assert.equal(etl, SA('etl-bot'));
  assert.equal(created.json.createdBy, sa.ops.principal);
  const shown = await call(base, 'GET', `/tenants/acme/accounts/${enc(etl)}`, { token });
  assert.equal(shown.json.description, 'nightly ETL');
  assert.deepEqual(shown.json.roles, ['viewer']);

  // A new token: in the creating answer only, which no cache may keep.
  const issued = await call(base, 'POST', `/accounts/${enc(etl)}/tokens`, { token, body: { name: 'ci', ttlDays: 30 } });
  assert.equal(issued.status, 201, issued.text);
  assert.equal(issued.headers.get('cache-control'), 'no-store');
  assert.match(issued.json.token, TOKEN_SHAPE);
  assert.equal(issued.json.createdBy, sa.ops.principal);
  const first = issued.json;
  const served = await call(base, 'GET', '/tenants/acme/models/m', { token: first.token });
  assert.equal(served.json.servedTo, etl);

  const listed = await call(base, 'GET', `/accounts/${enc(etl)}/tokens`, { token });
  assert.equal(listed.status, 200);
  assert.deepEqual(listed.json.tokens.map((x) => x.tokenId), [first.tokenId]);
  assert.doesNotMatch(listed.text, TOKEN_SHAPE);
  assert.ok(!listed.text.includes(first.token.slice(-38)), 'the token list holds the secret');

  // Rotation: both tokens work during the grace period; a token rotates once.
  const rotated = await call(base, 'POST', `/accounts/${enc(etl)}/tokens/${first.tokenId}/rotate`, { token, body: { graceSeconds: 3600 } });
  assert.equal(rotated.status, 201, rotated.text);
  assert.equal(rotated.headers.get('cache-control'), 'no-store');
  assert.notEqual(rotated.json.token, first.token);
  for (const t of [first.token, rotated.json.token]) assert.equal((await call(base, 'GET', '/whoami', { token: t })).json.principal, etl);
  assertError(await call(base, 'POST', `/accounts/${enc(etl)}/tokens/${first.tokenId}/rotate`, { token }), 409, 'failed_precondition');

  const revoked = await call(base, 'DELETE', `/accounts/${enc(etl)}/tokens/${rotated.json.tokenId}`, { token });
  assert.equal(revoked.status, 200, revoked.text);
  assert.equal(typeof revoked.json.revokedAt, 'number');
  assert.equal(revoked.json.token, undefined);
  assertError(await call(base, 'GET', '/whoami', { token: rotated.json.token }), 401, 'token_revoked');

  // Every other answer the engine can give, through the one table of statuses.
  assertError(await call(base, 'POST', '/tenants/acme/accounts', { token, body: { name: 'etl-bot' } }), 409, 'already_exists');
  const badName = await call(base, 'POST', '/tenants/acme/accounts', { token, body: { name: 'Bad Name' } });
  assertError(badName, 400, 'invalid_argument');
  assert.equal(badName.json.error.field, 'name');
  assertError(await call(base, 'POST', '/tenants/acme/accounts', { token, body: 'not json' }), 400, 'invalid_argument');
  const badFilter = await call(base, 'GET', `/tenants/acme/accounts?filter=${enc('status =')}`, { token });
  assertError(badFilter, 400, 'invalid_filter');
  assert.equal(badFilter.json.error.position, 8);
  assertError(await call(base, 'GET', `/accounts/${enc(SA('nobody'))}/tokens`, { token }), 404, 'not_found');
  assertError(await call(base, 'POST', `/accounts/${enc(SA('outsider', 'globex'))}/tokens`, { token, body: {} }), 403, 'not_owner');
  assertError(await call(base, 'GET', '/tenants/globex/accounts', { token }), 403, 'forbidden');
  assertError(await call(base, 'GET', '/no/such/route', { token }), 404, 'not_found');
  const wrongMethod = await call(base, 'PUT', `/accounts/${enc(etl)}/tokens`, { token });
  assertError(wrongMethod, 405, 'method_not_allowed');
  assert.equal(wrongMethod.headers.get('allow'), 'GET, POST');
  const badPage = await call(base, 'GET', '/tenants/acme/accounts?page_size=abc', { token });
  assertError(badPage, 400, 'invalid_argument');
  assert.equal(badPage.json.error.field, 'page_size');

  // Paging through the accounts of the tenant, two at a time.
  const principals = [];
  let pageToken = null;
  do {
    const page = await call(base, 'GET', `/tenants/acme/accounts?page_size=2${pageToken ? `&page_token=${enc(pageToken)}` : ''}`, { token });
    assert.equal(page.status, 200, page.text);
    assert.ok(page.json.accounts.length <= 2);
    principals.push(...page.json.accounts.map((a) => a.principal));
    pageToken = page.json.nextPageToken;
  } while (pageToken);
  assert.deepEqual(principals, [SA('etl-bot'), SA('ops'), ROOT]);
  assertNoSecretsIn(logs);
});

test('a revocation, a disable or a lost right made through another engine holds at the next request', async (t) => {
  const url = await freshDatabase(t);
  const { base, engine, logs } = await startBackend(t, url);
  const other = engineOn(t, url); // another pool and engine: another process, as far as the table knows
  const sa = await provision(other, { aa: { role: 'viewer' }, bb: { role: 'viewer' }, cc: { role: 'viewer' } });
  for (const name of ['aa', 'bb', 'cc']) assert.equal((await call(base, 'GET', '/tenants/acme/models/m', { token: sa[name].token })).status, 200);

  await other.revokeToken(ROOT, sa.aa.principal, sa.aa.tokenId);
  assertError(await call(base, 'GET', '/tenants/acme/models/m', { token: sa.aa.token }), 401, 'token_revoked');

  await other.disableAccount(ROOT, sa.bb.principal);
  assertError(await call(base, 'GET', '/tenants/acme/models/m', { token: sa.bb.token }), 401, 'account_disabled');
  await other.enableAccount(ROOT, sa.bb.principal);
  assert.equal((await call(base, 'GET', '/tenants/acme/models/m', { token: sa.bb.token })).status, 200);

  await other.setRole(ROOT, 'acme', sa.cc.principal, null);
  assertError(await call(base, 'GET', '/tenants/acme/models/m', { token: sa.cc.token }), 403, 'forbidden');
  // The backend's engine was only ever asked: it holds nothing the other engine had to evict.
  assert.equal((await engine.verify(sa.cc.token, 'acme', 'models:read')).reason, 'forbidden');
  assertNoSecretsIn(logs);
});

test('tokens sent where they do not belong are echoed by no answer and no log line', async (t) => {
  const { base, engine, logs } = await startBackend(t, await freshDatabase(t));
  const sa = await provision(engine, { ops: { role: 'admin' }, victim: { role: 'viewer' } });
  const token = sa.ops.token;
  const secret = sa.victim.token;
  const answers = [
    await call(base, 'GET', `/accounts/${enc(secret)}/tokens`, { token }),
    await call(base, 'GET', `/tenants/acme/accounts/${enc(secret)}`, { token }),
    await call(base, 'GET', `/tenants/acme/accounts?filter=${enc(secret)}`, { token }),
    await call(base, 'GET', `/tenants/acme/accounts?filter=${enc(`name="${secret}`)}`, { token }),
    await call(base, 'POST', '/tenants/acme/accounts', { token, body: { name: secret } }),
    await call(base, 'POST', '/tenants/acme/accounts', { token, body: { name: 'fine-name', description: 'x', role: secret } }),
    await call(base, 'POST', `/accounts/${enc(sa.victim.principal)}/tokens`, { token, body: { name: 'n', scopes: [secret] } }),
    await call(base, 'POST', `/accounts/${enc(sa.victim.principal)}/tokens`, { token, body: { ttlDays: secret } }),
    await call(base, 'GET', `/tenants/${enc(secret)}/models/m`, { token }),
    await call(base, 'GET', `/tenants/acme/models/${enc(secret)}`, { token: secret.slice(0, -1) }),
    await call(base, 'GET', `/${enc(secret)}`, { token }),
  ];
  for (const answer of answers) {
    assert.ok(answer.status >= 400, answer.text);
    assert.doesNotMatch(answer.text, TOKEN_SHAPE);
    assert.ok(!answer.text.includes(secret.slice(16, 40)), `an answer holds the secret: ${answer.text}`);
  }
  assertNoSecretsIn(logs);
  for (const line of logs) assert.ok(!line.includes(secret.slice(16, 40)), line);
});

test('a token the keyward command provisions is accepted, and its revocation through the command holds', async (t) => {
  const url = await freshDatabase(t);
  // Domain, prefix and pepper as every host on the table must share them, from the environment.
  const env = { KEYWARD_DOMAIN: 'bots.example', KEYWARD_TOKEN_PREFIX: 'acme', KEYWARD_PEPPER: 'not-in-the-database' };
  const { base, logs } = await startBackend(t, url, env);
  const keyward = process.env.KEYWARD_BIN ?? fileURLToPath(new URL('../../../target/debug/keyward', import.meta.url));
  const run = async (...args) => (await promisify(execFile)(keyward, ['--db', url, '--as', ROOT, '-o', 'json', ...args], { env: { ...process.env, ...env } })).stdout;

  await run('tenant', 'create', 'acme', '--admin', ROOT);
  const { principal } = JSON.parse(await run('sa', 'create', 'acme', 'deploy-bot', '--role', 'inference-user'));
  assert.equal(principal, 'deploy-bot@acme.sa.bots.example');
  const { token, token_id: tokenId } = JSON.parse(await run('token', 'create', principal, '--name', 'ci'));
  assert.match(token, /^acme_/);

  const invoked = await call(base, 'POST', '/tenants/acme/models/llama-3/invoke', { token, body: { input: 1 } });
  assert.equal(invoked.status, 200, invoked.text);
  assert.equal(invoked.json.invokedBy, principal);
  // The pepper is really used: an engine without it cannot check the token's hash.
  const { engine: unpeppered, pool } = engineFromEnv({ DATABASE_URL: url, ...env, KEYWARD_PEPPER: '' });
  defer(t, () => pool.end());
  assert.equal((await unpeppered.verify(token, 'acme', 'models:read')).reason, 'invalid_credentials');

  await run('token', 'revoke', principal, tokenId);
  assertError(await call(base, 'POST', '/tenants/acme/models/llama-3/invoke', { token, body: { input: 1 } }), 401, 'token_revoked');
  assert.equal(logs.length, 2);
  for (const line of logs) assert.ok(!line.includes(token.slice(5)), line);
});

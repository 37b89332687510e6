// The edge worker in workerd (through Miniflare), over a real D1 binding seeded by seed.sh
// (the `keyward` command on SQLite, then to-d1.sh), driven by real HTTP requests.
// An operator revokes a token through an engine of its own on the same D1 database.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32 } from 'node:zlib';
import { Engine } from '@keyward/wasm';
import { D1Store } from '@keyward/wasm/stores';
import { readEnvFile, startWorker, wranglerConfig } from '../local.mjs';

const here = fileURLToPath(new URL('..', import.meta.url));
const keywardBin = process.env.KEYWARD_BIN ?? join(here, '../../target/debug/keyward');
const { vars } = wranglerConfig();
const ROOT = 'root@acme.test';
const principal = (name) => `${name}@${vars.TENANT}.sa.${vars.DOMAIN}`;

let dir, pepper, tokens, mf, operator;
const bodies = []; // every response body the worker sent
let consoleText = ''; // everything workerd printed (the worker's console)
let consoleWaiters = [];

/** Resolves once the worker's console holds `text` (workerd prints asynchronously). */
function consoleShows(text) {
  return new Promise((resolve) => {
    consoleWaiters.push({ text, resolve });
    onConsole('');
  });
}

function onConsole(chunk) {
  consoleText += chunk;
  consoleWaiters = consoleWaiters.filter(({ text, resolve }) => !(consoleText.includes(text) && (resolve(), true)));
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'keyward-edge-'));
  pepper = randomBytes(32).toString('base64url');
  execFileSync(join(here, 'seed.sh'), [dir], { env: { ...process.env, PEPPER: pepper, KEYWARD_BIN: keywardBin }, stdio: ['ignore', 'ignore', 'inherit'] });
  tokens = await readEnvFile(join(dir, 'tokens.env'));
  let db;
  ({ mf, db } = await startWorker({
    pepper,
    seedSql: join(dir, 'seed.sql'),
    handleRuntimeStdio(stdout, stderr) {
      for (const stream of [stdout, stderr]) stream.setEncoding('utf8').on('data', onConsole);
    },
  }));
  // The operator: an admin process with an engine of its own on the worker's D1 database.
  operator = new Engine({ store: new D1Store(db), domain: vars.DOMAIN, tokenPrefix: vars.TOKEN_PREFIX, pepper });
});

after(async () => {
  await mf?.dispose();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Sends a request; `auth` is a name in tokens.env, a whole Authorization header, or nothing. */
async function call(method, path, auth) {
  const authorization = auth === undefined ? undefined : tokens[auth] ? `Bearer ${tokens[auth]}` : auth;
  const response = await mf.dispatchFetch(`http://edge.test${path}`, { method, headers: authorization ? { authorization } : {} });
  const text = await response.text();
  bodies.push(text);
  assert.match(response.headers.get('content-type'), /^application\/json/);
  return { status: response.status, headers: response.headers, body: JSON.parse(text) };
}

test('seed.sh: tokens in a 0600 file; seed.sql holds the data but no token secret', async () => {
  assert.equal((await stat(join(dir, 'tokens.env'))).mode & 0o777, 0o600);
  assert.deepEqual(Object.keys(tokens).sort(), ['DASHBOARD_TOKEN', 'DEPLOYER_TOKEN', 'INFERENCE_TOKEN', 'JANITOR_TOKEN', 'LAPTOP_TOKEN']);
  const sql = await readFile(join(dir, 'seed.sql'), 'utf8');
  assert.match(sql, new RegExp(`'a/${principal('janitor')}'`));
  for (const token of Object.values(tokens)) {
    assert.match(token, new RegExp(`^${vars.TOKEN_PREFIX}_[0-9A-Za-z]{12}_[0-9A-Za-z]{38}$`));
    assert.ok(!sql.includes(secretOf(token)), 'seed.sql holds a token secret');
  }
});

test('200: an allowed request is answered with the decision', async () => {
  const { status, body } = await call('GET', '/v1/models/llama-3', 'INFERENCE_TOKEN');
  assert.equal(status, 200);
  assert.deepEqual(body, {
    allowed: true,
    reason: 'allowed',
    principal: principal('inference-bot'),
    matched: { permission: 'models:read', resource: '*', source: 'role:inference-user' },
    tenant: 'acme',
    permission: 'models:read',
    resource: 'models/llama-3',
  });
});

test('403: a denied request says why, and what it needed', async () => {
  const { status, body } = await call('PUT', '/v1/models/llama-3', 'INFERENCE_TOKEN');
  assert.equal(status, 403);
  assert.deepEqual(body, {
    allowed: false,
    reason: 'forbidden',
    principal: principal('inference-bot'),
    matched: null,
    tenant: 'acme',
    permission: 'models:write',
    resource: 'models/llama-3',
  });
});

test('the route and the method choose the permission and the resource', async () => {
  const cases = [
    // method, path, token, status, permission, resource, source of the matching grant
    ['GET', '/v1/models', 'INFERENCE_TOKEN', 200, 'models:read', '*', 'role:inference-user'],
    ['POST', '/v1/models/llama-3/infer', 'INFERENCE_TOKEN', 200, 'models:execute', 'models/llama-3', 'role:inference-user'],
    ['GET', '/v1/deployments/eu-west', 'INFERENCE_TOKEN', 200, 'deployments:read', 'deployments/eu-west', 'role:inference-user'],
    ['GET', '/v1/models/llama-3', 'DASHBOARD_TOKEN', 200, 'models:read', 'models/llama-3', 'role:inference-user'],
    ['POST', '/v1/models/llama-3/infer', 'DASHBOARD_TOKEN', 403, 'models:execute', 'models/llama-3'], // scoped to models:read
    ['PUT', '/v1/models/llama-3', 'DEPLOYER_TOKEN', 200, 'models:write', 'models/llama-3', 'role:contributor'],
    ['DELETE', '/v1/models/llama-3', 'DEPLOYER_TOKEN', 403, 'models:delete', 'models/llama-3'],
    ['DELETE', '/v1/models/scratch-42', 'JANITOR_TOKEN', 200, 'models:delete', 'models/scratch-42', 'direct'],
    ['DELETE', '/v1/models/llama-3', 'JANITOR_TOKEN', 403, 'models:delete', 'models/llama-3'],
    ['GET', '/v1/models/scratch-42', 'JANITOR_TOKEN', 403, 'models:read', 'models/scratch-42'],
    ['GET', '/v1/deployments/eu-west', 'JANITOR_TOKEN', 403, 'deployments:read', 'deployments/eu-west'],
  ];
  for (const [method, path, token, status, permission, resource, source] of cases) {
    const what = `${method} ${path} with ${token}`;
    const answer = await call(method, path, token);
    assert.equal(answer.status, status, what);
    assert.equal(answer.body.allowed, status === 200, what);
    assert.equal(answer.body.permission, permission, what);
    assert.equal(answer.body.resource, resource, what);
    assert.equal(answer.body.reason, status === 200 ? 'allowed' : 'forbidden', what);
    assert.equal(answer.body.matched?.source, source, what);
  }
});

/** The secret part of a token (R-20: `<prefix>_<id>_<secret><check>`). */
const secretOf = (token) => token.split('_')[2].slice(0, 32);

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** A well-formed token with a correct checksum that no account holds. */
function unknownToken() {
  const random = (n) => Array.from(randomBytes(n), (b) => BASE62[b % 62]).join('');
  const body = `${vars.TOKEN_PREFIX}_${random(12)}_${random(32)}`;
  let check = '';
  for (let n = crc32(body); n > 0; n = Math.floor(n / 62)) check = BASE62[n % 62] + check;
  return body + check.padStart(6, '0');
}

test('401: each credential failure is refused with its reason as JSON', async () => {
  const real = tokens.INFERENCE_TOKEN;
  const lastChar = real.at(-1) === '0' ? '1' : '0';
  const cases = [
    ['no Authorization header', undefined, 'missing_token'],
    ['another scheme', `Basic ${Buffer.from('inference-bot:secret').toString('base64')}`, 'missing_token'],
    ['Bearer with no token', 'Bearer ', 'missing_token'],
    ['malformed token', 'Bearer not-a-keyward-token', 'invalid_credentials'],
    ['another prefix', `Bearer kw_${real.slice(vars.TOKEN_PREFIX.length + 1)}`, 'invalid_credentials'],
    ['bad checksum', `Bearer ${real.slice(0, -1)}${lastChar}`, 'invalid_credentials'],
    ['unknown token id', `Bearer ${unknownToken()}`, 'invalid_credentials'],
  ];
  for (const [what, authorization, error] of cases) {
    const answer = await call('GET', '/v1/models/llama-3', authorization);
    assert.equal(answer.status, 401, what);
    assert.equal(answer.body.error, error, what);
    assert.equal(typeof answer.body.reason, 'string', what);
    assert.match(answer.headers.get('www-authenticate'), /^Bearer/, what);
  }
  // The scheme is case-insensitive (RFC 7235): the same token still works.
  assert.equal((await call('GET', '/v1/models/llama-3', `bearer ${real}`)).status, 200);
});

test('404 for an unknown route, 405 for a method the route does not take, 400 for a bad resource', async () => {
  const missing = await call('GET', '/v2/models', 'INFERENCE_TOKEN');
  assert.equal(missing.status, 404);
  assert.equal(missing.body.error, 'not_found');
  const wrong = await call('POST', '/v1/models/llama-3', 'INFERENCE_TOKEN');
  assert.equal(wrong.status, 405);
  assert.equal(wrong.body.error, 'method_not_allowed');
  assert.equal(wrong.headers.get('allow'), 'GET, PUT, DELETE');
  // A resource Keyward refuses (over 256 characters, SPEC R-48) is the caller's mistake.
  const long = await call('GET', `/v1/models/${'x'.repeat(300)}`, 'INFERENCE_TOKEN');
  assert.equal(long.status, 400);
  assert.equal(long.body.error, 'invalid_argument');
});

test('200 concurrent requests with several tokens are all answered correctly', async () => {
  const kinds = [
    { method: 'GET', path: '/v1/models/llama-3', token: 'INFERENCE_TOKEN', status: 200, who: 'inference-bot' },
    { method: 'POST', path: '/v1/models/llama-3/infer', token: 'INFERENCE_TOKEN', status: 200, who: 'inference-bot' },
    { method: 'PUT', path: '/v1/models/llama-3', token: 'DEPLOYER_TOKEN', status: 200, who: 'ci-deployer' },
    { method: 'DELETE', path: '/v1/models/llama-3', token: 'DEPLOYER_TOKEN', status: 403, who: 'ci-deployer' },
    { method: 'POST', path: '/v1/models/llama-3/infer', token: 'DASHBOARD_TOKEN', status: 403, who: 'inference-bot' },
    { method: 'DELETE', path: '/v1/models/scratch-1', token: 'JANITOR_TOKEN', status: 200, who: 'janitor' },
    { method: 'GET', path: '/v1/models/llama-3', token: `Bearer ${unknownToken()}`, status: 401, who: null },
    { method: 'GET', path: '/v1/models/llama-3', token: undefined, status: 401, who: null },
  ];
  const sent = Array.from({ length: 200 }, (_, i) => kinds[i % kinds.length]);
  const answers = await Promise.all(sent.map((kind) => call(kind.method, kind.path, kind.token)));

  const counts = {};
  answers.forEach((answer, i) => {
    const kind = sent[i];
    counts[answer.status] = (counts[answer.status] ?? 0) + 1;
    assert.equal(answer.status, kind.status, `${kind.method} ${kind.path} with ${kind.token}: ${JSON.stringify(answer.body)}`);
    if (kind.who) assert.equal(answer.body.principal, principal(kind.who));
  });
  assert.deepEqual(counts, { 200: 100, 401: 50, 403: 50 });

  // The worker recorded the fleet token's use in D1: its writes land, under concurrency.
  const fleet = (await operator.listTokens(ROOT, principal('inference-bot'))).find((t) => t.name === 'fleet');
  assert.equal(typeof fleet.lastUsedAt, 'number');
});

test('a token revoked by an operator between two requests is refused on the very next one', async () => {
  assert.equal((await call('GET', '/v1/models/llama-3', 'LAPTOP_TOKEN')).status, 200);

  // The operator finds the token by name (no secret needed) and revokes it through its engine.
  const laptop = (await operator.listTokens(ROOT, principal('inference-bot'))).find((t) => t.name === 'laptop');
  await operator.revokeToken(ROOT, principal('inference-bot'), laptop.tokenId);

  const refused = await call('GET', '/v1/models/llama-3', 'LAPTOP_TOKEN');
  assert.equal(refused.status, 401);
  assert.deepEqual(refused.body, { error: 'token_revoked', reason: 'the token has been revoked' });
  assert.match(refused.headers.get('www-authenticate'), /error="invalid_token"/);
  // The account's other tokens are untouched.
  assert.equal((await call('GET', '/v1/models/llama-3', 'INFERENCE_TOKEN')).status, 200);
});

test('no response body and no line of the worker\'s console holds a token or its secret', async () => {
  // The worker logs requests in the order it answers them: once the last one shows, all have.
  await call('GET', '/v1/deployments/last-request', 'INFERENCE_TOKEN');
  await consoleShows('/v1/deployments/last-request');
  // The console is the worker's access log: one line per request, with the principal.
  const accessLines = consoleText.split('\n').filter((line) => line.startsWith('{"method":'));
  assert.equal(accessLines.length, bodies.length);
  assert.ok(consoleText.includes(`"principal":"${principal('ci-deployer')}"`));
  assert.ok(bodies.length > 200); // the 200 concurrent ones included
  for (const [name, token] of Object.entries(tokens)) {
    for (const text of [...bodies, consoleText]) {
      assert.ok(!text.includes(secretOf(token)), `${name}'s secret was sent or logged`);
    }
  }
});

test('MAX_STALENESS_MS (R-16): another engine\'s revocation is honoured once the window ends, not before', async () => {
  // A second deployment of the worker, with a 3 s window, on its own copy of the seeded D1.
  const windowMs = 3000;
  const seeded = await startWorker({ pepper, seedSql: join(dir, 'seed.sql'), vars: { MAX_STALENESS_MS: String(windowMs) } });
  try {
    const admin = new Engine({ store: new D1Store(seeded.db), domain: vars.DOMAIN, tokenPrefix: vars.TOKEN_PREFIX, pepper });
    const ask = async () => {
      const response = await seeded.mf.dispatchFetch('http://edge.test/v1/models/llama-3', { headers: { authorization: `Bearer ${tokens.DEPLOYER_TOKEN}` } });
      return { status: response.status, body: await response.json() };
    };
    const readAt = Date.now();
    assert.equal((await ask()).status, 200);
    const deployer = (await admin.listTokens(ROOT, principal('ci-deployer'))).find((t) => t.name === 'github-actions');
    await admin.revokeToken(ROOT, principal('ci-deployer'), deployer.tokenId);
    // Within the window the isolate answers from what it read, without asking D1...
    const stale = await ask();
    assert.ok(Date.now() - readAt < windowMs, 'the second request was sent within the window');
    assert.equal(stale.status, 200, 'within the window the revocation made elsewhere is not yet seen');
    // ...and once the window has passed it reads again and refuses.
    await new Promise((resolve) => setTimeout(resolve, windowMs + 300 - (Date.now() - readAt)));
    const refused = await ask();
    assert.deepEqual([refused.status, refused.body.error], [401, 'token_revoked']);
  } finally {
    await seeded.mf.dispose();
  }
});

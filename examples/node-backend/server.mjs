// An HTTP backend whose callers are service accounts: every request carries a Keyward token
// (`Authorization: Bearer kw_...`), every route names what the caller must hold, and the admin
// routes act *as the caller*, so that a token's scopes limit what it can administer.
// Keyward's state lives in PostgreSQL (the `keyward_kv` table every host shares), so the
// `keyward` command can provision tenants and tokens, a Python job can rotate them, and this
// server sees each change on its next request.
//
//   DATABASE_URL=postgresql://app@db/keyward PORT=8080 node server.mjs
import http from 'node:http';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { Engine } from '@keyward/node';
import { PostgresStore } from '@keyward/node/stores';

/** The HTTP status of each Keyward error code (SPEC §12): the one place they are chosen. */
export const STATUS = {
  invalid_argument: 400,
  invalid_filter: 400,
  weak_password: 400,
  // The credential failures (SPEC §3): the caller must present another token.
  invalid_credentials: 401,
  token_expired: 401,
  token_revoked: 401,
  account_disabled: 401,
  account_revoked: 401,
  channel_not_allowed: 401,
  // The caller is known but may not do this.
  forbidden: 403,
  not_owner: 403,
  not_found: 404,
  // Refused by the target's state.
  already_exists: 409,
  failed_precondition: 409,
  quota_exceeded: 409,
  conflict: 409,
  store_error: 503,
  internal: 500,
};

/** An error answered as `{ error: { code, message, ... } }` with the status of its code. */
class HttpError extends Error {
  constructor(status, code, message, extra = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.extra = extra;
  }
}

// The routes and what each caller must hold.
//
// Data routes name a permission and a resource: the middleware asks `verify` for that decision
// before the handler runs (one engine call; a bad credential is a decision too, never a throw).
//
// Routes marked `identity` get the caller's identity from `authenticate`. The admin routes
// among them are authorised by the engine itself: the handler passes that *identity* — not the
// bare principal — as the actor. The engine then intersects the account's rights with the
// token's scopes and re-reads the token (a token revoked meanwhile acts for nobody). Checking
// the permission here as well would only repeat that work. The comment on each says what the
// engine requires (API.md): `accounts:*` in the tenant of the path, `tokens:*` in the
// account's owner tenant.
const ROUTES = [
  { method: 'GET', path: '/whoami', identity: true, handler: whoami },
  { method: 'GET', path: '/tenants/:tenant/models/:model', permission: 'models:read', resource: (p) => `models/${p.model}`, handler: readModel },
  { method: 'POST', path: '/tenants/:tenant/models/:model/invoke', permission: 'models:execute', resource: (p) => `models/${p.model}`, handler: invokeModel },
  { method: 'GET', path: '/tenants/:tenant/accounts', identity: true, handler: listAccounts }, // accounts:read
  { method: 'POST', path: '/tenants/:tenant/accounts', identity: true, handler: createServiceAccount }, // accounts:write
  { method: 'GET', path: '/tenants/:tenant/accounts/:principal', identity: true, handler: getAccount }, // accounts:read
  { method: 'GET', path: '/accounts/:principal/tokens', identity: true, handler: listTokens }, // tokens:read
  { method: 'POST', path: '/accounts/:principal/tokens', identity: true, handler: createToken }, // tokens:write
  { method: 'POST', path: '/accounts/:principal/tokens/:tokenId/rotate', identity: true, handler: rotateToken }, // tokens:write
  { method: 'DELETE', path: '/accounts/:principal/tokens/:tokenId', identity: true, handler: revokeToken }, // tokens:write
].map((route) => ({ ...route, segments: route.path.split('/').slice(1) }));

// ---- handlers: ({ engine, identity | decision, params, query, body }) -> [status, json] ----

function whoami({ identity }) {
  return [200, identity];
}

// Stand-ins for the application's own data: what matters is who reached them and why.
function readModel({ params, decision }) {
  return [200, { tenant: params.tenant, model: params.model, servedTo: decision.principal, grant: decision.matched }];
}

function invokeModel({ params, decision, body }) {
  return [200, { tenant: params.tenant, model: params.model, invokedBy: decision.principal, input: body.input ?? null }];
}

async function listAccounts({ engine, identity, params, query }) {
  const raw = query.get('page_size');
  if (raw !== null && !/^[0-9]{1,9}$/.test(raw)) {
    throw new HttpError(400, 'invalid_argument', 'page_size must be a whole number', { field: 'page_size' });
  }
  const pageSize = raw === null ? undefined : Number(raw);
  return [200, await engine.listAccounts(identity, params.tenant, { filter: query.get('filter'), pageSize, pageToken: query.get('page_token') })];
}

async function createServiceAccount({ engine, identity, params, body }) {
  const { name, description, role, grants } = body;
  return [201, await engine.createServiceAccount(identity, params.tenant, name, { description, role, grants })];
}

async function getAccount({ engine, identity, params }) {
  return [200, await engine.getAccount(identity, params.tenant, params.principal)];
}

async function listTokens({ engine, identity, params }) {
  return [200, { tokens: await engine.listTokens(identity, params.principal) }];
}

// The two answers that carry a new token: the only time its secret is ever shown.
async function createToken({ engine, identity, params, body }) {
  const { name, ttlDays, expiresAt, neverExpires, scopes } = body;
  return [201, await engine.createToken(identity, params.principal, { name, ttlDays, expiresAt, neverExpires, scopes })];
}

async function rotateToken({ engine, identity, params, body }) {
  return [201, await engine.rotateToken(identity, params.principal, params.tokenId, { graceSeconds: body.graceSeconds })];
}

async function revokeToken({ engine, identity, params }) {
  return [200, await engine.revokeToken(identity, params.principal, params.tokenId)];
}

// ---- the middleware ----

/** The route for a method and path, with its decoded parameters; 404 or 405 otherwise. */
function match(method, pathname) {
  const parts = pathname.split('/').slice(1);
  const allowed = [];
  for (const route of ROUTES) {
    if (route.segments.length !== parts.length) continue;
    const params = {};
    const same = route.segments.every((seg, i) => {
      if (!seg.startsWith(':')) return seg === parts[i];
      try {
        params[seg.slice(1)] = decodeURIComponent(parts[i]);
      } catch {
        return false;
      }
      return params[seg.slice(1)] !== '';
    });
    if (!same) continue;
    if (route.method === method) return { route, params };
    allowed.push(route.method);
  }
  if (allowed.length > 0) throw new HttpError(405, 'method_not_allowed', `method ${method} not allowed here`, { allow: allowed });
  throw new HttpError(404, 'not_found', 'no such route');
}

/** The bearer token of a request (RFC 6750), or a 401. */
function bearer(req) {
  const m = /^Bearer +(\S+) *$/i.exec(req.headers.authorization ?? '');
  if (!m) throw new HttpError(401, 'invalid_credentials', 'a bearer token is required');
  return m[1];
}

const MAX_BODY = 64 * 1024;

/** The JSON object a request carries ({} when it carries nothing). */
async function readBody(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_BODY) throw new HttpError(413, 'invalid_argument', `the body exceeds ${MAX_BODY} bytes`, { field: 'body' });
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    throw new HttpError(400, 'invalid_argument', 'the body is not JSON', { field: 'body' });
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new HttpError(400, 'invalid_argument', 'the body must be a JSON object', { field: 'body' });
  }
  return body;
}

/** A Keyward error (or anything else thrown) as an HttpError. */
function asHttpError(e) {
  if (e instanceof HttpError) return e;
  if (e && typeof e.code === 'string' && Object.hasOwn(STATUS, e.code)) {
    const extra = {};
    for (const k of ['field', 'position', 'rules']) if (e[k] !== undefined) extra[k] = e[k];
    // The engine's messages never hold a secret; the store's may describe the database,
    // which is the operator's business, not the caller's.
    const message = STATUS[e.code] >= 500 ? 'the service failed; see its log' : e.message;
    return Object.assign(new HttpError(STATUS[e.code], e.code, message, extra), { cause: e });
  }
  return Object.assign(new HttpError(500, 'internal', 'the service failed; see its log'), { cause: e });
}

function send(res, status, json, headers = {}) {
  const text = JSON.stringify(json);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/**
 * The request handler: routes, authenticates, authorises, runs the handler, answers JSON.
 * `log` receives one line per request — the route's pattern (never the raw path, which is the
 * caller's text), the status and the caller's principal — and one per server failure. Secrets
 * reach neither the log nor any answer, except a new token in the answer that creates it.
 */
export function createApp({ engine, log = (line) => console.log(line) }) {
  if (!engine) throw new TypeError('createApp needs a Keyward engine');
  return async (req, res) => {
    let pattern = '(no route)';
    let principal = null;
    try {
      const url = new URL(req.url, 'http://backend');
      const { route, params } = match(req.method, url.pathname);
      pattern = route.path;
      const token = bearer(req);
      const ctx = { engine, params, query: url.searchParams, body: {} };
      if (route.identity) {
        ctx.identity = await engine.authenticate(token);
        principal = ctx.identity.principal;
      } else {
        ctx.decision = await engine.verify(token, params.tenant, route.permission, route.resource(params));
        principal = ctx.decision.principal;
        if (!ctx.decision.allowed) {
          const code = ctx.decision.reason;
          // The message names the permission, not the resource: that is the caller's text.
          throw new HttpError(STATUS[code] ?? 403, code, `${route.permission} refused: ${code}`);
        }
      }
      if (req.method === 'POST') ctx.body = await readBody(req);
      const [status, json] = await route.handler(ctx);
      // A new token must not sit in a cache on its way to its owner.
      send(res, status, json, 'token' in json ? { 'cache-control': 'no-store' } : {});
      log(`${req.method} ${pattern} ${status} ${principal ?? '-'}`);
    } catch (thrown) {
      const e = asHttpError(thrown);
      const headers = {};
      if (e.status === 401) headers['www-authenticate'] = /^Bearer /i.test(req.headers.authorization ?? '') ? 'Bearer error="invalid_token"' : 'Bearer';
      if (e.status === 405) headers.allow = e.extra.allow.join(', ');
      const { allow, ...extra } = e.extra;
      send(res, e.status, { error: { code: e.code, message: e.message, ...extra } }, headers);
      log(`${req.method} ${pattern} ${e.status} ${principal ?? '-'} ${e.code}`);
      if (e.status >= 500) log(`error: ${e.cause?.code ?? 'internal'}: ${e.cause?.message ?? e.cause}`);
    }
  };
}

/** An http.Server around createApp (call `listen` yourself). */
export function createServer(options) {
  return http.createServer(createApp(options));
}

/**
 * The engine this server runs, from the environment (the `keyward` command reads the same
 * KEYWARD_* variables): DATABASE_URL (else pg's own PGHOST, PGUSER, ...), KEYWARD_DOMAIN,
 * KEYWARD_TOKEN_PREFIX and KEYWARD_PEPPER — every host sharing the table must agree on them.
 */
export function engineFromEnv(env = process.env) {
  const pool = new pg.Pool({ connectionString: env.DATABASE_URL || undefined, max: Number(env.PG_POOL_MAX || 10) });
  // An idle connection that breaks (a database restart, a terminated backend) is dropped by the
  // pool; without a listener, its error event would end the process.
  pool.on('error', (e) => console.error(`postgres: ${e.message}`));
  const engine = new Engine({
    store: new PostgresStore(pool),
    domain: env.KEYWARD_DOMAIN || undefined,
    tokenPrefix: env.KEYWARD_TOKEN_PREFIX || undefined,
    pepper: env.KEYWARD_PEPPER || undefined,
  });
  return { engine, pool };
}

function main() {
  const { engine, pool } = engineFromEnv();
  const server = createServer({ engine });
  const port = Number(process.env.PORT ?? 8080);
  const host = process.env.HOST ?? '127.0.0.1';
  server.listen(port, host, () => {
    const { address, port: bound } = server.address();
    console.log(`keyward backend listening on http://${address}:${bound}`);
  });
  const stop = () => {
    server.close(() => pool.end());
    server.closeIdleConnections();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main();
}

// An edge worker guarding an API with Keyward: every request must carry
// `Authorization: Bearer <token>`; the route and method say which permission it needs on which
// resource; Keyward decides, from the tenant's data in a D1 database.
//
//   200 {allowed: true, principal, tenant, permission, resource, reason, matched}
//   401 {error, reason}      no token, or a token that does not verify (revoked, expired, ...)
//   403 {allowed: false, reason, principal, tenant, permission, resource}
//   404 / 405                unknown route / a method the route does not take
//
// Where this worker answers 200 with the decision, a real gateway would go on to the API itself
// (`fetch(request)` to the origin, or the handler) with the principal it now knows.
import init, { Engine } from '@keyward/wasm';
import { D1Store } from '@keyward/wasm/stores';
import wasm from '@keyward/wasm/keyward_wasm_bg.wasm';

// workerd hands over the wasm as a compiled module: instantiating it is synchronous, once per isolate.
init({ module: wasm });

/**
 * The API's routes: method and path → the permission needed and the resource it is needed on.
 * Permissions are those of Keyward's built-in roles (SPEC R-41): `inference-user` may read and
 * execute models, `contributor` may also write them, deleting takes `models:delete`, which no
 * built-in role but `admin` holds.
 */
const ROUTES = [
  { path: '/v1/models', methods: { GET: 'models:read' }, resource: () => '*' },
  {
    path: '/v1/models/:id',
    methods: { GET: 'models:read', PUT: 'models:write', DELETE: 'models:delete' },
    resource: ({ id }) => `models/${id}`,
  },
  { path: '/v1/models/:id/infer', methods: { POST: 'models:execute' }, resource: ({ id }) => `models/${id}` },
  { path: '/v1/deployments/:id', methods: { GET: 'deployments:read' }, resource: ({ id }) => `deployments/${id}` },
].map((route) => ({ ...route, pattern: new URLPattern({ pathname: route.path }) }));

/** The credential failures of `verify` (SPEC §3), each with what the caller is told. */
const CREDENTIAL_FAILURES = {
  invalid_credentials: 'the token is not valid',
  token_revoked: 'the token has been revoked',
  token_expired: 'the token has expired',
  account_disabled: 'the service account is disabled',
  account_revoked: 'the service account has been revoked',
  channel_not_allowed: 'this account cannot sign in on this channel',
};

let engine; // one per isolate, reused by every request it serves

/** A deployment's settings are wrong: every request fails with 500, the log says why. */
class ConfigError extends Error {}

/** The engine, made on the first request (the bindings arrive with it, not at import time). */
function engineFor(env) {
  if (engine) return engine;
  const maxStalenessMs = Number(env.MAX_STALENESS_MS ?? 0);
  // The range is the engine's to check (it refuses anything past one day, below).
  if (!Number.isSafeInteger(maxStalenessMs)) {
    throw new ConfigError(`MAX_STALENESS_MS must be a whole number of milliseconds, not ${JSON.stringify(env.MAX_STALENESS_MS)}`);
  }
  try {
    engine = makeEngine(env, maxStalenessMs);
  } catch (error) {
    // DOMAIN, TOKEN_PREFIX or the window refused by the engine: the deployment's fault, not the caller's.
    throw new ConfigError(`bad settings: ${error.message}`);
  }
  return engine;
}

function makeEngine(env, maxStalenessMs) {
  return new Engine({
    store: new D1Store(env.DB),
    domain: env.DOMAIN,
    tokenPrefix: env.TOKEN_PREFIX,
    pepper: env.PEPPER,
    // 0 reads D1 on every decision; S > 0 lets the engine answer from documents read at
    // most S ms ago (see README: fewer D1 reads, but a revocation made elsewhere waits up to S).
    maxStalenessMs,
  });
}

/** The route for a path and its parameters, or null. */
function match(pathname) {
  for (const route of ROUTES) {
    const found = route.pattern.exec({ pathname });
    if (found) return { route, params: found.pathname.groups };
  }
  return null;
}

/** The token of `Authorization: Bearer <token>` (the scheme is case-insensitive), or null. */
function bearerToken(request) {
  const found = /^Bearer +(\S+) *$/i.exec(request.headers.get('authorization') ?? '');
  return found ? found[1] : null;
}

/** A JSON answer: status, body, and the headers it needs. */
const answer = (status, body, headers = {}) => ({ status, body, headers });

function unauthorized(error, reason) {
  // RFC 6750: a 401 says which scheme to use, and why the token was refused when there was one.
  const challenge = error === 'missing_token' ? 'Bearer' : `Bearer error="invalid_token", error_description="${error}"`;
  return answer(401, { error, reason }, { 'www-authenticate': challenge });
}

async function guard(request, env) {
  const url = new URL(request.url);
  const found = match(url.pathname);
  if (!found) return answer(404, { error: 'not_found', reason: `no route ${url.pathname}` });
  const { route, params } = found;
  const permission = route.methods[request.method];
  if (!permission) {
    const allow = Object.keys(route.methods).join(', ');
    return answer(405, { error: 'method_not_allowed', reason: `${route.path} takes ${allow}` }, { allow });
  }

  const token = bearerToken(request);
  if (!token) return unauthorized('missing_token', 'send Authorization: Bearer <token>');

  const tenant = env.TENANT;
  const resource = route.resource(params);
  // verify never throws for a bad credential: its reason says what went wrong (SPEC ).
  const decision = await engineFor(env).verify(token, tenant, permission, resource);
  if (Object.hasOwn(CREDENTIAL_FAILURES, decision.reason)) return unauthorized(decision.reason, CREDENTIAL_FAILURES[decision.reason]);
  return answer(decision.allowed ? 200 : 403, { ...decision, tenant, permission, resource });
}

/** An engine error as an answer; its message never holds a secret (SPEC R-82). */
function failure(error) {
  // A refused TENANT is the deployment's fault too: the caller sent nothing of it.
  const misconfigured = error instanceof ConfigError || (error.code === 'invalid_argument' && error.field === 'tenant');
  const code = misconfigured ? 'internal' : error.code ?? 'internal';
  console.error(JSON.stringify({ error: code, message: error.message }));
  if (code === 'invalid_argument') return answer(400, { error: code, reason: `bad ${error.field ?? 'request'}` });
  return answer(code === 'store_error' ? 503 : 500, { error: code, reason: 'the authorisation service failed' });
}

export default {
  async fetch(request, env) {
    const { status, body, headers } = await guard(request, env).catch(failure);
    // One access-log line per request: who asked for what, and the outcome; never the token.
    const { pathname } = new URL(request.url);
    console.log(JSON.stringify({ method: request.method, path: pathname, status, principal: body.principal ?? null, outcome: body.error ?? body.reason }));
    return Response.json(body, { status, headers });
  },
};

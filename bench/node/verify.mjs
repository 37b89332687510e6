// Node: @keyward/node (native) and @keyward/wasm (the `nodejs` build) `verify`, beside jose
// `jwtVerify` (HS256) and node-casbin `enforce` (RBAC with domains); then the wasm module's
// cold start (a fresh process: instantiate, then the first verify) and its size.
//
// The tenant is the one of the Rust benchmarks (bench/src/lib.rs): 1,000 tokens over 20
// service accounts, 10 roles and 10 groups; every call presents the next token of a
// round-robin over all of them. Prints one JSON object: medians in ns per call.
//
//   node bench/node/verify.mjs [--iterations N] [--repeats N] [--cold N]

import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { jwtVerify, SignJWT } from 'jose';
import { newEnforcer, newModelFromString } from 'casbin';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const require = createRequire(import.meta.url);

const TENANT = 'acme';
const ROOT = 'root@acme.test';
const PER_ACCOUNT = 50;
const ROLES = 10;
const NOW = 1_700_000_000_000;

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

const calls = arg('iterations', 20000);
const repeats = calls > 1 ? arg('repeats', 15) : 1;
const coldRuns = arg('cold', calls > 1 ? 9 : 1);
const n = arg('tokens', 1000);

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Median over `repeats` runs of `calls` awaited calls, in ns per call. */
async function timeAsync(fn, count = calls) {
  await fn(0);
  const runs = [];
  for (let r = 0; r < repeats; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < count; i++) await fn(i);
    runs.push(Number(process.hrtime.bigint() - start) / count);
  }
  return median(runs);
}

async function fill(engine) {
  await engine.createTenant(TENANT, { admin: ROOT });
  for (let i = 0; i < ROLES; i++) {
    await engine.defineRole(ROOT, TENANT, `role-${i}`, [{ permission: 'models:execute', resource: `models/m${i}` }]);
    await engine.createGroup(ROOT, TENANT, `group-${i}`, { grants: [{ permission: 'datasets:read', resource: `datasets/d${i}` }] });
  }
  const out = [];
  for (let a = 0; a * PER_ACCOUNT < n; a++) {
    const k = a % ROLES;
    const sa = await engine.createServiceAccount(ROOT, TENANT, `bot-${a}`, { role: `role-${k}` });
    await engine.addGroupMember(ROOT, TENANT, `group-${k}`, sa.principal);
    for (let t = 0; t < Math.min(PER_ACCOUNT, n - a * PER_ACCOUNT); t++) {
      out.push([(await engine.createToken(ROOT, sa.principal)).token, `models/m${k}`]);
    }
  }
  return out.sort(); // random secrets: neighbours belong to unrelated accounts
}

async function keyward(lib) {
  const engine = new lib.Engine({ clock: () => NOW });
  const tokens = await fill(engine);
  const [t0, m0] = tokens[0];
  if (!(await engine.verify(t0, TENANT, 'models:execute', m0)).allowed) throw new Error('not allowed');
  const allowed = await timeAsync((i) => {
    const [t, m] = tokens[i % tokens.length];
    return engine.verify(t, TENANT, 'models:execute', m);
  });
  const denied = await timeAsync((i) => {
    const [t, m] = tokens[i % tokens.length];
    return engine.verify(t, TENANT, 'models:write', m);
  });
  return { allowed, denied };
}

const CASBIN_MODEL = `
[request_definition]
r = sub, dom, obj, act

[policy_definition]
p = sub, dom, obj, act

[role_definition]
g = _, _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = g(r.sub, p.sub, r.dom) && r.dom == p.dom && r.obj == p.obj && r.act == p.act
`;

/** A fresh `node` process: require @keyward/wasm (read, compile, instantiate), provision one
 * token (not timed), then the first verify. */
function coldStart() {
  const script = `
    const { performance } = require('node:perf_hooks');
    const t0 = performance.now();
    const kw = require(${JSON.stringify(path.join(root, 'pkg/node.cjs'))});
    const t1 = performance.now();
    (async () => {
      const e = new kw.Engine({ clock: () => ${NOW} });
      await e.createTenant('acme', { admin: 'root@acme.test' });
      const sa = await e.createServiceAccount('root@acme.test', 'acme', 'bot', { role: 'inference-user' });
      const { token } = await e.createToken('root@acme.test', sa.principal);
      const t2 = performance.now();
      const d = await e.verify(token, 'acme', 'models:execute', 'models/m0');
      const t3 = performance.now();
      if (!d.allowed) throw new Error('cold verify not allowed');
      process.stdout.write(JSON.stringify({ instantiate_ms: t1 - t0, first_verify_ms: t3 - t2 }));
    })();`;
  return JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }));
}

const results = {};
const nodeLib = require(path.join(root, 'node/index.js'));
const wasmLib = require(path.join(root, 'pkg/node.cjs'));
for (const [name, lib] of [['keyward_node', nodeLib], ['keyward_wasm', wasmLib]]) {
  const r = await keyward(lib);
  results[`${name}_verify_allowed`] = r.allowed;
  results[`${name}_verify_denied`] = r.denied;
}

const key = new TextEncoder().encode('a-32-byte-secret-for-hs256-bench');
const jwts = [];
for (let a = 0; a < 1000; a++) {
  jwts.push(
    await new SignJWT({ tenant: TENANT, scopes: ['models:execute', 'models:read'] })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(`bot-${a}@acme.sa.keyward.local`)
      .setExpirationTime(4_000_000_000)
      .sign(key),
  );
}
results.jose_jwtverify_hs256 = await timeAsync((i) => jwtVerify(jwts[i % 1000], key, { algorithms: ['HS256'] }));

const enforcer = await newEnforcer(newModelFromString(CASBIN_MODEL));
for (let i = 0; i < ROLES; i++) {
  await enforcer.addPolicy(`role-${i}`, TENANT, `models/m${i}`, 'models:execute');
  await enforcer.addPolicy(`group-${i}`, TENANT, `datasets/d${i}`, 'datasets:read');
}
for (let a = 0; a < 1000; a++) {
  await enforcer.addGroupingPolicy(`bot-${a}`, `role-${a % ROLES}`, TENANT);
  await enforcer.addGroupingPolicy(`bot-${a}`, `group-${a % ROLES}`, TENANT);
}
if (!(await enforcer.enforce('bot-3', TENANT, 'models/m3', 'models:execute'))) throw new Error('casbin: not allowed');
if (await enforcer.enforce('bot-3', TENANT, 'models/m3', 'models:write')) throw new Error('casbin: allowed');
results.node_casbin_enforce = await timeAsync(
  (i) => enforcer.enforce(`bot-${i % 1000}`, TENANT, `models/m${i % 1000 % ROLES}`, 'models:execute'),
  Math.max(1, Math.floor(calls / 10)),
);

const cold = Array.from({ length: coldRuns }, coldStart);
const wasmFile = path.join(root, 'pkg/web/keyward_wasm_bg.wasm');
const bytes = readFileSync(wasmFile);
const version = (dir) => JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')).version;

console.log(
  JSON.stringify({
    unit: 'ns per call (median)',
    tokens: n,
    roles: ROLES,
    calls_per_run: calls,
    runs: repeats,
    node: process.version,
    versions: {
      '@keyward/node': version(path.join(root, 'node')),
      '@keyward/wasm': version(path.join(root, 'pkg')),
      jose: version(path.join(here, 'node_modules/jose')),
      casbin: version(path.join(here, 'node_modules/casbin')),
    },
    results,
    wasm_cold_start: {
      runs: coldRuns,
      instantiate_ms: median(cold.map((c) => c.instantiate_ms)),
      first_verify_ms: median(cold.map((c) => c.first_verify_ms)),
      total_ms: median(cold.map((c) => c.instantiate_ms + c.first_verify_ms)),
    },
    wasm_size: {
      file: path.relative(root, wasmFile),
      raw_bytes: statSync(wasmFile).size,
      gzip9_bytes: gzipSync(bytes, { level: 9 }).length,
    },
  }),
);

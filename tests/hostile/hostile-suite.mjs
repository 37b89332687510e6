// Hostile inputs through a JavaScript host (issue 11 point 5; SPEC §12, R-82, R-93, R-94),
// shared by @keyward/node (node/test/hostile.test.mjs) and @keyward/wasm
// (pkg/test/hostile.test.mjs). Every input — the shared matrix of inputs.json beside this
// file, then what only JavaScript can express (lone surrogates, undefined, BigInt, NaN,
// Infinity, functions, symbols), bad clocks and store answers outside the protocol — must end
// in a KeywardError with a stable code (invalid_argument naming its argument), or the
// TypeError API.md allows, never a crash or a trap, never echo a token, and leave the
// same engine instance serving a normal verify and an admin call afterwards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

const MATRIX = JSON.parse(readFileSync(new URL('./inputs.json', import.meta.url), 'utf8'));
const SHARED = MATRIX.inputs;
const ROOT = 'root@acme.test';
const BOT = 'bot@acme.sa.keyward.local';
const HUGE = 'a'.repeat(10_000_000);
const T0 = 1_700_000_000_000;

const camel = (name) => name.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase());

function nested(depth, kind) {
  let value = 1;
  for (let i = 0; i < depth; i++) value = kind === 'array' ? [value] : { k: value };
  return value;
}

/** A store over a Map whose answers go through Promises, with one misbehaviour once armed. */
class HostileStore {
  constructor(mode = null) {
    this.data = new Map();
    this.mode = mode;
    this.armed = false;
    this.next = 1000;
  }
  async get(key) {
    const found = this.data.get(key);
    const entry = found ? { value: found.value, version: found.version } : null;
    if (!this.armed || !entry) return entry;
    const m = this.mode;
    if (m.startsWith('get-version:')) return { ...entry, version: VERSIONS[m.slice(12)] };
    if (m === 'get-value-number') return { value: 5, version: entry.version };
    if (m === 'get-value-object') return { value: { json: true }, version: entry.version };
    if (m === 'get-missing-version') return { value: entry.value };
    if (m === 'get-throws') throw new Error('get exploded');
    if (m === 'get-rejects') return Promise.reject(new Error('get rejected'));
    if (m === 'get-rejects-undefined') return Promise.reject(undefined);
    return entry;
  }
  async put(key, value, expectedVersion) {
    if (this.armed && this.mode === 'put-rejects') throw new Error('put rejected');
    const current = this.data.get(key);
    if ((current ? current.version : null) !== (expectedVersion ?? null)) return null;
    const version = (this.next += 7);
    this.data.set(key, { value, version });
    if (this.armed && this.mode.startsWith('put-version:')) return VERSIONS[this.mode.slice(12)];
    return version;
  }
  async delete(key, expectedVersion) {
    if (this.armed && this.mode === 'delete-throws') throw new Error('delete exploded');
    const current = this.data.get(key);
    if (!current || current.version !== expectedVersion) return false;
    this.data.delete(key);
    return true;
  }
  async list(prefix, after, limit) {
    const keys = [...this.data.keys()].filter((k) => k.startsWith(prefix) && (after == null || k > after)).sort();
    const entries = keys.slice(0, limit).map((key) => ({ key, ...this.data.get(key) }));
    if (!this.armed) return entries;
    const m = this.mode;
    if (m.startsWith('list-version:')) return entries.map((e) => ({ ...e, version: VERSIONS[m.slice(13)] }));
    if (m === 'list-unsorted') return entries.reverse();
    if (m === 'list-duplicated') return [entries[0], entries[0]];
    if (m === 'list-outside-prefix') return [...entries, { key: 'zz/outside', value: '{}', version: 1000 }];
    if (m === 'list-too-long') {
      const pad = Array.from({ length: limit + 1 }, (_, i) => ({ key: prefix + '\u{10ffff}'.repeat(i + 1), value: '{}', version: 1000 }));
      return [...entries, ...pad].slice(0, limit + 1);
    }
    if (m === 'list-key-number') return entries.map((e, i) => (i === 0 ? { ...e, key: 7 } : e));
    if (m === 'list-null') return null;
    if (m === 'list-not-iterable') return 42;
    if (m === 'list-rejects') throw new Error('list rejected');
    return entries;
  }
}

const VERSIONS = { 0: 0, '-1': -1, '1.5': 1.5, true: true, "'1'": '1', NaN: NaN, Infinity: Infinity, '2^53': 2 ** 53, bigint: 7n };

const STORE_MODES = [
  ...Object.keys(VERSIONS).map((v) => [`get-version:${v}`, 'getAccount']),
  ...Object.keys(VERSIONS).map((v) => [`put-version:${v}`, 'updateServiceAccount']),
  ...Object.keys(VERSIONS).map((v) => [`list-version:${v}`, 'auditLog']),
  ['get-value-number', 'getAccount'],
  ['get-value-object', 'getAccount'],
  ['get-missing-version', 'getAccount'],
  ['get-throws', 'verify'],
  ['get-rejects', 'verify'],
  ['get-rejects-undefined', 'getAccount'],
  ['put-rejects', 'updateServiceAccount'],
  ['delete-throws', 'deleteAccount'],
  ['list-unsorted', 'auditLog'],
  ['list-duplicated', 'auditLog'],
  ['list-outside-prefix', 'auditLog'],
  ['list-too-long', 'auditLog'],
  ['list-key-number', 'auditLog'],
  ['list-null', 'auditLog'],
  ['list-not-iterable', 'auditLog'],
  ['list-rejects', 'auditLog'],
];

const CLOCKS = [
  ['nan', () => NaN],
  ['infinity', () => Infinity],
  ['minus-infinity', () => -Infinity],
  ['string', () => String(T0)],
  ['undefined', () => undefined],
  ['null', () => null],
  ['boolean', () => true],
  ['beyond-i64', () => 2 ** 63],
  ['float-1e30', () => 1e30],
  ['bigint-beyond-i64', () => 2n ** 64n],
  ['object', () => ({ valueOf: () => T0 })],
  ['array', () => [T0]],
  ['promise', () => Promise.resolve(T0)],
  ['throws', () => { throw new Error('the clock broke'); }],
  ['throws-non-error', () => { throw undefined; }],
];

const SURROGATE = '\uD800';

/** What only JavaScript expresses: [id, method, (world) => args, expected code or TypeError, field]. */
const JS_ONLY = [
  ['surrogate-tenant', 'createTenant', () => [SURROGATE, { admin: 'a@b.test' }], 'invalid_argument', 'tenant'],
  ['surrogate-low-sa-name', 'createServiceAccount', () => [ROOT, 'acme', 'bot\uDC00'], 'invalid_argument', 'name'],
  ['surrogate-token', 'verify', (w) => [w.token + SURROGATE, 'acme', 'models:read'], 'invalid_argument', 'token'],
  ['surrogate-password', 'setPassword', () => [ROOT, BOT, `Correct-Horse-9-battery${SURROGATE}`], 'invalid_argument', 'password'],
  ['surrogate-description', 'updateServiceAccount', () => [ROOT, BOT, { description: SURROGATE }], 'invalid_argument', 'description'],
  ['surrogate-settings-key', 'updateTenantSettings', () => [ROOT, 'acme', { [SURROGATE]: 1 }], 'invalid_argument', 'settings'],
  ['surrogate-filter', 'listAccounts', () => [ROOT, 'acme', { filter: `name="${SURROGATE}"` }], 'invalid_argument', 'filter'],
  ['undefined-tenant', 'createServiceAccount', () => [ROOT, undefined, 'bot2'], 'invalid_argument', 'tenant'],
  ['undefined-token', 'verify', () => [undefined, 'acme', 'models:read'], 'invalid_argument', 'token'],
  ['no-arguments', 'getTenant', () => [], 'invalid_argument', 'actor'],
  ['too-many-arguments', 'getTenant', () => [ROOT, 'acme', 'extra', 'more'], 'invalid_argument', 'args'],
  ['nan-ttl', 'createToken', () => [ROOT, BOT, { ttlDays: NaN }], 'invalid_argument', 'ttl_days'],
  ['infinity-expires-at', 'createToken', () => [ROOT, BOT, { expiresAt: Infinity }], 'invalid_argument', 'expires_at'],
  ['minus-infinity-page-size', 'listAccounts', () => [ROOT, 'acme', { pageSize: -Infinity }], 'invalid_argument', 'page_size'],
  ['nan-in-settings', 'updateTenantSettings', () => [ROOT, 'acme', { seatLimit: NaN }], 'invalid_argument', 'settings'],
  ['bigint-beyond-2^53', 'createToken', () => [ROOT, BOT, { ttlDays: 2n ** 60n }], 'invalid_argument', 'ttl_days'],
  ['negative-bigint', 'auditLog', () => [ROOT, 'acme', { pageSize: -(2n ** 62n) }], 'invalid_argument', 'page_size'],
  ['bigint-in-scopes', 'createToken', () => [ROOT, BOT, { scopes: [1n] }], 'invalid_argument', 'scopes'],
  ['bigint-tenant', 'createTenant', () => [1n, { admin: 'a@b.test' }], 'invalid_argument', 'tenant'],
  ['function-ttl', 'createToken', () => [ROOT, BOT, { ttlDays: () => 7 }], 'invalid_argument', 'ttl_days'],
  ['function-in-settings', 'updateTenantSettings', () => [ROOT, 'acme', { seatLimit: () => 1 }], 'invalid_argument', 'settings'],
  ['symbol-name', 'createServiceAccount', () => [ROOT, 'acme', Symbol('bot')], 'invalid_argument', 'name'],
  ['symbol-in-grants', 'grantPermissions', () => [ROOT, 'acme', BOT, [Symbol('x')]], 'invalid_argument', 'grants'],
  ['set-for-grants', 'grantPermissions', () => [ROOT, 'acme', BOT, new Set(['models:read'])], 'invalid_argument', 'grants'],
  ['map-for-settings', 'updateTenantSettings', () => [ROOT, 'acme', new Map([['seat_limit', 5]])], 'invalid_argument', 'settings'],
  ['date-expires-at', 'createToken', () => [ROOT, BOT, { expiresAt: new Date(T0 + 86_400_000) }], 'invalid_argument', 'expires_at'],
  ['typed-array-grants', 'defineRole', () => [ROOT, 'acme', 'r1', new Uint8Array([1, 2])], 'invalid_argument', 'grants'],
  ['unknown-option', 'createToken', () => [ROOT, BOT, { colour: 'red' }], 'invalid_argument', 'colour'],
  ['token-shaped-option-key', 'createToken', (w) => [ROOT, BOT, { [w.token]: 1 }], 'invalid_argument', 'args'],
  ['positional-as-option', 'getAccount', () => [ROOT, 'acme', { principal: BOT }], 'invalid_argument', 'principal'],
  ['self-referencing-grants', 'defineRole', () => { const g = []; g.push(g); return [ROOT, 'acme', 'r1', g]; }, 'invalid_argument', 'grants'],
];

/** Engine options: [id, options, TypeError or the field of an invalid_argument]. */
const CONSTRUCTORS = [
  ['ctor-options-string', 'x', TypeError],
  ['ctor-options-number', 5, TypeError],
  ['ctor-domain-number', { domain: 5 }, TypeError],
  ['ctor-domain-null', { domain: null }, TypeError],
  ['ctor-domain-fake-length', { domain: { length: -1 } }, TypeError],
  ['ctor-domain-empty', { domain: '' }, 'domain'],
  ['ctor-domain-huge', { domain: HUGE }, 'domain'],
  ['ctor-domain-nul', { domain: 'a\u0000.test' }, 'domain'],
  ['ctor-domain-surrogate', { domain: 'a\uD800.test' }, 'domain'],
  ['ctor-prefix-number', { tokenPrefix: 5 }, TypeError],
  ['ctor-prefix-object', { tokenPrefix: {} }, TypeError],
  ['ctor-prefix-injection', { tokenPrefix: "kw'; --" }, 'token_prefix'],
  ['ctor-pepper-number', { pepper: 5 }, TypeError],
  ['ctor-pepper-object', { pepper: {} }, TypeError],
  ['ctor-pepper-beyond-a-byte', { pepper: [300] }, TypeError],
  ['ctor-pepper-bigint', { pepper: 5n }, TypeError],
  ['ctor-pepper-surrogate', { pepper: 'pepper\uD800' }, 'pepper'],
  ['ctor-store-number', { store: 5 }, TypeError],
  ['ctor-clock-number', { clock: 5 }, TypeError],
  ['ctor-audit-string', { audit: 'log' }, TypeError],
  ['ctor-staleness-nan', { maxStalenessMs: NaN }, 'max_staleness_ms'],
];

function materialise(value, world) {
  if (Array.isArray(value)) return value.map((v) => materialise(v, world));
  if (value !== null && typeof value === 'object') {
    switch (value.$gen) {
      case 'huge': return HUGE;
      case 'deep_array': return nested(10_000, 'array');
      case 'deep_object': return nested(10_000, 'object');
      case 'token': return world.token;
      case 'token_id': return world.tokenId;
      default: return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, materialise(v, world)]));
    }
  }
  return value;
}

/** A shared entry's named arguments as this host's call: positional values, then an options object. */
function jsArguments(spec, named) {
  const args = spec.positional.map((name) => named[name]);
  const options = {};
  for (const name of spec.keywords) if (name in named) options[camel(name)] = named[name];
  if (Object.keys(options).length > 0) args.push(options);
  return args;
}

export function defineHostileTests(keyward, label) {
  const { Engine, KeywardError } = keyward;
  const specs = new Map(keyward.operations().map((s) => [s.op, s]));

  async function makeWorld(store = undefined, clock = () => T0) {
    const engine = new Engine({ store, clock });
    await engine.createTenant('acme', { admin: ROOT });
    await engine.createServiceAccount(ROOT, 'acme', 'bot', { role: 'viewer' });
    const created = await engine.createToken(ROOT, BOT, { name: 'ci' });
    return { engine, token: created.token, tokenId: created.tokenId };
  }

  async function assertUsable(world) {
    const decision = await world.engine.verify(world.token, 'acme', 'models:read');
    assert.equal(decision.allowed, true, 'the same engine still decides');
    assert.equal((await world.engine.getAccount(ROOT, 'acme', BOT)).principal, BOT, 'and administers');
  }

  function assertNotEchoed(world, error) {
    let shown = `${error?.message} ${error?.stack} ${String(error?.field)}`;
    try {
      shown += JSON.stringify(error);
    } catch {
      // a value JSON cannot write shows nothing more
    }
    assert.ok(!shown.includes(world.token) && !shown.includes(world.token.slice(16, 48)), `R-82: ${shown}`);
  }

  function checkError(error, code, field, extra = {}) {
    assert.ok(error instanceof KeywardError && error instanceof Error, `${label}: not a KeywardError: ${error?.stack ?? error}`);
    assert.equal(error.code, code, error.message);
    if (field !== undefined) assert.equal(error.field, field, error.message);
    if (code === 'invalid_argument') assert.ok(error.field, 'invalid_argument names its argument');
    if (extra.position !== undefined) assert.equal(error.position, extra.position);
    if (extra.rules !== undefined) assert.deepEqual(error.rules, extra.rules);
  }

  // One engine per kind of store for the whole matrix (the built-in store, run in one
  // crossing, and a host store answering through Promises, driven step by step): each input
  // must leave it usable for the next.
  const worlds = new Map();
  const world = async (kind = 'built-in store') =>
    worlds.get(kind) ?? worlds.set(kind, await makeWorld(kind === 'host store' ? new HostileStore() : undefined)).get(kind);

  for (const entry of SHARED) for (const kind of ['built-in store', 'host store']) {
    test(`${label}: hostile input ${entry.id} (${entry.rules}) is a typed error on a ${kind}; the engine goes on`, async () => {
      const w = await world(kind);
      const expect = entry[label.includes('wasm') ? 'wasm' : 'node'] ?? entry.expect;
      const spec = specs.get(entry.op);
      const args = jsArguments(spec, materialise(entry.args, w));
      const call = () => w.engine[camel(entry.op)](...args);
      if (expect.decision) {
        const decision = await call();
        assert.equal(decision.allowed, false);
        assert.equal(decision.reason, expect.decision);
        assert.ok(!JSON.stringify(decision).includes(w.token.slice(16, 48)));
      } else {
        await assert.rejects(call(), (e) => {
          assertNotEchoed(w, e);
          checkError(e, expect.code, expect.field, expect);
          return true;
        });
      }
      await assertUsable(w);
    });
  }

  for (const [id, method, make, code, field] of JS_ONLY) {
    test(`${label}: JavaScript-only input ${id} is a typed error, never echoing a token; the engine goes on (§12, R-82)`, async () => {
      const w = await world();
      await assert.rejects(async () => w.engine[method](...make(w)), (e) => {
        assertNotEchoed(w, e);
        checkError(e, code, field);
        return true;
      });
      await assertUsable(w);
    });
  }

  for (const [id, options, expected] of CONSTRUCTORS) {
    test(`${label}: engine option ${id} is a TypeError or invalid_argument, never a trap (API.md, §12)`, async () => {
      assert.throws(() => new Engine(options), (e) => {
        if (expected === TypeError) assert.ok(e instanceof TypeError, `${e?.constructor?.name}: ${e?.message}`);
        else checkError(e, 'invalid_argument', expected);
        return true;
      });
      await assertUsable(await world());
      const fresh = new Engine();
      assert.equal((await fresh.createTenant('acme', { admin: ROOT })).tenant, 'acme', 'the module still makes engines');
    });
  }

  test(`${label}: a pepper given as bytes works as the same text does (R-21)`, async () => {
    const store = new HostileStore();
    const text = new Engine({ store, pepper: 'pepper' });
    await text.createTenant('acme', { admin: ROOT });
    await text.createServiceAccount(ROOT, 'acme', 'bot', { role: 'viewer' });
    const { token } = await text.createToken(ROOT, BOT);
    const bytes = new TextEncoder().encode('pepper');
    for (const pepper of [bytes, bytes.buffer, Array.from(bytes), new DataView(bytes.buffer)]) {
      assert.equal((await new Engine({ store, pepper }).verify(token, 'acme', 'models:read')).allowed, true);
    }
  });

  for (const [id, answer] of CLOCKS) {
    test(`${label}: R-93 clock answer ${id} is store_error; the engine goes on`, async () => {
      let clock = () => T0;
      for (const store of [undefined, new HostileStore()]) {
        const w = await makeWorld(store, () => clock());
        clock = answer;
        await assert.rejects(w.engine.verify(w.token, 'acme', 'models:read'), (e) => checkError(e, 'store_error') ?? true);
        await assert.rejects(w.engine.createServiceAccount(ROOT, 'acme', 'late-bot'), (e) => checkError(e, 'store_error') ?? true);
        clock = () => T0;
        await assertUsable(w);
      }
    });
  }

  for (const [mode, trigger] of STORE_MODES) {
    test(`${label}: R-94 store answer ${mode} is store_error; the engine goes on`, async () => {
      const store = new HostileStore(mode);
      const w = await makeWorld(store);
      await w.engine.createServiceAccount(ROOT, 'acme', 'doomed');
      store.armed = true;
      const attempt = {
        getAccount: () => w.engine.getAccount(ROOT, 'acme', BOT),
        updateServiceAccount: () => w.engine.updateServiceAccount(ROOT, BOT, { description: 'changed' }),
        auditLog: () => w.engine.auditLog(ROOT, 'acme', { pageSize: 2 }),
        verify: () => w.engine.verify(w.token, 'acme', 'models:read'),
        deleteAccount: () => w.engine.deleteAccount(ROOT, 'doomed@acme.sa.keyward.local'),
      }[trigger];
      await assert.rejects(attempt(), (e) => checkError(e, 'store_error') ?? true);
      store.armed = false;
      await assertUsable(w);
    });
  }

  test(`${label}: a getMany answering the wrong number of entries, or throwing, is store_error (R-94)`, async () => {
    for (const getMany of [async (keys) => keys.slice(1).map(() => null), async () => { throw new Error('batch failed'); }, async () => 42]) {
      const store = new HostileStore();
      const w = await makeWorld(store);
      store.getMany = getMany;
      await assert.rejects(w.engine.getAccount(ROOT, 'acme', BOT), (e) => checkError(e, 'store_error') ?? true);
      delete store.getMany;
      await assertUsable(w);
    }
  });

  // A real panic inside the native half — the core's panic probe, an operation name no
  // operation has — must reach JavaScript as `internal` (a wasm trap too), and the same engine
  // must serve the next calls.
  for (const kind of ['built-in store', 'host store']) {
    test(`${label}: a Rust panic is internal and the engine goes on, on a ${kind} (R-94)`, async () => {
      const w = await makeWorld(kind === 'host store' ? new HostileStore() : undefined);
      for (let i = 0; i < 3; i++) {
        await assert.rejects(w.engine._call(['__keyward_panic_probe', [], 0, []], []), (e) => {
          checkError(e, 'internal');
          return true;
        });
        await assertUsable(w);
      }
    });
  }

  test(`${label}: the matrix holds at least 50 distinct inputs (issue 11 point 5; §12)`, () => {
    const ids = [...SHARED.map((e) => e.id), ...JS_ONLY.map((j) => j[0]), ...CLOCKS.map((c) => `clock-${c[0]}`),
      ...STORE_MODES.map((m) => m[0]), 'get-many-short', 'get-many-throws', 'get-many-not-iterable',
      ...CONSTRUCTORS.map((c) => c[0])];
    assert.equal(new Set(ids).size, ids.length, 'distinct');
    console.log(`${label} hostile inputs: ${ids.length}`);
    assert.ok(ids.length >= 50);
  });
}

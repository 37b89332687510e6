// Host-idiomatic tests shared by @keyward/node and @keyward/wasm (node --test): error
// classes and codes, records with the documented fields, secrets kept out of events and
// errors, host stores that answer with Promises or fail, and the audit callback.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AsyncMapStore } from './conformance.mjs';

const ROOT = 'root@acme.test';

async function setup(keyward, options = {}) {
  const events = [];
  const engine = new keyward.Engine({ audit: (e) => events.push(e), ...options });
  await engine.createTenant('acme', { admin: ROOT });
  const bot = await engine.createServiceAccount(ROOT, 'acme', 'bot', { role: 'viewer', description: 'ci' });
  return { engine, events, bot };
}

const keys = (o) => Object.keys(o).sort();

export function defineEngineTests(keyward, label) {
  const { Engine, MemoryStore, KeywardError } = keyward;

  test(`${label}: one camelCase method per operation of API.md, each returning a Promise`, async () => {
    const ops = keyward.operations().map((s) => s.op);
    assert.equal(ops.length, 40);
    assert.ok(ops.includes('verify') && ops.includes('create_tenant'));
    const engine = new Engine();
    for (const op of ops) assert.equal(typeof engine[op.replace(/_([a-z])/g, (_, c) => c.toUpperCase())], 'function', op);
    const p = engine.getTenant(ROOT, 'nowhere');
    assert.ok(p instanceof Promise);
    await assert.rejects(p, (e) => e instanceof KeywardError && e.code === 'not_found');
  });

  test(`${label}: records carry exactly the documented fields (API.md, R-53)`, async () => {
    const { engine, bot } = await setup(keyward);
    assert.deepEqual(keys(bot), ['createdAt', 'createdBy', 'description', 'grants', 'groups', 'hasPassword', 'id', 'kind', 'mfa',
      'name', 'owned', 'principal', 'roles', 'status', 'tenant', 'uid', 'updatedAt']);
    assert.equal(bot.id, 'sa::bot');
    assert.deepEqual(bot.groups, ['everyone']);
    const created = await engine.createToken(ROOT, bot.principal, { ttlDays: 7, name: 'ci' });
    const tokenInfo = ['createdAt', 'createdBy', 'expiresAt', 'lastUsedAt', 'name', 'revokedAt', 'scopes', 'tokenId'];
    assert.deepEqual(keys(created), [...tokenInfo, 'token'].sort());
    const [listed] = await engine.listTokens(ROOT, bot.principal);
    assert.deepEqual(keys(listed), tokenInfo, 'R-53: never the secret or its hash');
    const identity = await engine.authenticate(created.token);
    assert.deepEqual(keys(identity), ['kind', 'principal', 'requiresSecondFactor', 'scopes', 'status', 'tenant', 'tokenId', 'uid']);
    const decision = await engine.verify(created.token, 'acme', 'models:read');
    assert.deepEqual(decision, { allowed: true, reason: 'allowed', principal: bot.principal,
      matched: { permission: '*:read', resource: '*', source: 'role:viewer' } });
    const tenant = await engine.getTenant(ROOT, 'acme');
    assert.deepEqual(keys(tenant.settings), ['allowNonExpiringTokens', 'defaultServiceAccountRole', 'defaultTokenTtlDays',
      'maxServiceAccounts', 'maxTokenTtlDays', 'maxTokensPerAccount', 'passwordPolicy', 'seatLimit']);
  });

  test(`${label}: a BigInt within 2^53 is a number, and camelCase settings keys keep their checks (R-47)`, async () => {
    const { engine, bot } = await setup(keyward);
    const created = await engine.createToken(ROOT, bot.principal, { ttlDays: 7n });
    assert.equal(created.expiresAt - created.createdAt, 7 * 86400000);
    const tenant = await engine.updateTenantSettings(ROOT, 'acme', { maxTokenTtlDays: 30, defaultServiceAccountRole: 'viewer' });
    assert.equal(tenant.settings.maxTokenTtlDays, 30);
    assert.equal(tenant.settings.defaultServiceAccountRole, 'viewer');
    await assert.rejects(engine.updateTenantSettings(ROOT, 'acme', { defaultServiceAccountRole: 'no-such-role' }),
      (e) => e instanceof KeywardError && e.code === 'not_found');
  });

  for (const [what, call, code, field] of [
    ['a bad service-account name', (e) => e.createServiceAccount(ROOT, 'acme', 'Bad Name'), 'invalid_argument', 'name'],
    ['an unknown option', (e) => e.createToken(ROOT, 'bot@acme.sa.keyward.local', { colour: 'red' }), 'invalid_argument', 'colour'],
    ['a zero ttl', (e) => e.createToken(ROOT, 'bot@acme.sa.keyward.local', { ttlDays: 0 }), 'invalid_argument', 'ttl_days'],
    // JSON has no NaN or Infinity: written as null they would mean "the default lifetime".
    ['a NaN ttl', (e) => e.createToken(ROOT, 'bot@acme.sa.keyward.local', { ttlDays: NaN }), 'invalid_argument', 'ttl_days'],
    ['an infinite expiry', (e) => e.createToken(ROOT, 'bot@acme.sa.keyward.local', { expiresAt: Infinity }), 'invalid_argument', 'expires_at'],
    ['a BigInt beyond 2^53', (e) => e.createToken(ROOT, 'bot@acme.sa.keyward.local', { ttlDays: 2n ** 60n }), 'invalid_argument', 'ttl_days'],
    ['settings nested 200 deep', (e) => e.updateTenantSettings(ROOT, 'acme', { seatLimit: JSON.parse('['.repeat(200) + ']'.repeat(200)) }), 'invalid_argument', undefined],
    ['a positional argument given as an option', (e) => e.getAccount(ROOT, 'acme', { principal: 'x' }), 'invalid_argument', undefined],
    ['a bad filter', (e) => e.listAccounts(ROOT, 'acme', { filter: 'status=active AND' }), 'invalid_filter', undefined],
    ['an unknown account', (e) => e.disableAccount(ROOT, 'ghost@acme.sa.keyward.local'), 'not_found', undefined],
    ['a weak password', (e) => e.setPassword(ROOT, 'bot@acme.sa.keyward.local', 'short'), 'weak_password', undefined],
  ]) {
    test(`${label}: ${what} throws a KeywardError with .code ${code}`, async () => {
      const { engine } = await setup(keyward);
      await assert.rejects(call(engine), (e) => {
        assert.ok(e instanceof KeywardError && e instanceof Error);
        assert.equal(e.code, code);
        if (field) assert.equal(e.field, field);
        if (code === 'invalid_filter') assert.equal(e.position, 17);
        if (code === 'weak_password') assert.deepEqual(e.rules, ['min_length', 'uppercase', 'digit', 'special']);
        return true;
      });
    });
  }

  test(`${label}: a wrong host type is a TypeError, never a crash`, async () => {
    const engine = new Engine();
    const typeOrArgument = (field) => (e) =>
      e instanceof TypeError || (e instanceof KeywardError && e.code === 'invalid_argument' && (!field || e.field === field));
    await assert.rejects(engine.createTenant(42, { admin: ROOT }), typeOrArgument('tenant'));
    await assert.rejects(engine.createTenant('acme', { admin: 1n }), typeOrArgument());
    await assert.rejects(engine.createTenant('acme', { admin: { nested: true } }), typeOrArgument('admin'));
    assert.throws(() => new Engine({ store: { get() {} } }), TypeError);
    assert.throws(() => new Engine({ clock: 5 }), TypeError);
    assert.throws(() => new Engine({ tokenPrefix: 'X' }), (e) => e instanceof KeywardError && e.field === 'token_prefix');
    // a whole number of ms from 0 to one day.
    for (const maxStalenessMs of [-1, 0.5, NaN, Infinity, 86_400_001, '60000']) {
      assert.throws(() => new Engine({ maxStalenessMs }), (e) => e instanceof KeywardError && e.field === 'max_staleness_ms', String(maxStalenessMs));
    }
    assert.ok(new Engine({ maxStalenessMs: 86_400_000 }));
  });

  test(`${label}: no secret reaches an event or an error (R-82)`, async () => {
    const { engine, events, bot } = await setup(keyward, { pepper: 'pepper' });
    const created = await engine.createToken(ROOT, bot.principal);
    await engine.setPassword(ROOT, bot.principal, 'Tr0ub4dor&3-long');
    await engine.verify(created.token, 'acme', 'models:read');
    await engine.verify(`${created.token}x`, 'acme', 'models:read');
    const errors = [];
    for (const attempt of [
      () => engine.authenticate(created.token, { channel: 'ui' }),
      () => engine.authenticatePassword(bot.principal, 'Tr0ub4dor&3-wrong'),
      () => engine.authenticatePassword(bot.principal, 'Tr0ub4dor&3-long', { channel: 'oidc' }),
    ]) {
      await attempt().then(() => assert.fail('should fail'), (e) => errors.push(`${e.message} ${e.stack} ${JSON.stringify(e)}`));
    }
    const secret = created.token.slice(16, 48);
    const text = JSON.stringify(events) + errors.join('\n');
    assert.ok(events.length >= 8);
    for (const s of [secret, 'Tr0ub4dor&3', '$argon2id']) assert.ok(!text.includes(s), `leaked ${s}`);
  });

  test(`${label}: an async host store works, and one that rejects gives store_error (R-90, R-94)`, async () => {
    const store = new AsyncMapStore();
    let failing = false;
    const flaky = {
      get: (k) => (failing ? Promise.reject(new Error('kv unavailable')) : store.get(k)),
      put: (k, v, e) => store.put(k, v, e),
      delete: (k, e) => store.delete(k, e),
      list: (p, a, l) => store.list(p, a, l),
    };
    const engine = new Engine({ store: flaky });
    await engine.createTenant('acme', { admin: ROOT });
    failing = true;
    await assert.rejects(engine.getTenant(ROOT, 'acme'), (e) => e.code === 'store_error' && e.message.includes('kv unavailable'));
    failing = false;
    assert.equal((await engine.getTenant(ROOT, 'acme')).tenant, 'acme', 'the engine stays usable');
  });

  test(`${label}: a clock answer that is not a finite number within an i64 is store_error (R-93)`, async () => {
    for (const answer of [NaN, Infinity, -Infinity, '123', undefined, null, true, 1e30, 2 ** 63, {}, [1], () => 1]) {
      let now = answer;
      for (const store of [undefined, new AsyncMapStore()]) {
        const engine = new Engine({ store, clock: () => now });
        await assert.rejects(engine.createTenant('acme', { admin: ROOT }),
          (e) => e instanceof KeywardError && e.code === 'store_error' && e.message.includes('clock'), String(answer));
        now = 1_700_000_000_000;
        assert.equal((await engine.createTenant('acme', { admin: ROOT })).createdAt, now, 'never read as 0; the engine goes on');
        now = answer;
      }
    }
    const throwing = new Engine({ clock: () => { throw new Error('no time'); } });
    await assert.rejects(throwing.createTenant('acme', { admin: ROOT }), (e) => e.code === 'store_error' && e.message.includes('no time'));
  });

  test(`${label}: a fractional clock is floored, a BigInt clock is read (R-93)`, async () => {
    const engine = new Engine({ clock: () => 1_700_000_000_000.9 });
    assert.equal((await engine.createTenant('acme', { admin: ROOT })).createdAt, 1_700_000_000_000);
    const big = new Engine({ clock: () => 1_700_000_000_123n });
    assert.equal((await big.createTenant('acme', { admin: ROOT })).createdAt, 1_700_000_000_123);
  });

  test(`${label}: a store version that is not a positive integer is store_error (R-94)`, async () => {
    for (const call of ['get', 'put', 'list']) {
      for (const bad of [true, false, 0, -1, 1.5, '7', null, NaN]) {
        if (call === 'put' && bad === null) continue; // null is a lost compare-and-set
        const inner = new AsyncMapStore();
        let armed = false;
        const store = {
          get: async (k) => {
            const e = await inner.get(k);
            return armed && call === 'get' && e ? { ...e, version: bad } : e;
          },
          put: async (k, v, e) => {
            const written = await inner.put(k, v, e);
            return armed && call === 'put' ? bad : written;
          },
          delete: (k, e) => inner.delete(k, e),
          list: async (p, a, l) => (await inner.list(p, a, l)).map((e) => (armed && call === 'list' ? { ...e, version: bad } : e)),
        };
        const engine = new Engine({ store });
        await engine.createTenant('acme', { admin: ROOT });
        const bot = await engine.createServiceAccount(ROOT, 'acme', 'bot');
        armed = true;
        const attempt = call === 'list' ? engine.auditLog(ROOT, 'acme')
          : call === 'put' ? engine.updateServiceAccount(ROOT, bot.principal, { description: 'x' })
            : engine.getAccount(ROOT, 'acme', bot.principal);
        await assert.rejects(attempt, (e) => e instanceof KeywardError && e.code === 'store_error', `${call} ${String(bad)}`);
        armed = false;
        assert.equal((await engine.getAccount(ROOT, 'acme', bot.principal)).principal, bot.principal, 'the engine goes on');
      }
    }
  });

  test(`${label}: a store with plain (non-Promise) methods works too`, async () => {
    const map = new MemoryStore();
    const plain = { get: (k) => map.get(k), put: (k, v, e) => map.put(k, v, e), delete: (k, e) => map.delete(k, e), list: (p, a, l) => map.list(p, a, l) };
    const engine = new Engine({ store: plain });
    await engine.createTenant('acme', { admin: ROOT });
    const again = new Engine({ store: map });
    assert.equal((await again.getTenant(ROOT, 'acme')).tenant, 'acme', 'the same data through the built-in store');
  });

  test(`${label}: an audit callback that throws or rejects changes nothing (R-80)`, async () => {
    for (const audit of [() => { throw new Error('sink down'); }, () => Promise.reject(new Error('sink down'))]) {
      const engine = new Engine({ audit });
      const tenant = await engine.createTenant('acme', { admin: ROOT });
      assert.equal(tenant.tenant, 'acme');
    }
  });

  test(`${label}: a token made here verifies with any engine on the same store and pepper (R-20)`, async () => {
    const store = new AsyncMapStore();
    const a = new Engine({ store, pepper: 'p' });
    await a.createTenant('acme', { admin: ROOT });
    const bot = await a.createServiceAccount(ROOT, 'acme', 'bot', { role: 'viewer' });
    const { token } = await a.createToken(ROOT, bot.principal);
    assert.match(token, /^kw_[0-9A-Za-z]{12}_[0-9A-Za-z]{38}$/);
    assert.equal((await new Engine({ store, pepper: 'p' }).verify(token, 'acme', 'x:read')).allowed, true);
    assert.equal((await new Engine({ store, pepper: 'q' }).verify(token, 'acme', 'x:read')).reason, 'invalid_credentials');
  });
}

// Store tests shared by @keyward/node and @keyward/wasm (node --test): the conformance suite
// (checkStore) against the built-in MemoryStore and a JavaScript host store, and the driver's
// use of the optional `getMany`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AsyncMapStore } from './conformance.mjs';

const ROOT = 'root@acme.test';

/** An AsyncMapStore that also reads batches, counting how it is asked. */
export class CountingStore extends AsyncMapStore {
  gets = 0;
  batches = 0;
  batchSizes = [];
  async get(key) {
    this.gets += 1;
    return super.get(key);
  }
  async getMany(keys) {
    this.batches += 1;
    this.batchSizes.push(keys.length);
    return Promise.all(keys.map((k) => super.get(k)));
  }
}

export function defineStoreTests(keyward, testing, label) {
  const { Engine, MemoryStore, KeywardError } = keyward;
  const { checkStore, compareKeys } = testing;

  test(`${label}: checkStore passes on the built-in MemoryStore`, async () => {
    const ran = await checkStore(() => new MemoryStore(), { getMany: true });
    assert.equal(ran.length, 7, ran.join(', '));
  });

  test(`${label}: checkStore passes on an async host store with and without getMany`, async () => {
    await checkStore(() => new AsyncMapStore(), { writers: 16 });
    await checkStore(() => new CountingStore(), { getMany: true, writers: 16 });
  });

  test(`${label}: compareKeys is UTF-8 byte order (U+E000 before U+10000, unlike UTF-16)`, () => {
    assert.ok(compareKeys('a/\uE000', 'a/\u{10000}') < 0);
    assert.ok('a/\uE000' > 'a/\u{10000}', 'JavaScript compares UTF-16 code units');
    assert.ok(compareKeys('a', 'a/') < 0 && compareKeys('é', 'z') > 0 && compareKeys('x', 'x') === 0);
  });

  test(`${label}: checkStore names what a broken store breaks`, async () => {
    class LosesUpdates extends AsyncMapStore {
      async put(key, value, expected) {
        const current = await this.get(key);
        if ((current ? current.version : null) !== expected) return null;
        await new Promise((r) => setTimeout(r, 1)); // checked, then written blindly after a while
        const now = await this.get(key);
        return super.put(key, value, now ? now.version : null);
      }
    }
    await assert.rejects(checkStore(() => new LosesUpdates(), { increments: 3 }), /checkStore: concurrent writers lose no update: /);
    class Utf16Order extends AsyncMapStore {
      async list(prefix, after, limit) {
        return (await super.list(prefix, null, 1000)).filter((e) => after === null || e.key > after).sort((a, b) => (a.key < b.key ? -1 : 1)).slice(0, limit);
      }
    }
    await assert.rejects(checkStore(() => new Utf16Order()), /checkStore: list in bytewise key order.*list\(""/s);
    class StringVersions extends AsyncMapStore {
      async get(key) {
        const e = await super.get(key);
        return e && { ...e, version: String(e.version) };
      }
    }
    await assert.rejects(checkStore(() => new StringVersions()), /get\("k"\) answered \{"value":"v1","version":"1"\}/);
    class ShortGetMany extends AsyncMapStore {
      async getMany(keys) {
        return Promise.all(keys.filter((k) => k !== 'x/missing').map((k) => this.get(k)));
      }
    }
    await assert.rejects(checkStore(() => new ShortGetMany()), /checkStore: getMany: .*getMany\(\["x\/2","x\/missing"/);
    await assert.rejects(checkStore(() => new AsyncMapStore(), { getMany: true }), /the store has no getMany\(\) method/);
  });

  test(`${label}: the engine asks a round of reads through getMany in one call (R-90)`, async () => {
    const store = new CountingStore();
    let now = 1_700_000_000_000;
    const engine = new Engine({ store, clock: () => now });
    await engine.createTenant('acme', { admin: ROOT });
    const bot = await engine.createServiceAccount(ROOT, 'acme', 'bot', { role: 'viewer' });
    const { token } = await engine.createToken(ROOT, bot.principal);
    now += 1;
    assert.equal((await engine.verify(token, 'acme', 'models:read')).allowed, true);
    assert.ok(store.batches > 0, 'batches of reads went to getMany');
    assert.ok(store.batchSizes.every((n) => n > 1), 'a single read is a plain get');
    store.gets = 0;
    store.batches = 0;
    assert.equal((await engine.verify(token, 'acme', 'models:read')).allowed, true);
    // The token alone, then account, tenant and membership in one getMany: two store calls.
    assert.deepEqual({ gets: store.gets, batches: store.batches }, { gets: 1, batches: 1 });
  });

  test(`${label}: a getMany that fails, miscounts or answers a bad version is store_error (R-94)`, async () => {
    const setup = async (getMany) => {
      const store = new CountingStore();
      const engine = new Engine({ store });
      await engine.createTenant('acme', { admin: ROOT });
      const bot = await engine.createServiceAccount(ROOT, 'acme', 'bot', { role: 'viewer' });
      const { token } = await engine.createToken(ROOT, bot.principal);
      store.getMany = getMany(store);
      return { engine, token };
    };
    const cases = [
      ['throws', () => async () => { throw new Error('d1 unavailable'); }, /d1 unavailable/],
      ['answers one entry too few', (s) => async (keys) => Promise.all(keys.slice(1).map((k) => s.get(k))), /answered \d+ entries for \d+ keys/],
      ['answers a string version', (s) => async (keys) => (await Promise.all(keys.map((k) => s.get(k)))).map((e) => e && { ...e, version: String(e.version) }), /getMany.*version "\d+"/],
      ['answers nothing', () => async () => undefined, /answered 0 entries/],
    ];
    for (const [what, getMany, pattern] of cases) {
      const { engine, token } = await setup(getMany);
      // verify's second round is a batch of reads: it goes to the broken getMany.
      const outcome = await engine.verify(token, 'acme', 'models:read').then((d) => d, (e) => e);
      assert.ok(outcome instanceof KeywardError, `${what}: ${JSON.stringify(outcome)}`);
      assert.equal(outcome.code, 'store_error', what);
      assert.match(outcome.message, pattern, what);
    }
  });

  test(`${label}: a store without getMany, or with getMany that is not a function`, async () => {
    const engine = new Engine({ store: new AsyncMapStore() });
    await engine.createTenant('acme', { admin: ROOT });
    assert.equal((await engine.getTenant(ROOT, 'acme')).tenant, 'acme');
    const store = new AsyncMapStore();
    store.getMany = 'yes';
    assert.throws(() => new Engine({ store }), TypeError);
  });
}

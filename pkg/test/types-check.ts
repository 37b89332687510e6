// Compiled by `tsc --noEmit` in `make js-test`: the declarations describe the API as used.
import init, { Engine, MemoryStore, KeywardError, type Store, type Decision, type Identity } from '@keyward/wasm';

const kv = new Map<string, { value: string; version: number }>();
const store: Store = {
  async get(key) { return kv.get(key) ?? null; },
  async put(key, value, expectedVersion) {
    const current = kv.get(key)?.version ?? null;
    if (current !== expectedVersion) return null;
    const version = (current ?? 0) + 1;
    kv.set(key, { value, version });
    return version;
  },
  async delete(key, expectedVersion) { return kv.get(key)?.version === expectedVersion && kv.delete(key); },
  async list(prefix, after, limit) {
    return [...kv.keys()].filter((k) => k.startsWith(prefix) && (after === null || k > after)).sort().slice(0, limit)
      .map((key) => ({ key, ...kv.get(key)! }));
  },
};

export async function example(): Promise<boolean> {
  await init();
  const engine = new Engine({ store, clock: () => Date.now(), audit: (e) => console.log(e.action), pepper: 'p' });
  new Engine({ store: new MemoryStore(), tokenPrefix: 'acme' });
  await engine.createTenant('acme', { admin: 'root@acme.test', settings: { maxTokenTtlDays: 90 } });
  const bot = await engine.createServiceAccount('root@acme.test', 'acme', 'bot', { role: 'viewer', grants: ['models:read'] });
  const created = await engine.createToken('root@acme.test', bot.principal, { ttlDays: 30, scopes: [{ permission: 'models:read', tenant: 'acme' }] });
  const identity: Identity = await engine.authenticate(created.token, { channel: 'api' });
  const decision: Decision = await engine.authorize(identity, 'acme', 'models:read', 'models/gpt*');
  const viaToken = await engine.verify(created.token, 'acme', 'models:read', { channel: 'ui' });
  const page = await engine.listAccounts('root@acme.test', 'acme', { filter: 'service_account=true', pageSize: 10 });
  const log = await engine.auditLog('root@acme.test', 'acme', { pageToken: page.nextPageToken });
  try {
    await engine.setPassword('root@acme.test', bot.principal, 'short');
  } catch (e) {
    if (e instanceof KeywardError && e.code === 'weak_password') console.log(e.rules?.join(','));
  }
  return decision.allowed && viaToken.matched?.source !== undefined && log.events.length > 0 && identity.tokenId !== null;
}

// The stores and the store conformance suite (API.md "Store adapters").
import { D1Store, IndexedDbStore, type D1Like } from '@keyward/wasm/stores';
import { checkStore, compareKeys } from '@keyward/wasm/testing';

export async function stores(db: D1Like): Promise<string[]> {
  const d1: Store = new D1Store(db);
  const idb = new IndexedDbStore('keyward');
  const many: Array<{ value: string; version: number } | null> = await idb.getMany(['a', 'b']);
  await idb.close();
  new Engine({ store: d1 });
  new Engine({ store: { ...store, getMany: async (keys: string[]) => keys.map(() => null) } });
  const order: number = compareKeys('a', 'b');
  return [...(await checkStore(() => new IndexedDbStore(`kw-${order}`), { writers: 4, increments: 5, getMany: true })), String(many.length)];
}

// An edge worker (workerd) using @keyward/wasm as an edge function would: the module imported
// as a compiled WebAssembly module, one synchronous init, and a store whose every method
// answers through a Promise, as Workers KV or a Durable Object would.
import init, { Engine, KeywardError } from '../../pkg/web.mjs';
import wasm from '../../pkg/web/keyward_wasm_bg.wasm';

init({ module: wasm });

const kv = new Map();
const store = {
  async get(key) {
    return kv.get(key) ?? null;
  },
  async put(key, value, expected) {
    const current = kv.get(key)?.version ?? null;
    if (current !== expected) return null;
    const version = (current ?? 0) + 1;
    kv.set(key, { value, version });
    return version;
  },
  async delete(key, expected) {
    return kv.get(key)?.version === expected && kv.delete(key);
  },
  async list(prefix, after, limit) {
    return [...kv.keys()]
      .filter((k) => k.startsWith(prefix) && (after === null || k > after))
      .sort()
      .slice(0, limit)
      .map((key) => ({ key, ...kv.get(key) }));
  },
};

const events = [];
const engine = new Engine({ store, audit: (e) => events.push(e.action) });

export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === '/setup') {
      await engine.createTenant('acme', { admin: 'root@acme.test' });
      const bot = await engine.createServiceAccount('root@acme.test', 'acme', 'edge-bot', { role: 'viewer' });
      const { token } = await engine.createToken('root@acme.test', bot.principal, { ttlDays: 1 });
      return Response.json({ token });
    }
    if (url.pathname === '/verify') {
      const token = request.headers.get('authorization')?.replace(/^Bearer /, '') ?? '';
      const decision = await engine.verify(token, 'acme', url.searchParams.get('permission'));
      return Response.json(decision, { status: decision.allowed ? 200 : 403 });
    }
    if (url.pathname === '/error') {
      try {
        await engine.getTenant('root@acme.test', 'nowhere');
        return new Response('no error', { status: 500 });
      } catch (e) {
        return Response.json({ isKeywardError: e instanceof KeywardError, code: e.code });
      }
    }
    return Response.json({ events });
  },
};

// An edge worker (workerd) keeping Keyward in Cloudflare D1 through @keyward/wasm/stores, and
// running the store conformance suite (@keyward/wasm/testing) against the real D1 binding.
import init, { Engine } from '../../pkg/web.mjs';
import { D1Store } from '../../pkg/stores.mjs';
import { checkStore } from '../../pkg/testing.mjs';
import wasm from '../../pkg/web/keyward_wasm_bg.wasm';

init({ module: wasm });

const ROOT = 'root@acme.test';

/** The D1 binding, counting the statements prepared through it. */
function counting(db) {
  const counter = { statements: [], prepare: (sql) => { counter.statements.push(sql); return db.prepare(sql); } };
  return counter;
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    try {
      if (url.pathname === '/check') {
        const ran = await checkStore(async () => {
          await env.DB.prepare('DROP TABLE IF EXISTS keyward_kv').run();
          return new D1Store(env.DB);
        }, { getMany: true, writers: 16, increments: 5 });
        return Response.json({ ran });
      }
      if (url.pathname === '/reset') {
        await env.DB.prepare('DROP TABLE IF EXISTS keyward_kv').run();
        return Response.json({});
      }
      if (url.pathname === '/increment') {
        // One CAS-retry increment, from a request of its own (its own D1Store).
        const store = new D1Store(env.DB);
        for (let attempts = 1; ; attempts++) {
          const current = await store.get('counter');
          const n = current ? Number(current.value) : 0;
          if ((await store.put('counter', String(n + 1), current ? current.version : null)) !== null) return Response.json({ attempts });
        }
      }
      if (url.pathname === '/counter') {
        return Response.json(await new D1Store(env.DB).get('counter'));
      }
      if (url.pathname === '/engine') {
        const now = Number(url.searchParams.get('now') ?? Date.now());
        const engine = new Engine({ store: new D1Store(env.DB), clock: () => now });
        await engine.createTenant('acme', { admin: ROOT });
        const bot = await engine.createServiceAccount(ROOT, 'acme', 'edge-bot', { role: 'viewer' });
        const { token } = await engine.createToken(ROOT, bot.principal, { ttlDays: 1 });
        return Response.json({ token });
      }
      if (url.pathname === '/verify') {
        const now = Number(url.searchParams.get('now') ?? Date.now());
        const db = counting(env.DB);
        const store = new D1Store(db);
        await store.get('warm-up'); // the table check, once per store, before counting
        const engine = new Engine({ store, clock: () => now });
        db.statements.length = 0;
        const decision = await engine.verify(request.headers.get('authorization')?.replace(/^Bearer /, '') ?? '', 'acme', url.searchParams.get('permission'));
        return Response.json({ decision, statements: db.statements });
      }
      return new Response('not found', { status: 404 });
    } catch (e) {
      return Response.json({ failure: String(e && e.stack ? e.stack : e) }, { status: 500 });
    }
  },
};

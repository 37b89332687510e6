// @keyward/wasm in workerd (through Miniflare): the `web` build, one synchronous init with the
// imported module, an async host store, and Date.now as the only clock.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { Miniflare } from 'miniflare';

const root = fileURLToPath(new URL('../..', import.meta.url));
const mf = new Miniflare({
  modules: true,
  modulesRoot: root,
  modulesRules: [
    { type: 'ESModule', include: ['**/*.js', '**/*.mjs'] },
    { type: 'CompiledWasm', include: ['**/*.wasm'] },
  ],
  scriptPath: fileURLToPath(new URL('./worker.mjs', import.meta.url)),
});
after(() => mf.dispose());

test('workerd: tokens are made and verified in an edge worker with an async store', async () => {
  const { token } = await (await mf.dispatchFetch('http://localhost/setup')).json();
  assert.match(token, /^kw_/);
  const ok = await mf.dispatchFetch('http://localhost/verify?permission=models:read', { headers: { authorization: `Bearer ${token}` } });
  assert.equal(ok.status, 200);
  assert.deepEqual((await ok.json()).matched, { permission: '*:read', resource: '*', source: 'role:viewer' });
  const no = await mf.dispatchFetch('http://localhost/verify?permission=models:write', { headers: { authorization: `Bearer ${token}` } });
  assert.equal(no.status, 403);
  assert.equal((await no.json()).reason, 'forbidden');
  const bad = await mf.dispatchFetch('http://localhost/verify?permission=models:read', { headers: { authorization: 'Bearer kw_nope' } });
  assert.equal((await bad.json()).reason, 'invalid_credentials');
});

test('workerd: errors are KeywardError with a code, and the audit callback sees decisions', async () => {
  assert.deepEqual(await (await mf.dispatchFetch('http://localhost/error')).json(), { isKeywardError: true, code: 'not_found' });
  const { events } = await (await mf.dispatchFetch('http://localhost/events')).json();
  assert.ok(events.includes('tenant.create') && events.includes('auth.verify'), JSON.stringify(events));
});

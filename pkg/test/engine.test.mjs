// Host-idiomatic tests of @keyward/wasm in Node, its entry points, and the browser build's
// portability rules (no `fs`, no `__dirname`, no clock in the module).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import * as esm from '@keyward/wasm';
import { defineEngineTests } from '../../js/engine-suite.mjs';

const require = createRequire(import.meta.url);
const cjs = require('@keyward/wasm');
defineEngineTests(cjs, '@keyward/wasm');

test('@keyward/wasm: import and require work in Node with no init call', async () => {
  assert.equal(esm.Engine, cjs.Engine);
  const engine = new esm.Engine();
  const tenant = await engine.createTenant('acme', { admin: 'root@acme.test' });
  assert.equal(tenant.tenant, 'acme');
});

test('@keyward/wasm: the browser build uses no Node API and no clock at import', () => {
  const here = new URL('..', import.meta.url);
  for (const file of ['web.mjs', 'driver.mjs', 'web/keyward_wasm.js']) {
    const text = readFileSync(new URL(file, here), 'utf8');
    for (const banned of ['__dirname', "require('fs')", 'require("fs")', 'node:fs', 'performance.now']) {
      assert.ok(!text.includes(banned), `${file} mentions ${banned}`);
    }
  }
});

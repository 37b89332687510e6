// Host-idiomatic tests of @keyward/node, and its two entry points.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import * as esm from '../index.mjs';
import { defineEngineTests } from '../../js/engine-suite.mjs';

const cjs = createRequire(import.meta.url)('../index.js');
defineEngineTests(cjs, '@keyward/node');

test('@keyward/node: require and import give the same classes', () => {
  assert.equal(esm.Engine, cjs.Engine);
  assert.equal(esm.KeywardError, cjs.KeywardError);
});

// The store conformance suite and getMany in @keyward/wasm (in Node; D1Store and IndexedDbStore
// run in workerd and Chromium: tests/e2e).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import * as testing from '../testing.mjs';
import * as stores from '../stores.mjs';
import { defineStoreTests } from '../../js/store-suite.mjs';

const keyward = createRequire(import.meta.url)('../node.cjs');
defineStoreTests(keyward, testing, '@keyward/wasm');

test('@keyward/wasm/stores exports D1Store and IndexedDbStore, each refusing a wrong host object', () => {
  assert.deepEqual(Object.keys(stores).sort(), ['D1Store', 'IndexedDbStore']);
  assert.throws(() => new stores.D1Store({}), /D1 database binding/);
  assert.throws(() => new stores.IndexedDbStore('kw'), /needs indexedDB/);
});

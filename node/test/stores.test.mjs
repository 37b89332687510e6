// The store conformance suite and getMany in @keyward/node, through both entry points.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import * as testing from '../testing.mjs';
import * as stores from '../stores.mjs';
import { defineStoreTests } from '../../js/store-suite.mjs';

const require = createRequire(import.meta.url);
const keyward = require('../index.js');
defineStoreTests(keyward, testing, '@keyward/node');

test('@keyward/node/stores and /testing: require and import give the same functions', () => {
  assert.deepEqual(Object.keys(stores), ['PostgresStore']);
  assert.equal(require('../stores.js').PostgresStore, stores.PostgresStore);
  assert.equal(require('../testing.cjs').checkStore, testing.checkStore);
  assert.throws(() => new stores.PostgresStore({}), /pg Pool/);
});

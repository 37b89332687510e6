'use strict';
// @keyward/node/stores: Keyward's PostgreSQL store over a `pg` Pool the host makes (the code is
// js/stores.mjs, copied by the build). `pg` is the host's dependency, not this package's.
const { PostgresStore } = require('./store-adapters.cjs');

module.exports = { PostgresStore };

'use strict';
// @keyward/node: the native engine (keyward.node, built from bindings/node) behind the shared
// JavaScript driver (driver.cjs, copied from js/driver.mjs by the build).
const native = require('./keyward.node');
const { createKeyward } = require('./driver.cjs');

module.exports = createKeyward(native);

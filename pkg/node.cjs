'use strict';
// @keyward/wasm in Node, CommonJS: the `nodejs` wasm-bindgen target loads the module
// synchronously, so no init call is needed.
const native = require('./nodejs/keyward_wasm.js');
const { createKeyward } = require('./driver.cjs');

module.exports = { ...createKeyward(native), init: () => Promise.resolve() };

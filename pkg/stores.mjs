// @keyward/wasm/stores: Keyward's stores for edge workers and browsers (the code is
// js/stores.mjs, copied by the build): D1Store over a Cloudflare D1 binding, IndexedDbStore in a
// browser's IndexedDB.
export { D1Store, IndexedDbStore } from './store-adapters.mjs';

// The console's one engine: @keyward/wasm's web build over the browser's IndexedDB, so that
// everything the console does is kept by the browser and survives a reload.
import init, { Engine } from '@keyward/wasm';
import { IndexedDbStore } from '@keyward/wasm/stores';

/** The IndexedDB database holding the console's data (tenants, accounts, token hashes, audit). */
export const DATABASE = 'keyward-admin-ui';

await init(); // fetches keyward_wasm_bg.wasm beside the module

export const store = new IndexedDbStore(DATABASE);
export const engine = new Engine({ store });

/** True before the first tenant is created: the console then offers its set-up form. */
export async function databaseIsEmpty() {
  return (await store.list('', null, 1)).length === 0;
}

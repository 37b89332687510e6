// ESM entry of @keyward/node/stores.
import stores from './stores.js';

export const { PostgresStore } = stores;

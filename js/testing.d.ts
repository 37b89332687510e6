// Declarations of the store conformance suite (js/testing.mjs), shared by @keyward/node/testing
// and @keyward/wasm/testing.
import type { Store } from './index.js';

export interface CheckStoreOptions {
  /** Concurrent writers in the lost-update check (default 8). */
  writers?: number;
  /** Compare-and-set increments per writer (default 10). */
  increments?: number;
  /** Fail when the store has no `getMany` (default: check it only when present). */
  getMany?: boolean;
}

/**
 * Proves a store adapter against the store protocol: compare-and-set on new and existing keys,
 * stale versions, deletes, `list` paging in bytewise (UTF-8) key order with non-ASCII keys,
 * `getMany` order and misses, and concurrent writers that lose no update. `makeStore` returns a
 * new, empty store each call. Rejects with an Error naming the first broken promise; resolves to
 * the names of the checks that ran.
 */
export declare function checkStore(makeStore: () => Store | Promise<Store>, options?: CheckStoreOptions): Promise<string[]>;

/** Bytewise (UTF-8) order of two strings, as every store orders keys: negative, 0 or positive. */
export declare function compareKeys(a: string, b: string): number;

// Declarations of @keyward/wasm/stores (API.md "Store adapters").
import type { Store } from './index.js';

/** What D1Store needs of a Cloudflare D1 binding (`env.DB`). */
export interface D1Like {
  prepare(sql: string): {
    bind(...values: unknown[]): {
      first<T = Record<string, unknown>>(): Promise<T | null>;
      all<T = Record<string, unknown>>(): Promise<{ results: T[] }>;
      run(): Promise<{ meta: { changes: number } }>;
    };
    run(): Promise<unknown>;
  };
}

/**
 * Keyward's store in Cloudflare D1 (SQLite): the table `keyward_kv` shared with every host,
 * created when missing; keys in bytewise order; one statement per compare-and-set and per
 * `getMany`.
 */
export declare class D1Store implements Store {
  constructor(db: D1Like);
  get(key: string): Promise<{ value: string; version: number } | null>;
  getMany(keys: string[]): Promise<Array<{ value: string; version: number } | null>>;
  put(key: string, value: string, expectedVersion: number | null): Promise<number | null>;
  delete(key: string, expectedVersion: number): Promise<boolean>;
  list(prefix: string, after: string | null, limit: number): Promise<Array<{ key: string; value: string; version: number }>>;
}

/**
 * Keyward's store in a browser's IndexedDB (database `name`, object store `keyward_kv`). Keys are
 * stored as UTF-8 bytes so that they order bytewise; each compare-and-set is one readwrite
 * transaction.
 */
export declare class IndexedDbStore implements Store {
  /** `options`: another IndexedDB than the page's (a polyfill), with its IDBKeyRange. */
  constructor(name: string, options?: { indexedDB?: IDBFactory; IDBKeyRange?: typeof IDBKeyRange });
  get(key: string): Promise<{ value: string; version: number } | null>;
  getMany(keys: string[]): Promise<Array<{ value: string; version: number } | null>>;
  put(key: string, value: string, expectedVersion: number | null): Promise<number | null>;
  delete(key: string, expectedVersion: number): Promise<boolean>;
  list(prefix: string, after: string | null, limit: number): Promise<Array<{ key: string; value: string; version: number }>>;
  /** Closes the connection; the data stays. */
  close(): Promise<void>;
}

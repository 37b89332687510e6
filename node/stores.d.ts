// Declarations of @keyward/node/stores (API.md "Store adapters").
import type { Store } from './index.js';

/** What PostgresStore needs of a `pg` Pool (or Client): `query(text, values)`. */
export interface Queryable {
  query(text: string, values?: unknown[]): Promise<{ rows: any[]; rowCount: number | null }>;
}

/**
 * Keyward's store in PostgreSQL, over a `pg` Pool the host makes. Creates the table
 * `keyward_kv (key TEXT COLLATE "C" PRIMARY KEY, value TEXT NOT NULL, version BIGINT NOT NULL)`
 * when missing; every compare-and-set is one statement; `getMany` is one query.
 */
export declare class PostgresStore implements Store {
  constructor(pool: Queryable);
  readonly pool: Queryable;
  get(key: string): Promise<{ value: string; version: number } | null>;
  getMany(keys: string[]): Promise<Array<{ value: string; version: number } | null>>;
  put(key: string, value: string, expectedVersion: number | null): Promise<number | null>;
  delete(key: string, expectedVersion: number): Promise<boolean>;
  list(prefix: string, after: string | null, limit: number): Promise<Array<{ key: string; value: string; version: number }>>;
}

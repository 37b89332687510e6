// Compiled by `tsc --noEmit` in `make js-test`: @keyward/node's declarations as used.
import { Engine, type Store } from '@keyward/node';
import { PostgresStore, type Queryable } from '@keyward/node/stores';
import { checkStore, compareKeys } from '@keyward/node/testing';

// What a `pg` Pool offers (pg's own types are the host's: @types/pg is not needed here).
declare const pool: { query(text: string, values?: unknown[]): Promise<{ rows: any[]; rowCount: number | null; command: string }> };

export async function example(): Promise<string[]> {
  const queryable: Queryable = pool;
  const store: Store = new PostgresStore(queryable);
  const engine = new Engine({ store });
  await engine.createTenant('acme', { admin: 'root@acme.test' });
  const many: Array<{ value: string; version: number } | null> = await new PostgresStore(pool).getMany(['a', 'b']);
  const ran: string[] = await checkStore(async () => new PostgresStore(pool), { writers: 4, getMany: true });
  return [...ran, String(compareKeys('a', 'b')), String(many.length)];
}

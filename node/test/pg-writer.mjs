// A writer process for postgres.test.mjs: CAS-retry increments of one key through a pool and a
// PostgresStore of its own. Usage: node pg-writer.mjs URL TIMES
import pg from 'pg';
import { PostgresStore } from '../stores.mjs';

const [url, times] = process.argv.slice(2);
const pool = new pg.Pool({ connectionString: url, max: 2 });
const store = new PostgresStore(pool);
let conflicts = 0;
try {
  for (let i = 0; i < Number(times); i++) {
    for (;;) {
      const current = await store.get('counter');
      const n = current ? Number(current.value) : 0;
      if ((await store.put('counter', String(n + 1), current ? current.version : null)) !== null) break;
      conflicts += 1;
    }
  }
  process.stdout.write(JSON.stringify({ conflicts }));
} finally {
  await pool.end();
}

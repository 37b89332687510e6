// Keyward's durable stores for JavaScript hosts (API.md "Store adapters"), written once and
// copied into both npm packages by the build: @keyward/node/stores exports PostgresStore,
// @keyward/wasm/stores exports D1Store and IndexedDbStore. No imports: each store is handed the
// host's own client (a `pg` Pool, a D1 binding, the browser's indexedDB).
//
// Every store speaks the store protocol the driver expects (js/driver.mjs `answer()`):
//   get(key) -> { value, version } | null
//   put(key, value, expectedVersion | null) -> new version | null (conflict)
//   delete(key, expectedVersion) -> boolean (false: conflict)
//   list(prefix, after | null, limit) -> [{ key, value, version }] in bytewise (UTF-8) key order
//   getMany(keys) -> [{ value, version } | null], one answer per key, in order
// The SQL stores share one table with every other host; each compare-and-set is one statement.

const TABLE = 'keyward_kv';

/**
 * The smallest string above every string that starts with `prefix`, in code-point order (which
 * is UTF-8 byte order), or null when there is none (an empty prefix). Lets `list` ask for a key
 * range (`key >= prefix AND key < end`), which an index answers, instead of LIKE, whose `%` and
 * `_` would be wildcards inside keys.
 */
export function prefixEnd(prefix) {
  const points = Array.from(prefix, (c) => c.codePointAt(0));
  while (points.length > 0) {
    let last = points.pop() + 1;
    if (last === 0xd800) last = 0xe000; // surrogates are not characters
    if (last <= 0x10ffff) return String.fromCodePoint(...points, last);
  }
  return null;
}

/** A stored version as a JavaScript number: BIGINT columns may come back as strings or bigints. */
function toVersion(v) {
  const n = typeof v === 'number' ? v : typeof v === 'bigint' || (typeof v === 'string' && /^[0-9]+$/.test(v)) ? Number(v) : NaN;
  if (Number.isSafeInteger(n) && n > 0 && (typeof v !== 'string' || String(n) === v.replace(/^0+(?=.)/, ''))) return n;
  throw new Error(`keyward_kv holds version ${String(v)}, not a positive integer below 2^53`);
}

function checkKey(key, what = 'key') {
  if (typeof key !== 'string') throw new TypeError(`${what} must be a string`);
  return key;
}

function checkLimit(limit) {
  if (!Number.isSafeInteger(limit) || limit < 0) throw new TypeError('limit must be a non-negative integer');
  return limit;
}

function checkExpected(v, nullable) {
  if (v === null && nullable) return v;
  if (!Number.isSafeInteger(v) || v <= 0) throw new TypeError('expectedVersion must be a positive integer' + (nullable ? ' or null' : ''));
  return v;
}

/** Runs `create` once; a failure is not remembered, so the next call tries again. */
function once(create) {
  let ready = null;
  return () => {
    ready ??= create().catch((e) => {
      ready = null;
      throw e;
    });
    return ready;
  };
}

/**
 * Keyward's store over PostgreSQL, through a `pg` Pool (or Client) the host makes: anything with
 * `query(text, values) -> Promise<{ rows, rowCount }>`. The table `keyward_kv` (key TEXT COLLATE
 * "C", so keys sort bytewise) is created when missing.
 */
export class PostgresStore {
  #pool;
  #ready;

  constructor(pool) {
    if (!pool || typeof pool.query !== 'function') throw new TypeError('PostgresStore needs a pg Pool (an object with query())');
    this.#pool = pool;
    this.#ready = once(async () => {
      const create = `CREATE TABLE IF NOT EXISTS ${TABLE} (key TEXT COLLATE "C" PRIMARY KEY, value TEXT NOT NULL, version BIGINT NOT NULL)`;
      try {
        await pool.query(create);
      } catch (e) {
        // Two first uses at once may both try to create the table: the loser gets a unique
        // violation on the catalog, "type already exists" or "relation already exists", raised
        // once the winner has committed. The table is there.
        if (e && ['23505', '42710', '42P07'].includes(e.code)) return;
        throw e;
      }
    });
  }

  /** The pool this store queries. */
  get pool() {
    return this.#pool;
  }

  async #query(text, values) {
    await this.#ready();
    return this.#pool.query(text, values);
  }

  async get(key) {
    const { rows } = await this.#query(`SELECT value, version FROM ${TABLE} WHERE key = $1`, [checkKey(key)]);
    return rows.length === 0 ? null : { value: rows[0].value, version: toVersion(rows[0].version) };
  }

  async getMany(keys) {
    const list = Array.from(keys, (k) => checkKey(k, 'every key'));
    if (list.length === 0) return [];
    const { rows } = await this.#query(`SELECT key, value, version FROM ${TABLE} WHERE key = ANY($1::text[])`, [list]);
    const found = new Map(rows.map((r) => [r.key, { value: r.value, version: toVersion(r.version) }]));
    return list.map((k) => (found.has(k) ? { ...found.get(k) } : null));
  }

  async put(key, value, expectedVersion) {
    checkKey(key);
    if (typeof value !== 'string') throw new TypeError('value must be a string');
    const { rows } = checkExpected(expectedVersion ?? null, true) === null
      ? await this.#query(`INSERT INTO ${TABLE} (key, value, version) VALUES ($1, $2, 1) ON CONFLICT (key) DO NOTHING RETURNING version`, [key, value])
      : await this.#query(`UPDATE ${TABLE} SET value = $2, version = version + 1 WHERE key = $1 AND version = $3 RETURNING version`, [key, value, expectedVersion]);
    return rows.length === 0 ? null : toVersion(rows[0].version);
  }

  async delete(key, expectedVersion) {
    const r = await this.#query(`DELETE FROM ${TABLE} WHERE key = $1 AND version = $2`, [checkKey(key), checkExpected(expectedVersion, false)]);
    return r.rowCount === 1;
  }

  async list(prefix, after, limit) {
    checkKey(prefix, 'prefix');
    if (after != null) checkKey(after, 'after');
    if (checkLimit(limit) === 0) return [];
    const values = [prefix];
    let where = 'key >= $1';
    const end = prefixEnd(prefix);
    if (end !== null) where += ` AND key < $${values.push(end)}`;
    if (after != null) where += ` AND key > $${values.push(after)}`;
    const sql = `SELECT key, value, version FROM ${TABLE} WHERE ${where} ORDER BY key COLLATE "C" LIMIT $${values.push(limit)}`;
    const { rows } = await this.#query(sql, values);
    return rows.map((r) => ({ key: r.key, value: r.value, version: toVersion(r.version) }));
  }
}

/**
 * Keyward's store over Cloudflare D1 (`env.DB` in a Worker): SQLite underneath, whose BINARY
 * collation orders keys bytewise. The table is created when missing.
 */
export class D1Store {
  #db;
  #ready;

  constructor(db) {
    if (!db || typeof db.prepare !== 'function') throw new TypeError('D1Store needs a D1 database binding (env.DB)');
    this.#db = db;
    this.#ready = once(async () => {
      await db.prepare(`CREATE TABLE IF NOT EXISTS ${TABLE} (key TEXT PRIMARY KEY, value TEXT NOT NULL, version BIGINT NOT NULL)`).run();
    });
  }

  async #stmt(sql, ...values) {
    await this.#ready();
    return this.#db.prepare(sql).bind(...values);
  }

  async get(key) {
    const row = await (await this.#stmt(`SELECT value, version FROM ${TABLE} WHERE key = ?1`, checkKey(key))).first();
    return row == null ? null : { value: row.value, version: toVersion(row.version) };
  }

  async getMany(keys) {
    const list = Array.from(keys, (k) => checkKey(k, 'every key'));
    if (list.length === 0) return [];
    // One statement whatever the number of keys (D1 caps bound parameters at 100).
    const { results } = await (await this.#stmt(
      `SELECT key, value, version FROM ${TABLE} WHERE key IN (SELECT value FROM json_each(?1))`, JSON.stringify(list))).all();
    const found = new Map(results.map((r) => [r.key, { value: r.value, version: toVersion(r.version) }]));
    return list.map((k) => (found.has(k) ? { ...found.get(k) } : null));
  }

  async put(key, value, expectedVersion) {
    checkKey(key);
    if (typeof value !== 'string') throw new TypeError('value must be a string');
    const row = checkExpected(expectedVersion ?? null, true) === null
      ? await (await this.#stmt(`INSERT INTO ${TABLE} (key, value, version) VALUES (?1, ?2, 1) ON CONFLICT (key) DO NOTHING RETURNING version`, key, value)).first()
      : await (await this.#stmt(`UPDATE ${TABLE} SET value = ?2, version = version + 1 WHERE key = ?1 AND version = ?3 RETURNING version`, key, value, expectedVersion)).first();
    return row == null ? null : toVersion(row.version);
  }

  async delete(key, expectedVersion) {
    const r = await (await this.#stmt(`DELETE FROM ${TABLE} WHERE key = ?1 AND version = ?2`, checkKey(key), checkExpected(expectedVersion, false))).run();
    return r.meta.changes === 1;
  }

  async list(prefix, after, limit) {
    checkKey(prefix, 'prefix');
    if (after != null) checkKey(after, 'after');
    if (checkLimit(limit) === 0) return [];
    const values = [prefix];
    let where = 'key >= ?1';
    const end = prefixEnd(prefix);
    if (end !== null) where += ` AND key < ?${values.push(end)}`;
    if (after != null) where += ` AND key > ?${values.push(after)}`;
    const sql = `SELECT key, value, version FROM ${TABLE} WHERE ${where} ORDER BY key LIMIT ?${values.push(limit)}`;
    const { results } = await (await this.#stmt(sql, ...values)).all();
    return results.map((r) => ({ key: r.key, value: r.value, version: toVersion(r.version) }));
  }
}

const utf8 = new TextEncoder();

/** A key as IndexedDB stores it: its UTF-8 bytes, which IndexedDB compares bytewise. */
const binaryKey = (key) => utf8.encode(key);

/** The first binary key above every key that starts with `bytes`, or null (empty prefix). */
function binaryPrefixEnd(bytes) {
  const end = Uint8Array.from(bytes);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i] < 0xff) {
      end[i] += 1;
      return end.slice(0, i + 1);
    }
  }
  return null;
}

function request(r) {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

/**
 * Keyward's store in a browser's IndexedDB: database `name`, object store `keyward_kv`. Keys are
 * stored as their UTF-8 bytes (IndexedDB orders strings by UTF-16 code units, which puts astral
 * characters before U+E000–U+FFFF; bytes keep Rust's order). Each compare-and-set reads and writes
 * inside one readwrite transaction, which IndexedDB runs alone over its object store.
 */
export class IndexedDbStore {
  #name;
  #db = null;
  #factory;
  #range;

  /**
   * @param {string} name  the database's name
   * @param {{ indexedDB?: IDBFactory, IDBKeyRange?: typeof IDBKeyRange }} [options]  another
   *   implementation than the page's (a polyfill in Node, say)
   */
  constructor(name, options = {}) {
    this.#name = checkKey(name, 'name');
    this.#factory = options.indexedDB ?? globalThis.indexedDB;
    this.#range = options.IDBKeyRange ?? globalThis.IDBKeyRange;
    if (!this.#factory || !this.#range) throw new TypeError('IndexedDbStore needs indexedDB and IDBKeyRange (a browser)');
  }

  #open() {
    this.#db ??= new Promise((resolve, reject) => {
      const r = this.#factory.open(this.#name, 1);
      r.onupgradeneeded = () => {
        if (!r.result.objectStoreNames.contains(TABLE)) r.result.createObjectStore(TABLE);
      };
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
      r.onblocked = () => reject(new Error(`IndexedDB ${this.#name} is blocked by another connection`));
    }).catch((e) => {
      this.#db = null;
      throw e;
    });
    return this.#db;
  }

  /**
   * Runs `body(objectStore)` in one transaction; `body` issues requests synchronously (from their
   * callbacks) and sets the answer through `done(v)`. Resolves once the transaction commits.
   */
  async #transaction(mode, body) {
    const db = await this.#open();
    return new Promise((resolve, reject) => {
      const tx = db.transaction(TABLE, mode);
      let result;
      tx.oncomplete = () => resolve(result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'));
      try {
        body(tx.objectStore(TABLE), (v) => {
          result = v;
        });
      } catch (e) {
        tx.abort();
        reject(e);
      }
    });
  }

  /** Closes the database connection (the data stays). */
  async close() {
    if (this.#db) (await this.#db).close();
    this.#db = null;
  }

  async get(key) {
    const k = binaryKey(checkKey(key));
    return this.#transaction('readonly', (os, done) => {
      const r = os.get(k);
      r.onsuccess = () => done(r.result == null ? null : { value: r.result.value, version: r.result.version });
    });
  }

  async getMany(keys) {
    const list = Array.from(keys, (k) => checkKey(k, 'every key'));
    return this.#transaction('readonly', (os, done) => {
      const answers = list.map(() => null);
      done(answers);
      list.forEach((key, i) => {
        const r = os.get(binaryKey(key));
        r.onsuccess = () => {
          answers[i] = r.result == null ? null : { value: r.result.value, version: r.result.version };
        };
      });
    });
  }

  async put(key, value, expectedVersion) {
    const k = binaryKey(checkKey(key));
    if (typeof value !== 'string') throw new TypeError('value must be a string');
    const expected = checkExpected(expectedVersion ?? null, true);
    return this.#transaction('readwrite', (os, done) => {
      done(null);
      const r = os.get(k);
      r.onsuccess = () => {
        const current = r.result == null ? null : r.result.version;
        if (current !== expected) return;
        const version = current === null ? 1 : current + 1;
        os.put({ key, value, version }, k).onsuccess = () => done(version);
      };
    });
  }

  async delete(key, expectedVersion) {
    const k = binaryKey(checkKey(key));
    const expected = checkExpected(expectedVersion, false);
    return this.#transaction('readwrite', (os, done) => {
      done(false);
      const r = os.get(k);
      r.onsuccess = () => {
        if (r.result == null || r.result.version !== expected) return;
        os.delete(k).onsuccess = () => done(true);
      };
    });
  }

  async list(prefix, after, limit) {
    const low = binaryKey(checkKey(prefix, 'prefix'));
    if (after != null) checkKey(after, 'after');
    if (checkLimit(limit) === 0) return Promise.resolve([]);
    const high = binaryPrefixEnd(low);
    // Keys > after and >= prefix: start from whichever is higher.
    const afterKey = after == null ? null : binaryKey(after);
    const fromAfter = afterKey !== null && this.#factory.cmp(afterKey, low) >= 0;
    const lower = fromAfter ? afterKey : low;
    if (high !== null && this.#factory.cmp(lower, high) >= 0) return Promise.resolve([]);
    const range = high === null
      ? this.#range.lowerBound(lower, fromAfter)
      : this.#range.bound(lower, high, fromAfter, true);
    return this.#transaction('readonly', (os, done) => {
      const r = os.getAll(range, limit);
      r.onsuccess = () => done(r.result.map((e) => ({ key: e.key, value: e.value, version: e.version })));
    });
  }
}

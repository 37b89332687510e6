//! [`PostgresStore`]: the Keyward table in one PostgreSQL database.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use keyward_core::{Entry, Store, StoreFailure, Versioned};
use postgres::types::ToSql;
use postgres::{Client, NoTls, Row, Statement};

use crate::{sql_limit, version_from_sql, Range};

const CREATE: &str = r#"CREATE TABLE IF NOT EXISTS keyward_kv (key TEXT COLLATE "C" PRIMARY KEY, value TEXT NOT NULL, version BIGINT NOT NULL)"#;
const GET: &str = "SELECT value, version FROM keyward_kv WHERE key = $1";
const GET_MANY: &str = "SELECT key, value, version FROM keyward_kv WHERE key = ANY($1)";
const INSERT: &str = "INSERT INTO keyward_kv (key, value, version) VALUES ($1, $2, 1) ON CONFLICT (key) DO NOTHING";
const UPDATE: &str =
    "UPDATE keyward_kv SET value = $2, version = version + 1 WHERE key = $1 AND version = $3 RETURNING version";
const DELETE: &str = "DELETE FROM keyward_kv WHERE key = $1 AND version = $2";
// `list`, by the kind of range: `COLLATE "C"` keeps the order bytewise even on a table that
// another tool created without it.
const LIST_FROM_TO: &str = r#"SELECT key, value, version FROM keyward_kv WHERE key >= $1 COLLATE "C" AND key < $3 COLLATE "C" ORDER BY key COLLATE "C" LIMIT $2"#;
const LIST_AFTER_TO: &str = r#"SELECT key, value, version FROM keyward_kv WHERE key > $1 COLLATE "C" AND key < $3 COLLATE "C" ORDER BY key COLLATE "C" LIMIT $2"#;
const LIST_FROM: &str =
    r#"SELECT key, value, version FROM keyward_kv WHERE key >= $1 COLLATE "C" ORDER BY key COLLATE "C" LIMIT $2"#;
const LIST_AFTER: &str =
    r#"SELECT key, value, version FROM keyward_kv WHERE key > $1 COLLATE "C" ORDER BY key COLLATE "C" LIMIT $2"#;

/// The statements, prepared once per connection so that each call is one round trip.
struct Prepared {
    get: Statement,
    get_many: Statement,
    insert: Statement,
    update: Statement,
    delete: Statement,
    list_from_to: Statement,
    list_after_to: Statement,
    list_from: Statement,
    list_after: Statement,
}

struct Connection {
    client: Client,
    prepared: Prepared,
}

impl Connection {
    fn open(url: &str) -> Result<Connection, StoreFailure> {
        let mut client = Client::connect(url, NoTls).map_err(|e| failure("connect", &e))?;
        // Two first connections may both try to create the table; PostgreSQL's
        // `IF NOT EXISTS` is not safe against that race and one of them fails: try again once,
        // the table is there then.
        if client.batch_execute(CREATE).is_err() {
            client.batch_execute(CREATE).map_err(|e| failure("create table", &e))?;
        }
        let prepared = prepare(&mut client).map_err(|e| failure("prepare", &e))?;
        Ok(Connection { client, prepared })
    }
}

/// A Keyward store in one PostgreSQL database (the synchronous `postgres` client, no TLS):
/// the `keyward_kv` table, its key `TEXT COLLATE "C"` so that keys order bytewise, created
/// when missing.
///
/// One connection behind a mutex: share one `PostgresStore` between threads, or connect one
/// per thread for parallel queries. Each compare-and-set is one statement, atomic under
/// PostgreSQL's default isolation, so any number of connections and processes may write at
/// once. A call that finds the connection closed (a server restart) connects again first; a
/// call the broken connection failed is not retried (a write may have happened).
pub struct PostgresStore {
    /// Kept to connect again; never shown (it may hold a password).
    url: String,
    conn: Mutex<Connection>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore").finish_non_exhaustive()
    }
}

/// A failure of `what`: the server's message and SQLSTATE, never its detail (which may quote
/// a row, R-82).
fn failure(what: &str, error: &postgres::Error) -> StoreFailure {
    let detail = match error.as_db_error() {
        Some(db) => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
        None if error.is_closed() => "the connection is closed".to_owned(),
        // Client-side errors (connection, protocol, conversion) name no value; their sources
        // are left out all the same.
        None => error.to_string().lines().next().unwrap_or_default().to_owned(),
    };
    StoreFailure(format!("postgres {what}: {detail}"))
}

fn prepare(client: &mut Client) -> Result<Prepared, postgres::Error> {
    Ok(Prepared {
        get: client.prepare(GET)?,
        get_many: client.prepare(GET_MANY)?,
        insert: client.prepare(INSERT)?,
        update: client.prepare(UPDATE)?,
        delete: client.prepare(DELETE)?,
        list_from_to: client.prepare(LIST_FROM_TO)?,
        list_after_to: client.prepare(LIST_AFTER_TO)?,
        list_from: client.prepare(LIST_FROM)?,
        list_after: client.prepare(LIST_AFTER)?,
    })
}

impl PostgresStore {
    /// Connects to `url` (`postgresql://user@host:port/database`, or the key=value form),
    /// without TLS, and creates the `keyward_kv` table when it is missing.
    pub fn connect(url: &str) -> Result<PostgresStore, StoreFailure> {
        let conn = Connection::open(url)?;
        Ok(PostgresStore { url: url.to_owned(), conn: Mutex::new(conn) })
    }

    /// The connection, opened again first if the last one was closed.
    fn conn(&self) -> Result<MutexGuard<'_, Connection>, StoreFailure> {
        // A poisoned lock means another thread panicked during a call; every call is one
        // autocommit statement, so the connection holds no half-done transaction.
        let mut guard = self.conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if guard.client.is_closed() {
            *guard = Connection::open(&self.url)?;
        }
        Ok(guard)
    }
}

fn entry(row: &Row) -> Result<Entry, StoreFailure> {
    let key: String = row.try_get(0).map_err(|e| failure("read", &e))?;
    let value: String = row.try_get(1).map_err(|e| failure("read", &e))?;
    let version: i64 = row.try_get(2).map_err(|e| failure("read", &e))?;
    Ok(Entry { key, value, version: version_from_sql(version)? })
}

impl Store for PostgresStore {
    fn get(&self, key: &str) -> Result<Option<Versioned>, StoreFailure> {
        let mut guard = self.conn()?;
        let Connection { client, prepared } = &mut *guard;
        let Some(row) = client.query_opt(&prepared.get, &[&key]).map_err(|e| failure("get", &e))? else {
            return Ok(None);
        };
        let value: String = row.try_get(0).map_err(|e| failure("get", &e))?;
        let version: i64 = row.try_get(1).map_err(|e| failure("get", &e))?;
        Ok(Some(Versioned { value, version: version_from_sql(version)? }))
    }

    fn put(&self, key: &str, value: &str, expected_version: Option<u64>) -> Result<Option<u64>, StoreFailure> {
        let mut guard = self.conn()?;
        let Connection { client, prepared } = &mut *guard;
        match expected_version {
            None => {
                let inserted = client.execute(&prepared.insert, &[&key, &value]).map_err(|e| failure("put", &e))?;
                Ok((inserted == 1).then_some(1))
            }
            Some(expected) => {
                // A version beyond BIGINT is never stored: the comparison fails.
                let Ok(expected) = i64::try_from(expected) else { return Ok(None) };
                let row =
                    client.query_opt(&prepared.update, &[&key, &value, &expected]).map_err(|e| failure("put", &e))?;
                match row {
                    Some(row) => {
                        let version: i64 = row.try_get(0).map_err(|e| failure("put", &e))?;
                        Ok(Some(version_from_sql(version)?))
                    }
                    None => Ok(None),
                }
            }
        }
    }

    fn delete(&self, key: &str, expected_version: u64) -> Result<bool, StoreFailure> {
        let Ok(expected) = i64::try_from(expected_version) else { return Ok(false) };
        let mut guard = self.conn()?;
        let Connection { client, prepared } = &mut *guard;
        let deleted = client.execute(&prepared.delete, &[&key, &expected]).map_err(|e| failure("delete", &e))?;
        Ok(deleted == 1)
    }

    fn list(&self, prefix: &str, after: Option<&str>, limit: usize) -> Result<Vec<Entry>, StoreFailure> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let range = Range::new(prefix, after);
        let limit = sql_limit(limit);
        let mut guard = self.conn()?;
        let Connection { client, prepared } = &mut *guard;
        let statement = match (range.inclusive, range.upper.is_some()) {
            (true, true) => &prepared.list_from_to,
            (false, true) => &prepared.list_after_to,
            (true, false) => &prepared.list_from,
            (false, false) => &prepared.list_after,
        };
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&range.lower, &limit];
        if let Some(upper) = &range.upper {
            params.push(upper);
        }
        let rows = client.query(statement, &params).map_err(|e| failure("list", &e))?;
        rows.iter().map(entry).collect()
    }

    fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<Versioned>>, StoreFailure> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut guard = self.conn()?;
        let Connection { client, prepared } = &mut *guard;
        let rows = client.query(&prepared.get_many, &[&keys]).map_err(|e| failure("get_many", &e))?;
        let mut found: HashMap<String, Versioned> = HashMap::with_capacity(rows.len());
        for row in &rows {
            let Entry { key, value, version } = entry(row)?;
            found.insert(key, Versioned { value, version });
        }
        Ok(keys.iter().map(|key| found.get(*key).cloned()).collect())
    }
}

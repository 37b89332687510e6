//! [`SqliteStore`]: the Keyward table in one SQLite file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use keyward_core::{Entry, Store, StoreFailure, Versioned};
use rusqlite::{params, params_from_iter, Connection, OptionalExtension};

use crate::{sql_limit, version_from_sql, Range};

/// How long a statement waits for another connection's write lock before it fails.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// At most this many keys per `get_many` query (SQLite's host parameters are limited); the
/// engine's batches are far smaller, so they always take one query.
const GET_MANY_CHUNK: usize = 500;

const CREATE: &str =
    "CREATE TABLE IF NOT EXISTS keyward_kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, version BIGINT NOT NULL)";
const GET: &str = "SELECT value, version FROM keyward_kv WHERE key = ?1";
const INSERT: &str = "INSERT INTO keyward_kv (key, value, version) VALUES (?1, ?2, 1) ON CONFLICT (key) DO NOTHING";
const UPDATE: &str =
    "UPDATE keyward_kv SET value = ?2, version = version + 1 WHERE key = ?1 AND version = ?3 RETURNING version";
const DELETE: &str = "DELETE FROM keyward_kv WHERE key = ?1 AND version = ?2";

/// A Keyward store in one SQLite file (rusqlite, SQLite bundled): the `keyward_kv` table,
/// created when missing.
///
/// The file is in WAL mode and every statement waits up to 5 s for another writer, so
/// several threads (through one shared `SqliteStore`, or each with its own) and several
/// processes may use one file at once: each compare-and-set is one statement, atomic in
/// SQLite. Keys compare bytewise (SQLite's default `BINARY` collation on UTF-8 text).
pub struct SqliteStore {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").field("path", &self.path).finish()
    }
}

/// A failure of `what`, with SQLite's message (which never quotes a bound value).
fn failure(what: &str, error: rusqlite::Error) -> StoreFailure {
    let detail = match &error {
        rusqlite::Error::SqliteFailure(code, Some(message)) => format!("{message} ({:?})", code.code),
        rusqlite::Error::SqliteFailure(code, None) => format!("{:?}", code.code),
        // Conversion errors may carry the offending value: name the kind only.
        rusqlite::Error::FromSqlConversionFailure(column, kind, _) => {
            format!("column {column} holds a value of an unexpected kind ({kind})")
        }
        rusqlite::Error::InvalidColumnType(column, _, kind) => {
            format!("column {column} holds a value of an unexpected kind ({kind})")
        }
        rusqlite::Error::ToSqlConversionFailure(_) => "a parameter could not be converted".to_owned(),
        rusqlite::Error::Utf8Error(..) => "a stored text is not valid UTF-8".to_owned(),
        other => other.to_string(),
    };
    StoreFailure(format!("sqlite {what}: {detail}"))
}

impl SqliteStore {
    /// Opens (or creates) the database file at `path`, switches it to WAL mode, sets a 5 s busy
    /// timeout and creates the `keyward_kv` table when it is missing.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStore, StoreFailure> {
        let path = path.as_ref().to_owned();
        let conn = Connection::open(&path).map_err(|e| failure("open", e))?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(|e| failure("open", e))?;
        // Switching a new file to WAL needs it alone, and SQLite answers "busy" at once, without
        // waiting, when another process is opening it too: wait here instead.
        let mode: String = while_busy(|| conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0)))
            .map_err(|e| failure("open", e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreFailure(format!("sqlite open: the file cannot use WAL mode (journal mode {mode})")));
        }
        while_busy(|| conn.execute(CREATE, [])).map_err(|e| failure("create table", e))?;
        Ok(SqliteStore { conn: Mutex::new(conn), path })
    }

    /// The file this store was opened on.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A poisoned lock means another thread panicked during a call; every call is one
        // autocommit statement, so the connection holds no half-done transaction.
        self.conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Runs `f` again while SQLite answers "busy" without having waited, for up to the busy timeout.
/// Only for statements that change nothing when they fail (a pragma, `CREATE ... IF NOT EXISTS`).
fn while_busy<T>(mut f: impl FnMut() -> rusqlite::Result<T>) -> rusqlite::Result<T> {
    let deadline = Instant::now() + BUSY_TIMEOUT;
    loop {
        match f() {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            other => return other,
        }
    }
}

fn versioned(value: String, version: i64) -> Result<Versioned, StoreFailure> {
    Ok(Versioned { value, version: version_from_sql(version)? })
}

impl Store for SqliteStore {
    fn get(&self, key: &str) -> Result<Option<Versioned>, StoreFailure> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(GET).map_err(|e| failure("get", e))?;
        let row = stmt
            .query_row(params![key], |row| Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?)))
            .optional()
            .map_err(|e| failure("get", e))?;
        row.map(|(value, version)| versioned(value, version)).transpose()
    }

    fn put(&self, key: &str, value: &str, expected_version: Option<u64>) -> Result<Option<u64>, StoreFailure> {
        let conn = self.conn();
        match expected_version {
            None => {
                let mut stmt = conn.prepare_cached(INSERT).map_err(|e| failure("put", e))?;
                let inserted = stmt.execute(params![key, value]).map_err(|e| failure("put", e))?;
                Ok((inserted == 1).then_some(1))
            }
            Some(expected) => {
                // A version beyond SQLite's integers is never stored: the comparison fails.
                let Ok(expected) = i64::try_from(expected) else { return Ok(None) };
                let mut stmt = conn.prepare_cached(UPDATE).map_err(|e| failure("put", e))?;
                let version = stmt
                    .query_row(params![key, value, expected], |row| row.get::<_, i64>(0))
                    .optional()
                    .map_err(|e| failure("put", e))?;
                version.map(version_from_sql).transpose()
            }
        }
    }

    fn delete(&self, key: &str, expected_version: u64) -> Result<bool, StoreFailure> {
        let Ok(expected) = i64::try_from(expected_version) else { return Ok(false) };
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(DELETE).map_err(|e| failure("delete", e))?;
        let deleted = stmt.execute(params![key, expected]).map_err(|e| failure("delete", e))?;
        Ok(deleted == 1)
    }

    fn list(&self, prefix: &str, after: Option<&str>, limit: usize) -> Result<Vec<Entry>, StoreFailure> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let range = Range::new(prefix, after);
        let lower = if range.inclusive { "key >= ?1" } else { "key > ?1" };
        let upper = if range.upper.is_some() { " AND key < ?3" } else { "" };
        let sql = format!("SELECT key, value, version FROM keyward_kv WHERE {lower}{upper} ORDER BY key LIMIT ?2");
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&sql).map_err(|e| failure("list", e))?;
        let limit = sql_limit(limit);
        let map =
            |row: &rusqlite::Row<'_>| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?, row.get::<_, i64>(2)?));
        let rows = match &range.upper {
            Some(upper) => stmt.query_map(params![range.lower, limit, upper], map),
            None => stmt.query_map(params![range.lower, limit], map),
        }
        .map_err(|e| failure("list", e))?;
        let mut entries = Vec::new();
        for row in rows {
            let (key, value, version) = row.map_err(|e| failure("list", e))?;
            entries.push(Entry { key, value, version: version_from_sql(version)? });
        }
        Ok(entries)
    }

    fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<Versioned>>, StoreFailure> {
        let mut found: HashMap<String, Versioned> = HashMap::new();
        let conn = self.conn();
        for chunk in keys.chunks(GET_MANY_CHUNK) {
            let marks = vec!["?"; chunk.len()].join(", ");
            let sql = format!("SELECT key, value, version FROM keyward_kv WHERE key IN ({marks})");
            let mut stmt = conn.prepare_cached(&sql).map_err(|e| failure("get_many", e))?;
            let rows = stmt
                .query_map(params_from_iter(chunk.iter()), |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?, row.get::<_, i64>(2)?))
                })
                .map_err(|e| failure("get_many", e))?;
            for row in rows {
                let (key, value, version) = row.map_err(|e| failure("get_many", e))?;
                found.insert(key, versioned(value, version)?);
            }
        }
        Ok(keys.iter().map(|key| found.get(*key).cloned()).collect())
    }
}

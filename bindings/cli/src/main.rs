//! The `keyward` command (API.md "The `keyward` command"): every Keyward operation as a
//! sub-command, nouns first, over a SQLite file or a PostgreSQL database shared with the other
//! hosts. A host of the core and nothing more: each command line becomes one
//! [`keyward_core::Call`] (its API.md arguments as JSON), run by the core's synchronous
//! [`Keyward`] on a `keyward-sql` store; the answer is printed as the API.md record (`-o json`)
//! or as a table for people.

mod commands;
mod output;

use std::io::{Read, Write};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::Parser;
use keyward_core::{Answer, Call, Environment, Error, Keyward, Options, Store};
use keyward_sql::{PostgresStore, SqliteStore};
use serde_json::{Map, Value};

use commands::{Cli, Plan};
use output::Format;

/// The host's side: the wall clock and the OS CSPRNG.
struct Host;

impl Environment for Host {
    fn now(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    }
    fn seed(&self) -> [u8; 32] {
        let mut seed = [0u8; 32];
        if getrandom::fill(&mut seed).is_err() {
            // No CSPRNG: refuse to mint anything rather than use predictable bytes.
            eprintln!("error: internal: the operating system's random number generator failed");
            std::process::exit(4);
        }
        seed
    }
}

/// A failure of the command itself, before or around the core's call.
fn invalid(field: &str, message: impl Into<String>) -> Error {
    Error::InvalidArgument { field: field.to_owned(), message: message.into() }
}

/// The exit status for an error code (API.md: 1 refused, 2 bad input, 3 state, 4 store).
fn exit_status(code: &str) -> u8 {
    match code {
        "invalid_argument" | "invalid_filter" | "weak_password" => 2,
        "not_found" | "already_exists" | "failed_precondition" | "quota_exceeded" | "conflict" => 3,
        "store_error" | "internal" => 4,
        _ => 1,
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let format = cli.output;
    match run(cli) {
        Ok(status) => ExitCode::from(status),
        Err(e) => {
            output::print_error(format, &e);
            ExitCode::from(exit_status(e.code()))
        }
    }
}

fn run(cli: Cli) -> Result<u8, Error> {
    let options = Options {
        domain: cli.domain.clone(),
        token_prefix: cli.token_prefix.clone(),
        pepper: std::env::var_os("KEYWARD_PEPPER").map(|p| p.into_encoded_bytes()),
        // One call per process: nothing would outlive the call to answer from.
        max_staleness_ms: 0,
    };
    let mut plan = cli.command.plan()?;
    if plan.admin {
        match &cli.actor {
            Some(actor) if !actor.is_empty() => {
                plan.args.insert("actor".into(), Value::String(actor.clone()));
            }
            _ => return Err(invalid("actor", "an admin command needs an actor: --as PRINCIPAL or env KEYWARD_ACTOR")),
        }
    }
    let db = cli.db.as_str();
    if db.starts_with("postgres://") || db.starts_with("postgresql://") {
        let store = PostgresStore::connect(db)
            .map_err(|e| Error::StoreError { message: format!("cannot open the database: {e}") })?;
        execute(options, store, plan, cli.output)
    } else {
        let store = SqliteStore::open(db)
            .map_err(|e| Error::StoreError { message: format!("cannot open the database: {e}") })?;
        execute(options, store, plan, cli.output)
    }
}

fn execute<S: Store>(options: Options, store: S, plan: Plan, format: Format) -> Result<u8, Error> {
    let kw = Keyward::new(options, store, Host)?;
    let call = |args: &Map<String, Value>| -> Result<Value, Error> {
        let call = Call::from_json(serde_json::json!({ "op": plan.op, "args": args }))?;
        let answer = kw.call(call)?;
        match answer {
            Answer::Nothing(()) => Ok(Value::Null),
            other => serde_json::to_value(&other).map_err(|e| Error::Internal { message: e.to_string() }),
        }
    };
    let mut answer = call(&plan.args)?;
    if let Some(items) = plan.all_pages {
        // `--all`: follow next_page_token and hand back one page holding every item.
        let mut args = plan.args.clone();
        while let Some(next) = answer.get("next_page_token").and_then(Value::as_str).map(str::to_owned) {
            args.insert("page_token".into(), Value::String(next));
            let page = call(&args)?;
            let more = page.get(items).and_then(Value::as_array).cloned().unwrap_or_default();
            if let Some(list) = answer.get_mut(items).and_then(Value::as_array_mut) {
                list.extend(more);
            }
            if let Some(obj) = answer.as_object_mut() {
                obj.insert("next_page_token".into(), page.get("next_page_token").cloned().unwrap_or(Value::Null));
            }
        }
    }
    if !answer.is_null() {
        let text = output::render(format, &answer);
        let mut out = std::io::stdout().lock();
        // A closed pipe (`| head`) is the reader's choice, not an error of ours.
        let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    }
    let denied = plan.decision && answer.get("allowed").and_then(Value::as_bool) != Some(true);
    Ok(if denied { 1 } else { 0 })
}

/// All of stdin, less one trailing newline: how passwords arrive (`--password-stdin`).
fn read_password() -> Result<String, Error> {
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text).map_err(|e| invalid("password", format!("cannot read stdin: {e}")))?;
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    Ok(text)
}

/// The token of `verify`/`authenticate`: env `KEYWARD_TOKEN`, else the first line of stdin.
fn read_token() -> Result<String, Error> {
    if let Some(token) = std::env::var_os("KEYWARD_TOKEN") {
        return token.into_string().map_err(|_| invalid("token", "KEYWARD_TOKEN is not valid UTF-8"));
    }
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).map_err(|e| invalid("token", format!("cannot read stdin: {e}")))?;
    let token = line.trim_end_matches(['\n', '\r']).to_owned();
    if token.is_empty() {
        return Err(invalid("token", "no token: set KEYWARD_TOKEN or write it on stdin"));
    }
    Ok(token)
}

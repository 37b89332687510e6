//! The whole conformance suite through the `keyward` command, searched for secrets (R-82;
//! issue 11 point 6).
//!
//! Every step of every scenario of tests/conformance is run as the sub-command API.md gives
//! its operation, on a fresh SQLite file per scenario, with `-o json` (whose answers feed the
//! scenario's saved values); each read and each step the scenario expects to fail runs again
//! in the default table output. Every byte of stdout and stderr is then searched for every
//! token issued (whole, and its secret part), every password given, and any password hash.
//! The one place a secret may show is the stdout of `token create` and `token rotate`: that
//! line is searched only for the other secrets, and must hold its own token (the positive
//! control that the search finds what it looks for).
//!
//! The command reads the wall clock, so a scenario's clock steps (`advance_clock`) and
//! injected store faults (`fail_store`, `lose_races`) are not replayed, and answers are not
//! compared with the scenario's expectations: this test is about what the command shows.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, missing_docs)]

#[path = "../../../core/tests/support/mod.rs"]
mod support;

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{Map, Value};
use support::scenario::{load_all, lookup, substitute, Transcript};

/// An argument as the command line writes it: a string as it is, anything else as JSON.
fn arg(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// One command line: its arguments, the text for stdin and the token for `KEYWARD_TOKEN`.
#[derive(Default)]
struct Line {
    args: Vec<String>,
    stdin: Option<String>,
    token: Option<String>,
}

impl Line {
    fn push(&mut self, v: impl Into<String>) {
        self.args.push(v.into());
    }
    /// Positional arguments, where given.
    fn pos(&mut self, a: &Map<String, Value>, names: &[&str]) {
        for n in names {
            if let Some(v) = a.get(*n).filter(|v| !v.is_null()) {
                self.push(arg(v));
            }
        }
    }
    /// `--flag VALUE` where given.
    fn opt(&mut self, a: &Map<String, Value>, name: &str, flag: &str) {
        if let Some(v) = a.get(name).filter(|v| !v.is_null()) {
            self.push(flag);
            self.push(arg(v));
        }
    }
    /// `--flag VALUE` for each item of a list (or the one value given).
    fn each(&mut self, a: &Map<String, Value>, name: &str, flag: &str) {
        match a.get(name) {
            Some(Value::Array(items)) => {
                for item in items {
                    self.push(flag);
                    self.push(arg(item));
                }
            }
            Some(Value::Null) | None => {}
            Some(other) => {
                self.push(flag);
                self.push(arg(other));
            }
        }
    }
    /// Every item of a list as positional arguments.
    fn rest(&mut self, a: &Map<String, Value>, name: &str) {
        match a.get(name) {
            Some(Value::Array(items)) => items.iter().for_each(|i| self.push(arg(i))),
            Some(Value::Null) | None => {}
            Some(other) => self.push(arg(other)),
        }
    }
    /// `--set KEY=VALUE` for each setting.
    fn settings(&mut self, a: &Map<String, Value>) {
        if let Some(Value::Object(settings)) = a.get("settings") {
            for (k, v) in settings {
                self.push("--set");
                self.push(format!("{k}={v}"));
            }
        }
    }
}

/// The command line of operation `op` (API.md, "The `keyward` command"); `None` for a host
/// step the command has no counterpart of.
fn command_line(op: &str, a: &Map<String, Value>) -> Option<Line> {
    let mut l = Line::default();
    if let Some(actor) = a.get("actor").filter(|v| !v.is_null()) {
        l.push("--as");
        l.push(arg(actor));
    }
    let words: &[&str] = match op {
        "create_tenant" => &["tenant", "create"],
        "get_tenant" => &["tenant", "show"],
        "update_tenant_settings" => &["tenant", "update"],
        "seat_usage" => &["tenant", "seats"],
        "define_role" => &["role", "define"],
        "delete_role" => &["role", "delete"],
        "create_group" => &["group", "create"],
        "delete_group" => &["group", "delete"],
        "add_group_member" => &["group", "add-member"],
        "remove_group_member" => &["group", "remove-member"],
        "grant_group_permissions" => &["group", "grant"],
        "revoke_group_permissions" => &["group", "revoke"],
        "create_user" => &["user", "create"],
        "remove_user" => &["user", "remove"],
        "sync_directory" => &["user", "sync"],
        "create_service_account" => &["sa", "create"],
        "update_service_account" => &["sa", "update"],
        "set_password" => &["sa", "set-password"],
        "list_accounts" => &["account", "list"],
        "get_account" => &["account", "show"],
        "set_role" => &["account", "set-role"],
        "grant_permissions" => &["account", "grant"],
        "revoke_permissions" => &["account", "revoke-grant"],
        "disable_account" => &["account", "disable"],
        "enable_account" => &["account", "enable"],
        "revoke_account" => &["account", "revoke"],
        "delete_account" => &["account", "delete"],
        "grant_access" => &["access", "grant"],
        "remove_access" => &["access", "remove"],
        "create_token" => &["token", "create"],
        "list_tokens" => &["token", "list"],
        "rename_token" => &["token", "rename"],
        "revoke_token" => &["token", "revoke"],
        "rotate_token" => &["token", "rotate"],
        "verify" => &["verify"],
        "authenticate" | "authenticate_password" => &["authenticate"],
        "authorize" => &["authorize"],
        "effective_permissions" => &["permissions"],
        "audit_log" => &["audit"],
        _ => return None,
    };
    words.iter().for_each(|w| l.push(*w));
    match op {
        "create_tenant" => {
            l.pos(a, &["tenant"]);
            l.opt(a, "admin", "--admin");
            l.opt(a, "name", "--name");
            l.settings(a);
        }
        "update_tenant_settings" => {
            l.pos(a, &["tenant"]);
            l.settings(a);
        }
        "get_tenant" | "seat_usage" => l.pos(a, &["tenant"]),
        "define_role" => {
            l.pos(a, &["tenant", "role"]);
            l.rest(a, "grants");
        }
        "delete_role" => l.pos(a, &["tenant", "role"]),
        "create_group" => {
            l.pos(a, &["tenant", "group"]);
            l.each(a, "roles", "--role");
            l.each(a, "grants", "--grant");
        }
        "delete_group" => l.pos(a, &["tenant", "group"]),
        "add_group_member" | "remove_group_member" => l.pos(a, &["tenant", "group", "principal"]),
        "grant_group_permissions" | "revoke_group_permissions" => {
            l.pos(a, &["tenant", "group"]);
            l.rest(a, "grants");
        }
        "create_user" => {
            l.pos(a, &["tenant", "email"]);
            l.opt(a, "name", "--name");
            l.opt(a, "role", "--role");
            if a.get("mfa") == Some(&Value::Bool(true)) {
                l.push("--mfa");
            }
        }
        "remove_user" => l.pos(a, &["tenant", "email"]),
        "sync_directory" => {
            l.pos(a, &["tenant"]);
            l.push("-");
            l.stdin = Some(a.get("users").map(Value::to_string).unwrap_or_default());
        }
        "create_service_account" => {
            l.pos(a, &["tenant", "name"]);
            l.opt(a, "description", "--description");
            l.opt(a, "role", "--role");
            l.each(a, "grants", "--grant");
            if let Some(p) = a.get("password").filter(|v| !v.is_null()) {
                l.push("--password-stdin");
                l.stdin = Some(arg(p));
            }
        }
        "update_service_account" => {
            l.pos(a, &["principal"]);
            l.opt(a, "description", "--description");
        }
        "set_password" => {
            l.pos(a, &["principal"]);
            match a.get("password").filter(|v| !v.is_null()) {
                Some(p) => {
                    l.push("--password-stdin");
                    l.stdin = Some(arg(p));
                }
                None => l.push("--clear"),
            }
        }
        "list_accounts" | "audit_log" => {
            l.pos(a, &["tenant"]);
            l.opt(a, "filter", "--filter");
            l.opt(a, "page_size", "--page-size");
            l.opt(a, "page_token", "--page-token");
        }
        "get_account" => l.pos(a, &["tenant", "principal"]),
        "set_role" => {
            l.pos(a, &["tenant", "principal", "role"]);
            if a.get("role").is_none_or(Value::is_null) {
                l.push("--clear");
            }
        }
        "grant_permissions" | "revoke_permissions" => {
            l.pos(a, &["tenant", "principal"]);
            l.rest(a, "grants");
        }
        "disable_account" | "enable_account" | "revoke_account" | "delete_account" | "list_tokens" => {
            l.pos(a, &["principal"]);
        }
        "grant_access" => {
            l.pos(a, &["tenant", "principal"]);
            l.opt(a, "role", "--role");
            l.each(a, "grants", "--grant");
        }
        "remove_access" => l.pos(a, &["tenant", "principal"]),
        "create_token" => {
            l.pos(a, &["principal"]);
            l.opt(a, "name", "--name");
            l.opt(a, "ttl_days", "--ttl-days");
            l.opt(a, "expires_at", "--expires-at");
            if a.get("never_expires") == Some(&Value::Bool(true)) {
                l.push("--never-expires");
            }
            l.each(a, "scopes", "--scope");
        }
        "rename_token" => l.pos(a, &["principal", "token_id", "name"]),
        "revoke_token" => l.pos(a, &["principal", "token_id"]),
        "rotate_token" => {
            l.pos(a, &["principal", "token_id"]);
            l.opt(a, "grace_seconds", "--grace-seconds");
        }
        "verify" => {
            l.pos(a, &["tenant", "permission", "resource"]);
            l.opt(a, "channel", "--channel");
            l.token = Some(a.get("token").map(arg).unwrap_or_default());
        }
        "authenticate" => {
            l.opt(a, "channel", "--channel");
            l.token = Some(a.get("token").map(arg).unwrap_or_default());
        }
        "authenticate_password" => {
            l.opt(a, "principal", "--principal");
            l.push("--password-stdin");
            l.opt(a, "channel", "--channel");
            l.stdin = Some(a.get("password").map(arg).unwrap_or_default());
        }
        "authorize" | "effective_permissions" => {
            l.pos(a, &["tenant"]);
            // An identity (what `authenticate` answered) stands for its principal here.
            let who = a.get("identity_or_principal").map(|v| v.get("principal").unwrap_or(v).clone());
            if let Some(who) = who {
                l.push(arg(&who));
            }
            if op == "authorize" {
                l.pos(a, &["permission", "resource"]);
            }
        }
        _ => {}
    }
    Some(l)
}

/// Reads: run a second time in table output, changing nothing that matters here.
const READS: &[&str] = &[
    "get_tenant",
    "seat_usage",
    "list_accounts",
    "get_account",
    "list_tokens",
    "verify",
    "authenticate",
    "authorize",
    "effective_permissions",
    "audit_log",
];

/// What one run of the command showed.
struct Shown {
    line: String,
    stdout: String,
    stderr: String,
    /// Whether stdout is the one that shows a new token.
    shows_token: bool,
}

/// Searches what the command showed for the transcript's secrets, adding each hit; returns
/// how many times a new token was found where it is shown (the positive control).
fn scan(shown: &[Shown], transcript: &Transcript, hits: &mut Vec<String>) -> usize {
    let mut controls = 0;
    for s in shown {
        for secret in &transcript.secrets {
            // The one line that shows a new token holds that token and nothing else secret.
            let own = s.shows_token && s.stdout.contains(secret.as_str()) && {
                let answer: Value = serde_json::from_str(&s.stdout).unwrap_or(Value::Null);
                answer["token"].as_str().is_some_and(|t| t.contains(secret.as_str()))
            };
            if own {
                controls += 1;
            } else if s.stdout.contains(secret.as_str()) || s.stderr.contains(secret.as_str()) {
                hits.push(format!("{}: shows a secret ({} characters)", s.line, secret.len()));
            }
        }
        if s.stdout.contains("$argon2") || s.stderr.contains("$argon2") {
            hits.push(format!("{}: shows a password hash", s.line));
        }
    }
    controls
}

#[test]
fn r82_no_secret_or_hash_appears_in_any_output_of_the_command_over_the_whole_scenario_suite() {
    let bin = env!("CARGO_BIN_EXE_keyward");
    let (mut secrets, mut hits, mut controls) = (0, Vec::new(), 0);
    let (mut scenarios, mut runs, mut issued, mut unexpressible) = (0, 0, 0, 0);
    for (file, list) in load_all() {
        for scenario in &list {
            scenarios += 1;
            // Secrets are searched for in the outputs of their own scenario, as in the core's
            // scan: a long password of one scenario ("x" × 129) is another's caller text.
            let mut transcript = Transcript::default();
            let mut shown: Vec<Shown> = Vec::new();
            let dir = tempfile::tempdir().unwrap();
            let db = dir.path().join("keyward.db");
            let engine = scenario.get("engine").cloned().unwrap_or(Value::Null);
            let mut vars = Map::new();
            for step in scenario["steps"].as_array().unwrap() {
                let op = step["op"].as_str().unwrap_or_default();
                let args = substitute(step.get("args").unwrap_or(&Value::Object(Map::new())), &vars);
                let empty = Map::new();
                let a = args.as_object().unwrap_or(&empty);
                for p in ["password"].iter().filter_map(|k| a.get(*k)).filter_map(Value::as_str) {
                    transcript.secret(p);
                }
                let Some(line) = command_line(op, a) else { continue };
                let expects_error = step.get("expect_error").is_some();
                let tables = READS.contains(&op) || expects_error;
                for table in [false, true].into_iter().filter(|t| !t || tables) {
                    let mut cmd = Command::new(bin);
                    for var in
                        ["KEYWARD_ACTOR", "KEYWARD_DOMAIN", "KEYWARD_TOKEN_PREFIX", "KEYWARD_PEPPER", "KEYWARD_TOKEN"]
                    {
                        cmd.env_remove(var);
                    }
                    cmd.current_dir(dir.path()).env("KEYWARD_DB", &db);
                    if let Some(d) = engine.get("domain").and_then(Value::as_str) {
                        cmd.env("KEYWARD_DOMAIN", d);
                    }
                    if let Some(p) = engine.get("token_prefix").and_then(Value::as_str) {
                        cmd.env("KEYWARD_TOKEN_PREFIX", p);
                    }
                    if let Some(p) = engine.get("pepper").and_then(Value::as_str) {
                        cmd.env("KEYWARD_PEPPER", p);
                    }
                    if let Some(t) = &line.token {
                        cmd.env("KEYWARD_TOKEN", t);
                    }
                    if !table {
                        cmd.args(["-o", "json"]);
                    }
                    cmd.args(&line.args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
                    // A NUL cannot be passed in an argument or the environment: such a step has
                    // no command line (the hostile suite gives the command NUL on stdin).
                    let Ok(mut child) = cmd.spawn() else {
                        unexpressible += 1;
                        continue;
                    };
                    let mut stdin = child.stdin.take().unwrap();
                    if let Some(text) = &line.stdin {
                        let _ = stdin.write_all(text.as_bytes());
                    }
                    drop(stdin);
                    let out = child.wait_with_output().unwrap();
                    runs += 1;
                    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
                    let mut shows_token = false;
                    if !table && out.status.success() {
                        if let Ok(answer) = serde_json::from_str::<Value>(&stdout) {
                            if let Some(token) = answer.get("token").and_then(Value::as_str) {
                                // `<prefix>_<id>_<secret><check>`: the token and its secret.
                                transcript.secrets.insert(token.to_owned());
                                let secret = token.rsplit('_').next().and_then(|t| t.get(..32)).unwrap_or(token);
                                transcript.secrets.insert(secret.to_owned());
                                shows_token = true;
                                issued += 1;
                            }
                            if let Some(Value::Object(save)) = step.get("save") {
                                for (name, path) in save {
                                    if let Some(v) = lookup(&answer, path.as_str().unwrap_or_default()) {
                                        vars.insert(name.clone(), v.clone());
                                    }
                                }
                            }
                        }
                    }
                    let line = format!("{file}: {}: keyward {}", scenario["name"], line.args.join(" "));
                    shown.push(Shown {
                        line,
                        stdout,
                        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
                        shows_token,
                    });
                }
            }
            controls += scan(&shown, &transcript, &mut hits);
            secrets += transcript.secrets.len();
        }
    }
    println!(
        "command secret scan: {scenarios} scenarios, {runs} runs of `keyward`, {} secrets and passwords \
         searched for in every stdout and stderr, {issued} tokens shown once each by token create/rotate, {} hits \
         ({unexpressible} steps with a NUL in an argument have no command line)",
        secrets,
        hits.len()
    );
    assert!(scenarios >= 100 && runs >= 2000, "the suite ran: {scenarios} scenarios, {runs} runs");
    assert!(issued >= 200 && controls >= 2 * issued, "the positive control: each token found where it is shown");
    assert!(hits.is_empty(), "{} hits:\n{}", hits.len(), hits.join("\n"));
}

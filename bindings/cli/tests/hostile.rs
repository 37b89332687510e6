//! Hostile arguments, environment and stdin for the built `keyward` command (issue 11 point
//! 5; SPEC §12, R-82, R-94; API.md "The `keyward` command"): empty, huge, NUL (stdin only:
//! argv cannot hold one), invalid UTF-8 in argv (`OsStr`), env and stdin, injection-shaped
//! names, token-shaped text in the wrong place, numbers out of range, deep JSON and databases
//! that are not databases. Each must end with the documented exit status (2 bad input, 1
//! refused, 3 state, 4 store) and, with `-o json`, a typed error whose code (and `field`) is
//! stable — never a panic (exit 101), never the token echoed (R-82) — and the same database
//! must still serve a normal `verify` and an admin command afterwards.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, missing_docs)]

use std::ffi::OsString;
use std::io::Write;
use std::os::unix::ffi::OsStringExt;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

const ROOT: &str = "root@acme.test";
const BOT: &str = "bot@acme.sa.keyward.local";

/// What an input must end with.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// Exit status and, from the `-o json` error on stderr, the code and (when `Some`) field.
    Error(u8, &'static str, Option<&'static str>),
    /// `invalid_filter` at this position (exit 2).
    Filter(Option<usize>),
    /// A usage error found by the argument parser itself: exit 2 and the usage, no JSON.
    Usage,
    /// A decision printed on stdout with this reason (exit 1).
    Denied(&'static str),
}

struct Input {
    id: &'static str,
    args: Vec<OsString>,
    env: Vec<(&'static str, OsString)>,
    stdin: Vec<u8>,
    /// Run without `--as ROOT` (bootstrap or the actor itself under test).
    no_actor: bool,
    expect: Expect,
}

fn os(s: &str) -> OsString {
    OsString::from(s)
}

fn input(id: &'static str, args: &[&str], expect: Expect) -> Input {
    Input { id, args: args.iter().map(|a| os(a)).collect(), env: vec![], stdin: vec![], no_actor: false, expect }
}

impl Input {
    fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Input {
        self.stdin = bytes.into();
        self
    }
    fn env(mut self, key: &'static str, value: impl Into<OsString>) -> Input {
        self.env.push((key, value.into()));
        self
    }
    fn raw(mut self, args: Vec<OsString>) -> Input {
        self.args = args;
        self
    }
    fn bootstrap(mut self) -> Input {
        self.no_actor = true;
        self
    }
}

struct Shell {
    dir: tempfile::TempDir,
    db: OsString,
}

impl Shell {
    fn new() -> Shell {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("keyward.db").into_os_string();
        Shell { dir, db }
    }

    fn run(&self, args: &[OsString], env: &[(&str, OsString)], stdin: &[u8]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_keyward"));
        for var in
            ["KEYWARD_DB", "KEYWARD_ACTOR", "KEYWARD_DOMAIN", "KEYWARD_TOKEN_PREFIX", "KEYWARD_PEPPER", "KEYWARD_TOKEN"]
        {
            cmd.env_remove(var);
        }
        cmd.current_dir(self.dir.path()).env("KEYWARD_DB", &self.db).args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let mut pipe = child.stdin.take().unwrap();
        let bytes = stdin.to_vec();
        // A writer thread: the command may exit before reading a 10 MB stdin.
        let writer = std::thread::spawn(move || {
            let _ = pipe.write_all(&bytes);
        });
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap();
        out
    }

    fn ok(&self, args: &[&str]) -> Value {
        let mut all = vec![os("--as"), os(ROOT), os("-o"), os("json")];
        all.extend(args.iter().map(|a| os(a)));
        let out = self.run(&all, &[], b"");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
    }

    /// The same database still decides and administers.
    fn assert_usable(&self, token: &str, after: &str) {
        let out = self.run(
            &[os("-o"), os("json"), os("verify"), os("acme"), os("models:read")],
            &[("KEYWARD_TOKEN", os(token))],
            b"",
        );
        assert_eq!(out.status.code(), Some(0), "after {after}: verify {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(self.ok(&["account", "show", "acme", BOT])["principal"], BOT, "after {after}");
    }
}

fn nested(open: &str, close: &str, depth: usize) -> String {
    format!("{}1{}", open.repeat(depth), close.repeat(depth))
}

fn inputs(token: &str, token_id: &str) -> Vec<Input> {
    use Expect::*;
    let leak = |s: &str| -> &'static str { Box::leak(s.to_owned().into_boxed_str()) };
    let tok = leak(token);
    let tok_id = leak(token_id);
    let long = leak(&"a".repeat(100_000)); // argv holds at most 128 KiB per argument (Linux)
    let huge = vec![b'a'; 10_000_000];
    let bad_utf8 = || OsString::from_vec(vec![b'b', b'o', b't', 0xff, 0xfe]);
    let bad = |field| Error(2, "invalid_argument", Some(field));
    let with = |args: &[&str], extra: OsString| -> Vec<OsString> {
        let mut v: Vec<OsString> = args.iter().map(|a| os(a)).collect();
        v.push(extra);
        v
    };
    vec![
        // -- empty ------------------------------------------------------------------------------
        input("empty-tenant", &["tenant", "create", "", "--admin", "a@b.test"], bad("tenant")).bootstrap(),
        input("empty-sa-name", &["sa", "create", "acme", ""], bad("name")),
        input("empty-actor", &["--as", "", "tenant", "show", "acme"], bad("actor")).bootstrap(),
        input("empty-principal", &["account", "show", "acme", ""], bad("principal")),
        input("empty-token-stdin", &["verify", "acme", "models:read"], bad("token")).bootstrap(),
        input("empty-token-env", &["verify", "acme", "models:read"], Denied("invalid_credentials"))
            .env("KEYWARD_TOKEN", "")
            .bootstrap(),
        input("empty-token-name", &["token", "create", BOT, "--name", ""], bad("name")),
        input("empty-grant", &["role", "define", "acme", "r1", ""], bad("grants")),
        input("empty-permission", &["verify", "acme", ""], bad("permission")).env("KEYWARD_TOKEN", tok).bootstrap(),
        input("empty-admin-email", &["tenant", "create", "fresh", "--admin", ""], bad("admin")).bootstrap(),
        input(
            "empty-password-stdin",
            &["sa", "set-password", BOT, "--password-stdin"],
            Error(2, "weak_password", None),
        ),
        input("empty-sync-stdin", &["user", "sync", "acme", "-"], bad("users")),
        // -- huge: 100 KB arguments, 10 MB stdin ------------------------------------------------
        input("long-sa-name", &["sa", "create", "acme", long], bad("name")),
        input("long-description", &["sa", "update", BOT, "--description", long], bad("description")),
        input("huge-token-stdin", &["verify", "acme", "models:read"], Denied("invalid_credentials"))
            .stdin(huge.clone())
            .bootstrap(),
        input("long-token-env", &["verify", "acme", "models:read"], Denied("invalid_credentials"))
            .env("KEYWARD_TOKEN", long)
            .bootstrap(),
        input("long-filter", &["account", "list", "acme", "--filter", long], Filter(Some(4096))),
        input("long-actor", &["--as", long, "tenant", "show", "acme"], bad("actor")).bootstrap(),
        input("huge-password-stdin", &["sa", "set-password", BOT, "--password-stdin"], Error(2, "weak_password", None))
            .stdin(huge.clone()),
        input("huge-sync-stdin", &["user", "sync", "acme", "-"], bad("users")).stdin(huge.clone()),
        // -- NUL: only stdin can carry one --------------------------------------------------------
        input("nul-token-stdin", &["verify", "acme", "models:read"], Denied("invalid_credentials"))
            .stdin(format!("{}\0\n", &token[..20]))
            .bootstrap(),
        input("nul-in-sync-email", &["user", "sync", "acme", "-"], bad("users"))
            .stdin(r#"[{"email": "a\u0000@acme.test", "name": "x"}]"#),
        input("nul-in-sync-name", &["user", "sync", "acme", "-"], bad("users"))
            .stdin(r#"[{"email": "nul@acme.test", "name": "a\u0000b"}]"#),
        // -- invalid UTF-8: argv (OsStr), env, stdin ---------------------------------------------
        input("non-utf8-tenant-arg", &[], Usage)
            .raw(vec![os("tenant"), os("create"), bad_utf8(), os("--admin"), os("a@b.test")])
            .bootstrap(),
        input("non-utf8-sa-name-arg", &[], Usage).raw(with(&["sa", "create", "acme"], bad_utf8())),
        input("non-utf8-actor-arg", &[], Usage)
            .raw(vec![os("--as"), bad_utf8(), os("tenant"), os("show"), os("acme")])
            .bootstrap(),
        input("non-utf8-db-arg", &[], Usage).raw(vec![os("--db"), bad_utf8(), os("tenant"), os("show"), os("acme")]),
        input("non-utf8-actor-env", &["tenant", "show", "acme"], Usage).env("KEYWARD_ACTOR", bad_utf8()).bootstrap(),
        input("non-utf8-token-env", &["verify", "acme", "models:read"], bad("token"))
            .env("KEYWARD_TOKEN", bad_utf8())
            .bootstrap(),
        input("non-utf8-token-stdin", &["verify", "acme", "models:read"], bad("token"))
            .stdin(b"kw_\xff\xfe\n".to_vec())
            .bootstrap(),
        input("non-utf8-password-stdin", &["sa", "set-password", BOT, "--password-stdin"], bad("password"))
            .stdin(b"Correct-Horse-9-\xff\xfe".to_vec()),
        input("non-utf8-sync-stdin", &["user", "sync", "acme", "-"], bad("users")).stdin(b"[\xff]".to_vec()),
        // -- injection-shaped names -------------------------------------------------------------
        input("sql-sa-name", &["sa", "create", "acme", "x'; DROP TABLE keyward_kv;--"], bad("name")),
        input("path-tenant", &["tenant", "create", "../../etc", "--admin", "a@b.test"], bad("tenant")).bootstrap(),
        input("format-group", &["group", "create", "acme", "%s%n%x"], bad("group")),
        input("template-role", &["role", "define", "acme", "${x}", "models:read"], bad("role")),
        input("html-sa-name", &["sa", "create", "acme", "<script>alert(1)</script>"], bad("name")),
        input("crlf-email", &["user", "create", "acme", "a@b.test\r\nBcc: x@y.test"], bad("email")),
        input("newline-token-name", &["token", "create", BOT, "--name", "line\nbreak"], bad("name")),
        input("bidi-description", &["sa", "update", BOT, "--description", "\u{202e}evil"], bad("description")),
        input("zero-width-token-name", &["token", "create", BOT, "--name", "zero\u{200b}width"], bad("name")),
        input("space-resource", &["authorize", "acme", BOT, "models:read", "models/llama 3"], bad("resource")),
        input(
            "sql-filter",
            &["account", "list", "acme", "--filter", "name=\"x\" OR 1=1; DROP TABLE keyward_kv"],
            Filter(None),
        ),
        input("jndi-filter", &["audit", "acme", "--filter", "${jndi:ldap://x.test/a}=1"], Filter(Some(0))),
        input("path-grant", &["account", "grant", "acme", BOT, "../../etc:read"], bad("grants")),
        input("sql-tenant-lookup", &["tenant", "show", "acme' --"], bad("tenant")),
        input("json-fragment-grant", &["account", "grant", "acme", BOT, "{\"permission\": "], bad("grants")),
        input("setting-without-value", &["tenant", "update", "acme", "--set", "seat_limit"], bad("settings")),
        input(
            "deep-json-setting",
            &["tenant", "update", "acme", "--set", leak(&format!("seat_limit={}", nested("[", "]", 10_000)))],
            bad("seat_limit"),
        ),
        input(
            "deep-json-grant",
            &["account", "grant", "acme", BOT, leak(&nested("{\"a\":", "}", 10_000))],
            bad("grants"),
        ),
        input("deep-json-sync", &["user", "sync", "acme", "-"], bad("users")).stdin(nested("[", "]", 10_000)),
        input(
            "deep-filter-parens",
            &["account", "list", "acme", "--filter", leak(&format!("{}name=a{}", "(".repeat(2000), ")".repeat(2000)))],
            Filter(Some(32)),
        ),
        // -- token-shaped text in the wrong place: never echoed (R-82) ----------------------------
        input("token-as-actor", &["--as", tok, "tenant", "show", "acme"], bad("actor")).bootstrap(),
        input("token-as-principal", &["account", "show", "acme", tok], Error(3, "not_found", None)),
        input("token-as-sa-name", &["sa", "create", "acme", tok], bad("name")),
        input("token-as-tenant", &["tenant", "create", tok, "--admin", "a@b.test"], bad("tenant")).bootstrap(),
        input("token-as-token-id", &["token", "revoke", BOT, tok], bad("token_id")),
        input("token-as-permission", &["authorize", "acme", BOT, tok], bad("permission")),
        input(
            "token-in-scoped-grant",
            &["account", "grant", "acme", BOT, leak(&format!("{token}/models:read"))],
            bad("grants"),
        ),
        input("token-as-sync-file", &["user", "sync", "acme", tok], bad("users")),
        input("token-as-sync-json", &["user", "sync", "acme", "-"], bad("users")).stdin(format!("\"{token}\"")),
        input(
            "token-as-setting",
            &["tenant", "update", "acme", "--set", leak(&format!("seat_limit={token}"))],
            bad("seat_limit"),
        ),
        // -- numbers out of range ----------------------------------------------------------------
        input("negative-ttl", &["token", "create", BOT, "--ttl-days", "-1"], Usage),
        input("fractional-ttl", &["token", "create", BOT, "--ttl-days", "1.5"], Usage),
        input("beyond-u64-ttl", &["token", "create", BOT, "--ttl-days", "18446744073709551616"], Usage),
        input("zero-ttl", &["token", "create", BOT, "--ttl-days", "0"], bad("ttl_days")),
        input("u64-max-ttl", &["token", "create", BOT, "--ttl-days", "18446744073709551615"], bad("ttl_days")),
        input("i64-min-expires-at", &["token", "create", BOT, "--expires-at=-9223372036854775808"], bad("expires_at")),
        input("zero-page-size", &["account", "list", "acme", "--page-size", "0"], bad("page_size")),
        input("too-big-page-size", &["audit", "acme", "--page-size", "1001"], bad("page_size")),
        input("negative-page-size", &["account", "list", "acme", "--page-size", "-5"], Usage),
        input("negative-grace", &["token", "rotate", BOT, tok_id, "--grace-seconds", "-1"], Usage),
        input("garbage-page-token", &["account", "list", "acme", "--page-token", "garbage"], bad("page_token")),
        input("negative-setting", &["tenant", "update", "acme", "--set", "seat_limit=-1"], bad("seat_limit")),
        input("string-setting", &["tenant", "update", "acme", "--set", "seat_limit=\"5\""], bad("seat_limit")),
        input(
            "nan-setting",
            &["tenant", "update", "acme", "--set", "default_token_ttl_days=NaN"],
            bad("default_token_ttl_days"),
        ),
        input(
            "overflowing-setting",
            &["tenant", "update", "acme", "--set", "default_token_ttl_days=1e400"],
            bad("default_token_ttl_days"),
        ),
        input("unknown-setting", &["tenant", "update", "acme", "--set", "colour=red"], bad("settings")),
        input("bad-token-prefix", &["--token-prefix", "X'; --", "token", "create", BOT], bad("token_prefix")),
        input("empty-domain", &["--domain", "", "account", "show", "acme", BOT], bad("domain")),
        input("non-utf8-token-prefix", &[], Usage).raw(vec![
            os("--token-prefix"),
            bad_utf8(),
            os("token"),
            os("list"),
            os(BOT),
        ]),
        input("non-utf8-password-signin", &["authenticate", "--principal", BOT, "--password-stdin"], bad("password"))
            .stdin(b"Correct-Horse-9-\xff".to_vec())
            .bootstrap(),
        input(
            "huge-password-signin",
            &["authenticate", "--principal", BOT, "--password-stdin"],
            Error(1, "invalid_credentials", None),
        )
        .stdin(huge.clone())
        .bootstrap(),
        input(
            "token-as-signin-principal",
            &["authenticate", "--principal", tok, "--password-stdin"],
            Error(1, "invalid_credentials", None),
        )
        .stdin("Correct-Horse-9-battery")
        .bootstrap(),
        input("unknown-channel", &["verify", "acme", "models:read", "--channel", "fax"], bad("channel"))
            .env("KEYWARD_TOKEN", tok)
            .bootstrap(),
        // -- usage -------------------------------------------------------------------------------
        input("unknown-command", &["frobnicate"], Usage),
        input("unknown-flag", &["token", "create", BOT, "--colour", "red"], Usage),
        input("conflicting-expiry", &["token", "create", BOT, "--ttl-days", "1", "--never-expires"], Usage),
        // -- databases that are not databases (R-94: store_error, exit 4) ------------------------
        input("db-is-a-directory", &["--db", ".", "tenant", "show", "acme"], Error(4, "store_error", None)),
        input("db-is-garbage", &["--db", "garbage.db", "tenant", "show", "acme"], Error(4, "store_error", None)),
        input(
            "db-unreachable-postgres",
            &["--db", "postgres://nobody@127.0.0.1:1/none?connect_timeout=2", "tenant", "show", "acme"],
            Error(4, "store_error", None),
        ),
    ]
}

#[test]
fn hostile_arguments_env_and_stdin_get_typed_errors_and_the_database_goes_on() {
    let sh = Shell::new();
    std::fs::write(sh.dir.path().join("garbage.db"), vec![0xA5u8; 4096]).unwrap();
    sh.ok(&["tenant", "create", "acme", "--admin", ROOT]);
    sh.ok(&["sa", "create", "acme", "bot", "--role", "viewer"]);
    let created = sh.ok(&["token", "create", BOT, "--name", "ci"]);
    let token = created["token"].as_str().unwrap().to_owned();
    let token_id = created["token_id"].as_str().unwrap().to_owned();
    let secret = token[16..48].to_owned();

    let all = inputs(&token, &token_id);
    let mut ids: Vec<&str> = all.iter().map(|i| i.id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), all.len(), "distinct inputs");
    println!("keyward CLI hostile inputs: {}", all.len());
    assert!(all.len() >= 50, "issue 11 point 5: at least 50 hostile inputs");

    let mut failed = Vec::new();
    for input in &all {
        let checked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&sh, input, &token, &secret)));
        if checked.is_err() {
            failed.push(input.id);
        }
    }
    assert!(failed.is_empty(), "inputs that failed: {failed:?}");
}

fn check(sh: &Shell, input: &Input, token: &str, secret: &str) {
    {
        let mut args = vec![os("-o"), os("json")];
        if !input.no_actor {
            args.extend([os("--as"), os(ROOT)]);
        }
        args.extend(input.args.iter().cloned());
        let out = sh.run(&args, &input.env, &input.stdin);
        let id = input.id;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_ne!(out.status.code(), Some(101), "{id}: panicked: {stderr}");
        assert!(out.status.code().is_some(), "{id}: killed by a signal");
        assert!(!stderr.contains("panicked"), "{id}: {stderr}");
        // R-82: neither the token nor its secret is ever echoed.
        for text in [&stdout, &stderr] {
            assert!(!text.contains(secret), "{id}: the token's secret was echoed");
        }
        match input.expect {
            Expect::Usage => {
                assert_eq!(out.status.code(), Some(2), "{id}: {stderr}");
                // clap's own error: the usage, or the pointer to --help.
                assert!(
                    stderr.starts_with("error:") && (stderr.contains("Usage") || stderr.contains("--help")),
                    "{id}: {stderr}"
                );
            }
            Expect::Denied(reason) => {
                assert_eq!(out.status.code(), Some(1), "{id}: {stderr}");
                let decision: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{id}: {e}: {stdout}"));
                assert_eq!(decision["allowed"], false, "{id}");
                assert_eq!(decision["reason"], reason, "{id}");
            }
            Expect::Error(status, code, field) => {
                let error: Value =
                    serde_json::from_str(&stderr).unwrap_or_else(|e| panic!("{id}: stderr not JSON ({e}): {stderr}"));
                assert_eq!(error["error"]["code"], code, "{id}: {stderr}");
                assert_eq!(out.status.code(), Some(i32::from(status)), "{id}: {stderr}");
                if let Some(field) = field {
                    assert_eq!(error["error"]["field"], field, "{id}: {stderr}");
                }
                assert!(stdout.is_empty(), "{id}: nothing on stdout: {stdout}");
            }
            Expect::Filter(position) => {
                let error: Value =
                    serde_json::from_str(&stderr).unwrap_or_else(|e| panic!("{id}: stderr not JSON ({e}): {stderr}"));
                assert_eq!(error["error"]["code"], "invalid_filter", "{id}: {stderr}");
                assert_eq!(out.status.code(), Some(2), "{id}");
                if let Some(position) = position {
                    assert_eq!(error["error"]["position"], position, "{id}: {stderr}");
                }
            }
        }
        // The same input for people (`-o table`): the same exit status, `error: <code>: ...`
        // on stderr, and again no panic and no secret.
        let mut args = Vec::new();
        if !input.no_actor {
            args.extend([os("--as"), os(ROOT)]);
        }
        args.extend(input.args.iter().cloned());
        let table = sh.run(&args, &input.env, &input.stdin);
        let table_err = String::from_utf8_lossy(&table.stderr);
        assert_eq!(table.status.code(), out.status.code(), "{id} (table): {table_err}");
        assert!(!table_err.contains("panicked"), "{id} (table): {table_err}");
        for text in [String::from_utf8_lossy(&table.stdout), table_err.clone()] {
            assert!(!text.contains(secret), "{id} (table): the token's secret was echoed");
        }
        match input.expect {
            Expect::Error(_, code, _) => {
                assert!(table_err.starts_with(&format!("error: {code}: ")), "{id}: {table_err}")
            }
            Expect::Filter(_) => assert!(table_err.starts_with("error: invalid_filter: "), "{id}: {table_err}"),
            Expect::Usage | Expect::Denied(_) => {}
        }
        sh.assert_usable(token, id);
    }
}

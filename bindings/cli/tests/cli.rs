//! The built `keyward` binary, driven as a user's script drives it: exit statuses, JSON
//! output, secrets only on the one line that shows them, several processes on one SQLite file,
//! and a PostgreSQL URL (run through `scripts/with-postgres.sh`, which sets
//! `KEYWARD_TEST_PG_URL`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, missing_docs)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

const ROOT: &str = "root@acme.test";
const BOT: &str = "bot@acme.sa.keyward.local";

/// Every output of one test's commands, for the secret scan.
struct Shell {
    dir: tempfile::TempDir,
    db: String,
    seen: Vec<(String, Output)>,
}

struct Run<'a> {
    args: Vec<&'a str>,
    env: Vec<(&'a str, &'a str)>,
    stdin: Option<&'a str>,
}

impl Shell {
    fn new() -> Shell {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("keyward.db").to_string_lossy().into_owned();
        Shell { dir, db, seen: Vec::new() }
    }

    fn on(db: &str) -> Shell {
        let mut shell = Shell::new();
        shell.db = db.to_owned();
        shell
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_keyward"));
        for var in
            ["KEYWARD_DB", "KEYWARD_ACTOR", "KEYWARD_DOMAIN", "KEYWARD_TOKEN_PREFIX", "KEYWARD_PEPPER", "KEYWARD_TOKEN"]
        {
            cmd.env_remove(var);
        }
        cmd.current_dir(self.dir.path()).env("KEYWARD_DB", &self.db);
        cmd
    }

    fn exec(&mut self, run: Run<'_>) -> Output {
        let mut cmd = self.command();
        cmd.args(&run.args).envs(run.env.iter().copied());
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let mut stdin = child.stdin.take().unwrap();
        if let Some(text) = run.stdin {
            stdin.write_all(text.as_bytes()).unwrap();
        }
        drop(stdin);
        let out = child.wait_with_output().unwrap();
        self.seen.push((run.args.join(" "), out.clone()));
        out
    }

    /// `keyward ARGS` with no stdin.
    fn kw(&mut self, args: &[&str]) -> Output {
        self.exec(Run { args: args.to_vec(), env: vec![], stdin: None })
    }

    /// `keyward --as root@acme.test -o json ARGS`, which must succeed: its JSON.
    fn json(&mut self, args: &[&str]) -> Value {
        let mut all = vec!["--as", ROOT, "-o", "json"];
        all.extend_from_slice(args);
        let out = self.kw(&all);
        assert_eq!(status(&out), 0, "keyward {all:?}: {}", text(&out.stderr));
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("keyward {all:?}: not JSON ({e}): {}", text(&out.stdout)))
    }

    /// A tenant `acme` with a service account `bot` holding `inference-user`.
    fn acme(&mut self) {
        self.json(&["tenant", "create", "acme", "--admin", ROOT, "--name", "Acme Corp"]);
        self.json(&["sa", "create", "acme", "bot", "--role", "inference-user", "--description", "answers tickets"]);
    }
}

fn status(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn error_code(out: &Output) -> Value {
    let v: Value =
        serde_json::from_slice(&out.stderr).unwrap_or_else(|e| panic!("stderr not JSON ({e}): {}", text(&out.stderr)));
    v["error"]["code"].clone()
}

#[test]
fn each_exit_status_is_as_listed() {
    let mut sh = Shell::new();
    // 0: done.
    let out = sh.kw(&["tenant", "create", "acme", "--admin", ROOT]);
    assert_eq!(status(&out), 0, "{}", text(&out.stderr));
    sh.json(&["sa", "create", "acme", "bot", "--role", "inference-user"]);
    let token = sh.json(&["token", "create", BOT])["token"].as_str().unwrap().to_owned();
    let verify = |sh: &mut Shell, permission: &str| {
        sh.exec(Run {
            args: vec!["-o", "json", "verify", "acme", permission],
            env: vec![("KEYWARD_TOKEN", &token)],
            stdin: None,
        })
    };
    let allowed = verify(&mut sh, "models:read");
    assert_eq!(status(&allowed), 0);
    // 1: a denied decision, still printed on stdout.
    let denied = verify(&mut sh, "accounts:delete");
    assert_eq!(status(&denied), 1);
    let decision: Value = serde_json::from_slice(&denied.stdout).unwrap();
    assert_eq!(decision["allowed"], false);
    assert_eq!(decision["reason"], "forbidden");
    let out = sh.kw(&["authorize", "acme", BOT, "accounts:delete"]);
    assert_eq!(status(&out), 1);
    assert!(text(&out.stdout).contains("forbidden"));
    // 1: refused for rights or credentials.
    let out = sh.kw(&["-o", "json", "--as", "stranger@else.test", "tenant", "show", "acme"]);
    assert_eq!((status(&out), error_code(&out)), (1, "forbidden".into()));
    let out = sh.exec(Run { args: vec!["-o", "json", "authenticate"], env: vec![], stdin: Some("kw_not_a_token\n") });
    assert_eq!(status(&out), 1);
    assert_eq!(error_code(&out), "invalid_credentials");
    // 2: usage and bad input.
    let out = sh.kw(&["tenant", "show", "acme"]);
    assert_eq!(status(&out), 2);
    assert_eq!(text(&out.stderr).trim(), "error: invalid_argument: invalid argument `actor`: an admin command needs an actor: --as PRINCIPAL or env KEYWARD_ACTOR");
    let out = sh.kw(&["-o", "json", "tenant", "seats", "acme"]);
    let err: Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(
        (status(&out), &err["error"]["code"], &err["error"]["field"]),
        (2, &"invalid_argument".into(), &"actor".into())
    );
    let out = sh.kw(&["--as", ROOT, "tenant", "frobnicate"]);
    assert_eq!(status(&out), 2);
    assert!(text(&out.stderr).contains("Usage"), "{}", text(&out.stderr));
    let out = sh.kw(&["-o", "json", "--as", ROOT, "account", "list", "acme", "--filter", "((("]);
    assert_eq!((status(&out), error_code(&out)), (2, "invalid_filter".into()));
    let out = sh.kw(&["-o", "json", "--as", ROOT, "role", "define", "acme", "r", "Not A Permission"]);
    assert_eq!((status(&out), error_code(&out)), (2, "invalid_argument".into()));
    let out = sh.exec(Run {
        args: vec!["-o", "json", "--as", ROOT, "sa", "set-password", BOT, "--password-stdin"],
        env: vec![],
        stdin: Some("short\n"),
    });
    assert_eq!((status(&out), error_code(&out)), (2, "weak_password".into()));
    // 3: the target's state.
    let out = sh.kw(&["-o", "json", "tenant", "create", "acme", "--admin", ROOT]);
    assert_eq!((status(&out), error_code(&out)), (3, "already_exists".into()));
    let out = sh.kw(&["--as", ROOT, "account", "show", "acme", "nobody@acme.test"]);
    assert_eq!(status(&out), 3);
    assert!(text(&out.stderr).starts_with("error: not_found: "), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty());
    // 4: a database that cannot be opened.
    let dir = sh.dir.path().to_string_lossy().into_owned();
    let out = sh.kw(&["--db", &dir, "--as", ROOT, "tenant", "show", "acme"]);
    assert_eq!(status(&out), 4, "{}", text(&out.stderr));
    assert!(text(&out.stderr).starts_with("error: store_error: "), "{}", text(&out.stderr));
    let out =
        sh.kw(&["-o", "json", "--db", "postgres://keyward@127.0.0.1:1/none", "--as", ROOT, "tenant", "show", "acme"]);
    assert_eq!((status(&out), error_code(&out)), (4, "store_error".into()));
}

#[test]
fn json_output_is_exactly_the_api_record() {
    let mut sh = Shell::new();
    let tenant = sh.json(&[
        "tenant",
        "create",
        "acme",
        "--admin",
        ROOT,
        "--name",
        "Acme Corp",
        "--set",
        "seat_limit=20",
        "--set",
        "password_policy=default",
    ]);
    assert_eq!(tenant["tenant"], "acme");
    assert_eq!(tenant["name"], "Acme Corp");
    assert_eq!(tenant["settings"]["seat_limit"], 20);
    assert!(tenant["created_at"].is_i64());
    let account = sh.json(&[
        "sa",
        "create",
        "acme",
        "bot",
        "--role",
        "inference-user",
        "--grant",
        "datasets:read@datasets/public-*",
    ]);
    let keys: Vec<&str> = account.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "principal",
            "id",
            "uid",
            "kind",
            "name",
            "tenant",
            "owned",
            "description",
            "status",
            "roles",
            "groups",
            "grants",
            "mfa",
            "has_password",
            "created_at",
            "created_by",
            "updated_at"
        ]
    );
    assert_eq!(account["principal"], BOT);
    assert_eq!(
        account["grants"],
        serde_json::json!([{"permission": "datasets:read", "resource": "datasets/public-*"}])
    );
    for i in 0..3 {
        sh.json(&["user", "create", "acme", &format!("u{i}@acme.test"), "--name", "U"]);
    }
    // Paging by hand, then --all: one page holding every item, next_page_token null.
    let page = sh.json(&["account", "list", "acme", "--page-size", "2"]);
    assert_eq!(page["accounts"].as_array().unwrap().len(), 2);
    let next = page["next_page_token"].as_str().unwrap().to_owned();
    let rest = sh.json(&["account", "list", "acme", "--page-size", "2", "--page-token", &next]);
    assert_eq!(rest["accounts"].as_array().unwrap().len(), 2);
    let all = sh.json(&["account", "list", "acme", "--page-size", "1", "--all"]);
    assert_eq!(all["accounts"].as_array().unwrap().len(), 5);
    assert_eq!(all["next_page_token"], Value::Null);
    let bots = sh.json(&["account", "list", "acme", "--filter", "service_account=true"]);
    assert_eq!(bots["accounts"].as_array().unwrap().len(), 1);
    assert_eq!(bots["accounts"][0]["principal"], BOT);
    let seats = sh.json(&["tenant", "seats", "acme"]);
    assert_eq!(seats, serde_json::json!({"seats_used": 4, "seat_limit": 20, "service_accounts": 1}));
    let events = sh.json(&["audit", "acme", "--page-size", "2", "--all"]);
    assert_eq!(events["next_page_token"], Value::Null);
    let actions: Vec<&str> =
        events["events"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions.last(), Some(&"tenant.create"));
    assert!(actions.contains(&"service_account.create"));
    let effective = sh.json(&["permissions", "acme", BOT]);
    assert!(effective.as_array().unwrap().iter().any(|g| g["source"] == "role:inference-user"));
    let tokens = sh.json(&["token", "list", BOT]);
    assert_eq!(tokens, serde_json::json!([]));
    // Removals print nothing, in either format.
    let out = sh.kw(&["-o", "json", "--as", ROOT, "user", "remove", "acme", "u0@acme.test"]);
    assert_eq!(status(&out), 0);
    assert!(out.stdout.is_empty() && out.stderr.is_empty());
    let out = sh.kw(&["--as", ROOT, "account", "delete", BOT]);
    assert_eq!(status(&out), 0);
    assert!(out.stdout.is_empty() && out.stderr.is_empty());
    // The table for people: aligned columns, UTC dates, `-` for null.
    let out = sh.kw(&["--as", ROOT, "account", "list", "acme"]);
    let table = text(&out.stdout);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("PRINCIPAL"), "{table}");
    assert_eq!(lines[1].find("user"), lines[0].find("KIND"), "{table}");
    assert!(table.contains("Z"), "{table}");
    let out = sh.kw(&["--as", ROOT, "tenant", "show", "acme"]);
    let shown = text(&out.stdout);
    assert!(shown.lines().any(|l| l.starts_with("created_at") && l.ends_with('Z') && l.contains('-')), "{shown}");
}

#[test]
fn grants_and_scopes_take_the_command_line_forms() {
    let mut sh = Shell::new();
    sh.acme();
    sh.json(&["tenant", "create", "globex", "--admin", "root@globex.test"]);
    let role = sh.json(&[
        "role",
        "define",
        "acme",
        "model-reader",
        "models:read@models/llama*",
        "models:list",
        r#"{"permission": "datasets:read", "resource": "datasets/x"}"#,
    ]);
    assert_eq!(
        role["grants"],
        serde_json::json!([{"permission": "models:read", "resource": "models/llama*"}, "models:list", {"permission": "datasets:read", "resource": "datasets/x"}])
    );
    let group = sh.json(&["group", "create", "acme", "readers", "--role", "model-reader", "--grant", "datasets:read"]);
    assert_eq!(group["roles"], serde_json::json!(["model-reader"]));
    let group = sh.json(&["group", "add-member", "acme", "readers", BOT]);
    assert!(group["members"].as_array().unwrap().iter().any(|m| m == BOT));
    // Cross-tenant access, then a token scoped to one tenant.
    let out = sh.kw(&["-o", "json", "--as", "root@globex.test", "access", "grant", "globex", BOT, "--role", "viewer"]);
    assert_eq!(status(&out), 0, "{}", text(&out.stderr));
    let created = sh.json(&[
        "token",
        "create",
        BOT,
        "--name",
        "scoped",
        "--ttl-days",
        "7",
        "--scope",
        "globex/models:read",
        "--scope",
        "models:read@models/llama*",
    ]);
    assert_eq!(
        created["scopes"],
        serde_json::json!([{"permission": "models:read", "resource": "*", "tenant": "globex"}, {"permission": "models:read", "resource": "models/llama*"}])
    );
    let token = created["token"].as_str().unwrap();
    let run = |sh: &mut Shell, tenant: &'static str, permission: &'static str, resource: &'static str| {
        status(&sh.exec(Run {
            args: vec!["verify", tenant, permission, resource],
            env: vec![],
            stdin: Some(&format!("{token}\n")),
        }))
    };
    assert_eq!(run(&mut sh, "globex", "models:read", "models/any"), 0);
    assert_eq!(run(&mut sh, "acme", "models:read", "models/llama-3"), 0);
    assert_eq!(run(&mut sh, "acme", "models:read", "models/mistral"), 1);
    // A grant takes no tenant; a bad one is bad input.
    let out = sh.kw(&["--as", ROOT, "account", "grant", "acme", BOT, "globex/models:read"]);
    assert_eq!(status(&out), 2);
}

#[test]
fn passwords_come_from_stdin() {
    let mut sh = Shell::new();
    sh.json(&["tenant", "create", "acme", "--admin", ROOT]);
    let password = "Correct-Horse-9-battery";
    let out = sh.exec(Run {
        args: vec!["-o", "json", "--as", ROOT, "sa", "create", "acme", "bot", "--password-stdin"],
        env: vec![],
        stdin: Some(&format!("{password}\n")),
    });
    assert_eq!(status(&out), 0, "{}", text(&out.stderr));
    let account: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(account["has_password"], true);
    let sign_in = |sh: &mut Shell, given: &str| {
        sh.exec(Run {
            args: vec!["-o", "json", "authenticate", "--principal", BOT, "--password-stdin"],
            env: vec![],
            stdin: Some(given),
        })
    };
    let out = sign_in(&mut sh, &format!("{password}\n"));
    assert_eq!(status(&out), 0, "{}", text(&out.stderr));
    let identity: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((&identity["principal"], &identity["token_id"]), (&BOT.into(), &Value::Null));
    // One trailing newline only is dropped.
    assert_eq!(status(&sign_in(&mut sh, &format!("{password}\n\n"))), 1);
    let account = sh.json(&["sa", "set-password", BOT, "--clear"]);
    assert_eq!(account["has_password"], false);
    for (cmd, out) in &sh.seen {
        assert!(!text(&out.stdout).contains(password) && !text(&out.stderr).contains(password), "{cmd}");
    }
}

#[test]
fn the_token_is_shown_only_by_token_create_and_rotate() {
    let mut sh = Shell::new();
    sh.acme();
    let created = sh.kw(&["--as", ROOT, "token", "create", BOT, "--name", "ci"]);
    assert_eq!(status(&created), 0);
    let table = text(&created.stdout);
    let row = |field: &str| {
        table
            .lines()
            .find_map(|l| l.split_once(' ').filter(|(k, _)| *k == field).map(|(_, v)| v.trim().to_owned()))
            .unwrap()
    };
    let (first, token_id) = (row("token"), row("token_id"));
    assert!(first.starts_with("kw_"), "{table}");
    let shown_by = sh.seen.len() - 1;
    // Everything a script does with it afterwards.
    let with = |sh: &mut Shell, args: Vec<&str>, token: &str| {
        sh.exec(Run { args, env: vec![("KEYWARD_TOKEN", token)], stdin: None });
    };
    with(&mut sh, vec!["verify", "acme", "models:read"], &first);
    with(&mut sh, vec!["-o", "json", "verify", "acme", "models:write"], &first);
    with(&mut sh, vec!["authenticate"], &first);
    with(&mut sh, vec!["-o", "json", "authenticate", "--channel", "ui"], &first);
    sh.exec(Run {
        args: vec!["-o", "json", "verify", "acme", "models:read"],
        env: vec![],
        stdin: Some(&format!("{first}\n")),
    });
    let rotated = sh.json(&["token", "rotate", BOT, &token_id, "--grace-seconds", "60"]);
    let second = rotated["token"].as_str().unwrap().to_owned();
    let rotated_by = sh.seen.len() - 1;
    assert_ne!(first, second);
    with(&mut sh, vec!["verify", "acme", "models:read"], &second);
    with(&mut sh, vec!["verify", "acme", "models:read"], &first);
    sh.json(&["token", "revoke", BOT, &token_id]);
    with(&mut sh, vec!["-o", "json", "verify", "acme", "models:read"], &first);
    with(&mut sh, vec!["authenticate"], &first);
    with(&mut sh, vec!["-o", "json", "authenticate"], &first);
    sh.kw(&["--as", ROOT, "token", "list", BOT]);
    sh.json(&["token", "list", BOT]);
    sh.kw(&["--as", ROOT, "audit", "acme"]);
    sh.json(&["audit", "acme", "--all"]);
    sh.kw(&["--as", ROOT, "account", "show", "acme", BOT]);
    sh.kw(&["--as", ROOT, "token", "rename", BOT, &token_id, &first]);
    sh.kw(&["-o", "json", "--as", ROOT, "token", "rename", BOT, &token_id, &second]);
    for (i, (cmd, out)) in sh.seen.iter().enumerate() {
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        for (secret, shown) in [(&first, shown_by), (&second, rotated_by)] {
            let body = secret.rsplit('_').next().unwrap();
            assert!(!stderr.contains(body), "`keyward {cmd}` printed a token on stderr: {stderr}");
            if i == shown {
                assert_eq!(stdout.matches(body).count(), 1, "`keyward {cmd}` shows the token once: {stdout}");
            } else {
                assert!(!stdout.contains(body), "`keyward {cmd}` printed a token on stdout: {stdout}");
            }
        }
    }
}

#[test]
fn two_processes_creating_tokens_on_one_sqlite_file_lose_none() {
    let mut sh = Shell::new();
    sh.acme();
    let per_process = 10;
    let script = format!(
        "for i in $(seq {per_process}); do \"$0\" --as {ROOT} -o json token create {BOT} --name \"$1-$i\" >/dev/null || exit 9; done"
    );
    let children: Vec<_> = ["a", "b"]
        .iter()
        .map(|who| {
            like(&sh.command(), "sh")
                .args(["-c", &script, env!("CARGO_BIN_EXE_keyward"), who])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let tokens = sh.json(&["token", "list", BOT]);
    let mut names: Vec<&str> = tokens.as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    names.sort_unstable();
    assert_eq!(names.len(), 2 * per_process, "{names:?}");
    let events = sh.json(&["audit", "acme", "--filter", "action=token.create", "--all"]);
    assert_eq!(events["events"].as_array().unwrap().len(), 2 * per_process);
}

#[test]
fn a_postgres_url_serves_the_command() {
    let url = std::env::var("KEYWARD_TEST_PG_URL").unwrap_or_else(|_| {
        panic!(
            "KEYWARD_TEST_PG_URL is not set: this test needs a real PostgreSQL server; run it as \
             `scripts/with-postgres.sh cargo test -p keyward-cli` (or `make cli-test`)"
        )
    });
    assert!(url.starts_with("postgres://") || url.starts_with("postgresql://"), "{url}");
    let mut sh = Shell::on(&url);
    // The database may hold other runs' tenants: a name of this run's own.
    let tenant = format!("t{}", std::process::id());
    sh.json(&["tenant", "create", &tenant, "--admin", ROOT]);
    let principal = format!("bot@{tenant}.sa.keyward.local");
    sh.json(&["sa", "create", &tenant, "bot", "--role", "inference-user"]);
    let token = sh.json(&["token", "create", &principal])["token"].as_str().unwrap().to_owned();
    let out = sh.exec(Run {
        args: vec!["-o", "json", "verify", &tenant, "models:read"],
        env: vec![("KEYWARD_TOKEN", &token)],
        stdin: None,
    });
    assert_eq!(status(&out), 0, "{}", text(&out.stderr));
    let decision: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(decision["principal"], principal.as_str());
    // The same database through KEYWARD_DB and through --db with the other scheme.
    let other = url.replacen("postgres://", "postgresql://", 1);
    let out = sh.kw(&["--db", &other, "-o", "json", "--as", ROOT, "token", "list", &principal]);
    assert_eq!(status(&out), 0, "{}", text(&out.stderr));
    let tokens: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(tokens.as_array().unwrap().len(), 1);
}

#[test]
fn every_sub_command_has_help_with_an_example() {
    let commands: &[&[&str]] = &[
        &["tenant", "create"],
        &["tenant", "show"],
        &["tenant", "update"],
        &["tenant", "seats"],
        &["role", "define"],
        &["role", "delete"],
        &["group", "create"],
        &["group", "delete"],
        &["group", "add-member"],
        &["group", "remove-member"],
        &["group", "grant"],
        &["group", "revoke"],
        &["user", "create"],
        &["user", "remove"],
        &["user", "sync"],
        &["sa", "create"],
        &["sa", "update"],
        &["sa", "set-password"],
        &["account", "list"],
        &["account", "show"],
        &["account", "set-role"],
        &["account", "grant"],
        &["account", "revoke-grant"],
        &["account", "disable"],
        &["account", "enable"],
        &["account", "revoke"],
        &["account", "delete"],
        &["access", "grant"],
        &["access", "remove"],
        &["token", "create"],
        &["token", "list"],
        &["token", "rename"],
        &["token", "revoke"],
        &["token", "rotate"],
        &["verify"],
        &["authenticate"],
        &["authorize"],
        &["permissions"],
        &["audit"],
        &["tenant"],
        &["role"],
        &["group"],
        &["user"],
        &["sa"],
        &["account"],
        &["access"],
        &["token"],
    ];
    let sh = Shell::new();
    for words in commands {
        let out = sh.command().args(*words).arg("--help").output().unwrap();
        let help = text(&out.stdout);
        assert_eq!(status(&out), 0, "{words:?}");
        assert!(help.contains("Example"), "keyward {} --help has no example:\n{help}", words.join(" "));
        let last = words[words.len() - 1];
        let example = help.split("Example").nth(1).unwrap_or_default();
        assert!(
            example.lines().any(|l| l.contains("keyward") && l.contains(last)),
            "keyward {} --help: {help}",
            words.join(" ")
        );
    }
    let out = sh.command().arg("--help").output().unwrap();
    assert!(text(&out.stdout).contains("Exit status"));
}

#[test]
fn sqlite_is_the_default_database_in_the_working_directory() {
    let sh = Shell::new();
    let mut cmd = sh.command();
    cmd.env_remove("KEYWARD_DB").args(["-o", "json", "tenant", "create", "acme", "--admin", ROOT]);
    let out = cmd.output().unwrap();
    assert_eq!(status(&out), 0, "{}", text(&out.stderr));
    assert!(Path::new(&PathBuf::from(sh.dir.path()).join("keyward.db")).exists());
}

#[test]
fn the_demo_runs_twice_on_a_fresh_database() {
    let sh = Shell::new();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/demo.sh");
    let mut outputs = Vec::new();
    for _ in 0..2 {
        let mut keyward = sh.command();
        keyward.env_remove("KEYWARD_DB").env("KEYWARD", env!("CARGO_BIN_EXE_keyward"));
        let out = like(&keyward, "bash").arg(&script).output().unwrap();
        assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
        assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
        outputs.push(text(&out.stdout));
    }
    for out in &outputs {
        // Each command shown before its output; verify allowed and denied; no failure.
        assert!(out.contains("\n$ keyward tenant create acme --admin root@acme.test --name 'Acme Corp'\n"), "{out}");
        assert_eq!(out.matches("(exit status 1)").count(), 2, "{out}");
        assert_eq!(out.matches("(exit status").count(), 2, "{out}");
        assert!(!out.contains("error:"), "{out}");
        assert!(out.contains("service_account.create"), "{out}");
    }
    assert!(sh.dir.path().join("keyward.db").exists());
}

/// `program` with the environment and directory of `cmd` (a `keyward` command of the shell).
fn like(cmd: &Command, program: &str) -> Command {
    let mut other = Command::new(program);
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => other.env(k, v),
            None => other.env_remove(k),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        other.current_dir(dir);
    }
    other
}

#[test]
fn domain_token_prefix_and_pepper_come_from_flags_and_env() {
    let mut sh = Shell::new();
    let env = vec![("KEYWARD_PEPPER", "a-pepper-from-the-vault"), ("KEYWARD_TOKEN_PREFIX", "acme")];
    let run = |sh: &mut Shell, args: &[&str], env: &[(&'static str, &'static str)], stdin: Option<&str>| {
        let mut all = vec!["-o", "json", "--as", ROOT, "--domain", "corp.test"];
        all.extend_from_slice(args);
        sh.exec(Run { args: all, env: env.to_vec(), stdin })
    };
    assert_eq!(status(&run(&mut sh, &["tenant", "create", "acme", "--admin", ROOT], &env, None)), 0);
    let out = run(&mut sh, &["sa", "create", "acme", "bot", "--role", "viewer"], &env, None);
    let account: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(account["principal"], "bot@acme.sa.corp.test");
    let out = run(&mut sh, &["token", "create", "bot@acme.sa.corp.test"], &env, None);
    let token = serde_json::from_slice::<Value>(&out.stdout).unwrap()["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("acme_"), "{token}");
    let line = format!("{token}\n");
    assert_eq!(status(&run(&mut sh, &["verify", "acme", "models:read"], &env, Some(&line))), 0);
    // Without the pepper the stored hash matches nothing: a denied decision, not an error.
    let out = run(&mut sh, &["verify", "acme", "models:read"], &[("KEYWARD_TOKEN_PREFIX", "acme")], Some(&line));
    assert_eq!(status(&out), 1);
    let decision: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(decision["reason"], "invalid_credentials");
}

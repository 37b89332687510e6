//! Target `filter`: the list filter parser on the fields of `list_accounts` and
//! `audit_log`, the parsed filter evaluated on records, and the same text through the engine.

use keyward_core::accounts::read::ACCOUNT_FIELDS;
use keyward_core::audit::log::EVENT_FIELDS;
use keyward_core::filter::{self, FieldType, FieldValue, Fields, Schema};
use keyward_core::{Call, Error};
use serde_json::json;

use crate::input::Input;
use crate::world::{engine, env, world, T0};

const TEXTS: [&str; 6] = ["", "service", "active", "deploy-bot", "a*b\"\\", "\u{fc}ber"];
const INTS: [i64; 5] = [i64::MIN, -1, 0, T0, i64::MAX];

/// A record whose every field has a value of its schema type, varied by `n`.
struct Record(usize);

impl Fields for Record {
    fn field(&self, name: &str) -> FieldValue<'_> {
        let kind = ACCOUNT_FIELDS.iter().chain(EVENT_FIELDS.iter()).find(|(f, _)| *f == name).map(|(_, t)| *t);
        let n = self.0 + name.len();
        match kind {
            Some(FieldType::Bool) => FieldValue::Bool(n % 2 == 0),
            Some(FieldType::Int) => FieldValue::Int(INTS.get(n % INTS.len()).copied().unwrap_or_default()),
            _ => FieldValue::Text(TEXTS.get(n % TEXTS.len()).copied().unwrap_or_default()),
        }
    }
}

fn position(e: &Error) -> Option<usize> {
    match e {
        Error::InvalidFilter { position, .. } => Some(*position),
        _ => None,
    }
}

/// The first byte chooses: bit 0, the accounts' or the events' schema; bit 1, run the filter
/// through `list_accounts`/`audit_log` on the world's store too. The rest is the filter.
pub fn filter(data: &[u8]) {
    let mut input = Input::new(data);
    let mode = input.byte();
    let text = input.rest_text();
    let accounts = mode & 1 == 1;
    let schema: Schema = if accounts { ACCOUNT_FIELDS } else { EVENT_FIELDS };
    let parsed = filter::parse(&text, &schema);
    match &parsed {
        Ok(f) => {
            for n in 0..8 {
                let _ = f.matches(&Record(n));
            }
        }
        Err(e) => {
            assert_eq!(e.code(), "invalid_filter", "a bad filter is invalid_filter (R-70)");
            let at = position(e).unwrap_or(usize::MAX);
            assert!(at <= text.chars().count(), "the error position {at} lies past the filter's end");
        }
    }
    if mode & 2 == 2 {
        let w = world();
        let (root, broot) = (w.principals.first().cloned(), w.principals.get(1).cloned());
        let (op, actor, tenant) = if accounts { ("list_accounts", root, "acme") } else { ("audit_log", broot, "beta") };
        let args = json!({"actor": actor, "tenant": tenant, "filter": text, "page_size": 3});
        let Ok(call) = Call::from_json(json!({"op": op, "args": args})) else { return };
        let (answer, _) = engine(0).run(&w.store(), call, env(100));
        match (&parsed, &answer) {
            (Ok(_), Err(e)) => crate::finding(&format!("{op} refused a filter the parser accepts: {e}")),
            (Err(p), Err(e)) => assert_eq!(position(p), position(e), "{op} and the parser disagree"),
            (Err(p), Ok(_)) => crate::finding(&format!("{op} accepted a filter the parser refuses: {p}")),
            (Ok(_), Ok(_)) => {}
        }
    }
}

/// Seeds: a few filters of each listing.
pub fn seeds() -> Vec<Vec<u8>> {
    let filters: [(u8, &str); 10] = [
        (3, "service_account = true AND status != \"disabled\""),
        (3, "kind = service OR (role = viewer AND NOT owned = false)"),
        (1, "name = \"deploy-*\" created_at >= 1700000000000"),
        (1, "principal < \"m\" OR principal > \"x\\\"y\""),
        (2, "action = \"token.*\" AND outcome = ok"),
        (2, "NOT (time < 5 OR time > -9223372036854775808) reason != \"\""),
        (0, "actor = root@acme.test target = \"a\\\\b\""),
        (1, "((((role = admin))))"),
        (0, ""),
        (1, "status = active AND"),
    ];
    filters.iter().map(|(m, f)| [&[*m], f.as_bytes()].concat()).collect()
}

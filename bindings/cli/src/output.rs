//! What the command prints: the API.md record as JSON (`-o json`), or a table for people
//! (aligned columns, times as UTC dates, `-` for null); errors as one line on stderr.

use keyward_core::Error;
use serde_json::{Map, Value};

/// `-o table|json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns for people.
    Table,
    /// The API.md record, nothing else.
    Json,
}

/// An error on stderr: `error: <code>: <message>`, or `{"error": {...}}` with `-o json`.
pub fn print_error(format: Format, e: &Error) {
    match format {
        Format::Json => {
            let value = serde_json::json!({ "error": serde_json::to_value(e.to_data()).unwrap_or(Value::Null) });
            eprintln!("{value}");
        }
        Format::Table => {
            // The core's message already opens with the code in words: say it once.
            let message = e.to_string();
            let words = format!("{}: ", e.code().replace('_', " "));
            eprintln!("error: {}: {}", e.code(), message.strip_prefix(&words).unwrap_or(&message));
        }
    }
}

/// The answer as the chosen format, ending in a newline.
pub fn render(format: Format, answer: &Value) -> String {
    match format {
        Format::Json => format!("{}\n", serde_json::to_string_pretty(answer).unwrap_or_else(|_| answer.to_string())),
        Format::Table => table(answer),
    }
}

/// Columns shown for a list of records, by the kind of record (the first key present wins).
const COLUMNS: &[(&str, &[&str])] = &[
    ("token_id", &["token_id", "name", "created_at", "expires_at", "last_used_at", "revoked_at", "scopes"]),
    ("action", &["time", "actor", "action", "target", "outcome", "reason"]),
    ("kind", &["principal", "kind", "name", "status", "roles", "groups", "created_at"]),
    ("source", &["permission", "resource", "source"]),
];

fn table(answer: &Value) -> String {
    match answer {
        Value::Array(items) => list(items),
        Value::Object(record) => {
            // A page: its items, then how to get the next one.
            for items_key in ["accounts", "events"] {
                if let (Some(Value::Array(items)), Some(next)) = (record.get(items_key), record.get("next_page_token"))
                {
                    let mut text = list(items);
                    if let Value::String(next) = next {
                        text.push_str(&format!("next page: --page-token {next}\n"));
                    }
                    return text;
                }
            }
            fields(record)
        }
        other => format!("{}\n", cell("", other)),
    }
}

/// One record: a `field  value` row per field.
fn fields(record: &Map<String, Value>) -> String {
    let rows: Vec<Vec<String>> = record.iter().map(|(k, v)| vec![k.clone(), cell(k, v)]).collect();
    aligned(&rows)
}

/// A list of records: a header and a row per record.
fn list(items: &[Value]) -> String {
    let Some(Value::Object(first)) = items.first() else {
        return if items.is_empty() {
            "(none)\n".to_owned()
        } else {
            items.iter().map(|v| format!("{}\n", cell("", v))).collect()
        };
    };
    let columns: Vec<&str> = COLUMNS
        .iter()
        .find(|(key, _)| first.contains_key(*key))
        .map(|(_, cols)| cols.to_vec())
        .unwrap_or_else(|| first.keys().map(String::as_str).collect());
    let mut rows = vec![columns.iter().map(|c| c.to_uppercase()).collect::<Vec<_>>()];
    for item in items {
        rows.push(columns.iter().map(|c| cell(c, item.get(*c).unwrap_or(&Value::Null))).collect());
    }
    aligned(&rows)
}

fn aligned(rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = Vec::new();
    for row in rows {
        for (i, c) in row.iter().enumerate() {
            let w = c.chars().count();
            match widths.get_mut(i) {
                Some(width) => *width = (*width).max(w),
                None => widths.push(w),
            }
        }
    }
    let mut text = String::new();
    for row in rows {
        let mut line = String::new();
        for (i, c) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(c);
            } else {
                let width = widths.get(i).copied().unwrap_or(0);
                line.push_str(&format!("{c:<width$}  "));
            }
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

/// One value for people: null `-`, times as UTC dates, grants as `[TENANT/]PERMISSION[@RESOURCE]`.
fn cell(key: &str, value: &Value) -> String {
    match value {
        Value::Null => "-".to_owned(),
        Value::Number(n) if key == "time" || key.ends_with("_at") => n.as_i64().map_or_else(|| n.to_string(), utc),
        Value::String(s) => s.clone(),
        Value::Array(items) if items.is_empty() => "-".to_owned(),
        Value::Array(items) => items.iter().map(|v| cell("", v)).collect::<Vec<_>>().join(", "),
        Value::Object(o) => match (o.get("permission"), o.get("principal")) {
            (Some(Value::String(p)), _) => {
                let mut text = String::new();
                if let Some(Value::String(t)) = o.get("tenant") {
                    text.push_str(&format!("{t}/"));
                }
                text.push_str(p);
                match o.get("resource") {
                    Some(Value::String(r)) if r != "*" => text.push_str(&format!("@{r}")),
                    _ => {}
                }
                text
            }
            (_, Some(Value::String(principal))) => principal.clone(),
            // Settings and the like: `key=value` pairs.
            _ => o.iter().map(|(k, v)| format!("{k}={}", cell(k, v))).collect::<Vec<_>>().join(", "),
        },
        other => other.to_string(),
    }
}

/// Milliseconds since the epoch as `YYYY-MM-DD HH:MM:SSZ` (UTC; proleptic Gregorian).
fn utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00Z");
        assert_eq!(utc(1_700_000_000_000), "2023-11-14 22:13:20Z");
        assert_eq!(utc(951_782_400_000), "2000-02-29 00:00:00Z");
    }

    #[test]
    fn grants_read_as_typed() {
        let scope = serde_json::json!({"permission": "models:read", "resource": "models/x", "tenant": "globex"});
        assert_eq!(cell("scopes", &serde_json::json!([scope, "a:b"])), "globex/models:read@models/x, a:b");
        assert_eq!(cell("revoked_at", &Value::Null), "-");
    }
}

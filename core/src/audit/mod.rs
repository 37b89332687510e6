//! Audit events (R-80..R-82): what every mutation, denied admin attempt and data-plane
//! decision leaves behind.
//!
//! Mutations and denied admin attempts are stored under `e/<tenant>/` in the same logical
//! step as the mutation and handed to the host's audit callback; data-plane decisions
//! (`auth.*`) go to the callback only. Keys sort newest first: `<inverted time>.<inverted
//! sequence>`, where the sequence orders events of the same millisecond.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::docs::{event_prefix, AccountDoc};
use crate::error::{Error, Result};
use crate::op::Cx;
use crate::records::AccountKind;

/// Who acted, as shown in an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActorRef {
    /// The actor's principal (`"system"` for bootstrap).
    pub principal: String,
    /// `user`, `service` or `system`: automation and people are told apart here.
    pub kind: String,
    /// The actor's status (`active`, `disabled`, `revoked`).
    pub status: String,
}

impl ActorRef {
    /// The bootstrap actor of `create_tenant`.
    pub fn system() -> ActorRef {
        ActorRef { principal: "system".into(), kind: "system".into(), status: "active".into() }
    }

    /// An account as actor.
    pub fn of(account: &AccountDoc) -> ActorRef {
        ActorRef {
            principal: account.principal.clone(),
            kind: account.kind.as_str().into(),
            status: account.status.as_str().into(),
        }
    }

    /// An account as actor, from the data plane's view of it.
    pub(crate) fn of_head(account: &crate::docs::AccountHead) -> ActorRef {
        ActorRef {
            principal: account.principal.clone(),
            kind: account.kind.as_str().into(),
            status: account.status.as_str().into(),
        }
    }

    /// A principal that names no account.
    pub fn unknown(principal: &str) -> ActorRef {
        ActorRef { principal: principal.to_owned(), kind: AccountKind::User.as_str().into(), status: "unknown".into() }
    }
}

/// One audit event. Never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// When, ms since the epoch.
    pub time: i64,
    /// The tenant whose log holds it; `None` only for a failed sign-in whose account is unknown.
    pub tenant: Option<String>,
    /// Who; `None` for a failed sign-in.
    pub actor: Option<ActorRef>,
    /// `<object>.<verb>`, e.g. `token.rotate`.
    pub action: String,
    /// A principal, `token:<id>`, `group:<name>`, `role:<name>` or `tenant:<id>`.
    pub target: String,
    /// `ok`, `denied` or `error`.
    pub outcome: String,
    /// `None` when ok; otherwise an error code.
    pub reason: Option<String>,
    /// More about it (e.g. the group of a membership change); possibly empty.
    pub details: Map<String, Value>,
}

/// Caller-supplied text in an event is clipped: the actor's principal and the target to
/// this many characters...
const PRINCIPAL_MAX: usize = 320;
/// ...and every other string in the details to this many.
const DETAIL_MAX: usize = 1000;

/// `text` without token-shaped parts, then cut to its first `max` characters.
/// Allocates only when something changes.
fn scrub(text: String, max: usize) -> String {
    let text = match crate::error::redact(&text) {
        std::borrow::Cow::Borrowed(_) => text,
        std::borrow::Cow::Owned(clean) => clean,
    };
    if text.len() <= max {
        return text; // no more bytes than `max`, so no more characters
    }
    match text.char_indices().nth(max) {
        Some((end, _)) => text.get(..end).unwrap_or_default().to_owned(),
        None => text,
    }
}

fn scrub_value(value: &mut Value) {
    match value {
        Value::String(s) => *s = scrub(std::mem::take(s), DETAIL_MAX),
        Value::Array(items) => items.iter_mut().for_each(scrub_value),
        Value::Object(map) => map.values_mut().for_each(scrub_value),
        _ => {}
    }
}

impl AuditEvent {
    /// The event as it may be stored or handed out: token-shaped text redacted everywhere
    /// the actor's principal and the target clipped to 320 characters and every other
    /// string value of the details to 1,000. Every event passes through here.
    pub(crate) fn sanitized(mut self) -> AuditEvent {
        if let Some(actor) = &mut self.actor {
            actor.principal = scrub(std::mem::take(&mut actor.principal), PRINCIPAL_MAX);
        }
        self.tenant = self.tenant.map(|t| scrub(t, PRINCIPAL_MAX));
        self.target = scrub(std::mem::take(&mut self.target), PRINCIPAL_MAX);
        self.details.values_mut().for_each(scrub_value);
        self
    }
}

/// A stored event with the key it sorts by.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StoredEvent {
    #[serde(default)]
    pub schema: u32,
    #[serde(flatten)]
    pub event: AuditEvent,
}

pub mod log;
mod once;

const MAX_ATTEMPTS: usize = 5;

fn event_key(prefix: &str, time: i64, seq: u64) -> String {
    let inverted_time = i64::MAX.saturating_sub(time.max(0));
    format!("{prefix}{inverted_time:019}.{:010}", 9_999_999_999u64.saturating_sub(seq))
}

/// The key prefix that every event of `tenant` at `time` shares.
fn same_ms_prefix(tenant: &str, time: i64) -> String {
    let key = event_key(&event_prefix(tenant), time, 0);
    key.get(..key.len().saturating_sub(10)).unwrap_or(&key).to_owned()
}

fn key_parts(prefix: &str, key: &str) -> Option<(i64, u64)> {
    let rest = key.strip_prefix(prefix)?;
    let (t, s) = rest.split_once('.')?;
    Some((i64::MAX - t.parse::<i64>().ok()?, 9_999_999_999u64.checked_sub(s.parse::<u64>().ok()?)?))
}

/// Builds the details map from pairs.
pub(crate) fn details<const N: usize>(pairs: [(&str, Value); N]) -> Map<String, Value> {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

impl Cx {
    /// Appends an event to `tenant`'s log and hands it to the host callback.
    pub async fn audit(&self, tenant: &str, event: AuditEvent) -> Result<()> {
        let event = event.sanitized();
        self.append(tenant, &event).await?;
        self.emit_sanitized(event);
        Ok(())
    }

    /// Stores a sanitized event under the next sequence of its millisecond; returns its key
    /// and version. Handing it to the callback is the caller's part.
    async fn append(&self, tenant: &str, event: &AuditEvent) -> Result<(String, u64)> {
        let prefix = event_prefix(tenant);
        let same_ms = same_ms_prefix(tenant, event.time);
        // The first key under the millisecond's prefix holds the highest sequence so far.
        // Looking only there keeps the order right even when a later-timestamped event was
        // written first (concurrent calls, a clock stepping back).
        for _ in 0..MAX_ATTEMPTS {
            let newest = self.list_page(&same_ms, None, 1).await?;
            let seq = newest.first().and_then(|e| key_parts(&prefix, &e.key)).map_or(0, |(_, seq)| seq + 1);
            let key = event_key(&prefix, event.time, seq);
            let stored = StoredEvent { schema: crate::docs::SCHEMA, event: event.clone() };
            if let Some(version) = self.put(&key, &stored, None).await? {
                return Ok((key, version));
            }
        }
        Err(Error::Conflict { message: format!("audit log of tenant `{tenant}`") })
    }

    /// Builds and stores an event of this operation's time.
    pub async fn record(
        &self,
        tenant: &str,
        actor: ActorRef,
        action: &str,
        target: &str,
        outcome: Result<(), &Error>,
        details: Map<String, Value>,
    ) -> Result<()> {
        let (outcome, reason) = match outcome {
            Ok(()) => ("ok", None),
            // Refused for rights or credentials (an identity whose token no longer holds, R-26).
            Err(
                e @ (Error::Forbidden { .. }
                | Error::NotOwner { .. }
                | Error::InvalidCredentials
                | Error::TokenRevoked
                | Error::TokenExpired),
            ) => ("denied", Some(e.code().to_owned())),
            Err(e) => ("error", Some(e.code().to_owned())),
        };
        let event = AuditEvent {
            time: self.now,
            tenant: Some(tenant.to_owned()),
            actor: Some(actor),
            action: action.to_owned(),
            target: target.to_owned(),
            outcome: outcome.to_owned(),
            reason,
            details,
        };
        self.audit(tenant, event).await
    }
}

impl Cx {
    /// [`Cx::record`] in each tenant concerned, with the same action and target in each
    /// access granted or removed, and an owner's deletion or revocation of an account
    /// with access elsewhere, leave an event in the owner tenant and in every other one.
    pub async fn record_each(
        &self,
        tenants: &[&str],
        actor: &ActorRef,
        action: &str,
        target: &str,
        details: &Map<String, Value>,
    ) -> Result<()> {
        for tenant in tenants {
            self.record(tenant, actor.clone(), action, target, Ok(()), details.clone()).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r81_r82_events_are_clipped_and_redacted() {
        let token = "kw_AbCdEf012345_0123456789abcdefghijABCDEFGHIJ0123456789ab";
        let event = AuditEvent {
            time: 1,
            tenant: Some("acme".into()),
            actor: Some(ActorRef::unknown(&format!("{token}{}", "é".repeat(400)))),
            action: "token.rename".into(),
            target: "t".repeat(500),
            outcome: "ok".into(),
            reason: None,
            details: details([
                ("name", Value::String("ü".repeat(2000))),
                ("list", serde_json::json!([token, {"deep": "x".repeat(1001)}])),
                ("n", Value::from(5)),
            ]),
        }
        .sanitized();
        let actor = event.actor.as_ref().map(|a| a.principal.clone()).unwrap_or_default();
        assert!(actor.starts_with("[redacted]éé") && actor.chars().count() == 320);
        assert_eq!(event.target, "t".repeat(320));
        assert_eq!(event.details["name"], Value::String("ü".repeat(1000)));
        assert_eq!(event.details["list"], serde_json::json!(["[redacted]", {"deep": "x".repeat(1000)}]));
        assert_eq!(event.details["n"], Value::from(5));
        assert_eq!(event.tenant.as_deref(), Some("acme"));
    }

    #[test]
    fn r81_the_same_millisecond_prefix_is_the_key_without_its_sequence() {
        let p = "e/acme/";
        let key = event_key(p, 1_000, 3);
        let prefix = event_key(p, 1_000, 0);
        let prefix = &prefix[..prefix.len() - 10];
        assert!(key.starts_with(prefix) && prefix.ends_with('.'));
        assert!(!event_key(p, 1_001, 0).starts_with(prefix));
    }

    #[test]
    fn r81_keys_sort_newest_first_and_parse_back() {
        let p = "e/acme/";
        let a = event_key(p, 1_000, 0);
        let b = event_key(p, 1_000, 1);
        let c = event_key(p, 2_000, 0);
        assert!(c < b && b < a, "later time first, then later sequence first");
        assert_eq!(key_parts(p, &b), Some((1_000, 1)));
    }
}

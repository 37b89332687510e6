//! Events written at most once for one mutation, so that a rerun of an interrupted mutation
//! writes the event the first run did not, and never a second one.
//!
//! A mutation that may be rerun remembers, in the document it changed, the time its event is
//! written at (a token's `pending.since` or `revoked_at`, an account's `updated_at`, a
//! membership's `created_at`). A rerun looks in that millisecond of the log for an event with
//! the same action and target, and writes it, at that time, only when it is missing.

use serde_json::{Map, Value};

use crate::audit::{event_key, ActorRef, AuditEvent, StoredEvent};
use crate::docs::event_prefix;
use crate::error::Result;
use crate::op::{parse, Cx};

impl Cx {
    /// Whether `tenant`'s log holds an `ok` event of `action` on `target` at `time` that no
    /// later `ok` event of that millisecond on the same target follows. An event of a deleted
    /// namesake, created and deleted in the same millisecond, is not this mutation's.
    pub async fn event_stored(&self, tenant: &str, time: i64, action: &str, target: &str) -> Result<bool> {
        let key = event_key(&event_prefix(tenant), time, 0);
        let same_ms = key.get(..key.len().saturating_sub(10)).unwrap_or(&key).to_owned();
        // Newest first: the first `ok` event on the target decides.
        for entry in self.list_all(&same_ms).await? {
            let stored: StoredEvent = parse(&entry.key, &entry.value)?;
            let e = &stored.event;
            if e.time == time && e.target == target && e.outcome == "ok" {
                return Ok(e.action == action);
            }
        }
        Ok(false)
    }

    /// Stores the `ok` event of a mutation at `time` unless the log already holds it.
    pub async fn record_once(
        &self,
        time: i64,
        tenant: &str,
        actor: ActorRef,
        action: &str,
        target: &str,
        details: Map<String, Value>,
    ) -> Result<()> {
        if self.event_stored(tenant, time, action, target).await? {
            return Ok(());
        }
        let event = AuditEvent {
            time,
            tenant: Some(tenant.to_owned()),
            actor: Some(actor),
            action: action.to_owned(),
            target: target.to_owned(),
            outcome: "ok".to_owned(),
            reason: None,
            details,
        };
        self.audit(tenant, event).await
    }
}

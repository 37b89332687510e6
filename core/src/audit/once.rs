//! Events written exactly once for one mutation, and never one for a change that did not
//! happen.
//!
//! A mutation that may be rerun remembers, in the document it changed, the time its event is
//! written at (a token's `pending.since` or `revoked_at`, an account's `updated_at`, a
//! membership's `created_at`). A rerun looks in that millisecond of the log for an event with
//! the same action and target, and writes it, at that time, only when it is missing.
//!
//! Looking first is not enough when two calls complete one change at once (a rerun racing the
//! call it completes): both may look, find nothing and append. So an event of such a change
//! is appended first and looked for after: the call whose copy is not the older one takes its
//! copy back. Of two copies the older always stays, so exactly one remains, whichever order
//! the calls run in; a crash between the append and the take-back errs towards a duplicate.

use serde_json::{Map, Value};

use crate::audit::{same_ms_prefix, ActorRef, AuditEvent, StoredEvent};
use crate::error::{Error, Result};
use crate::op::{parse, Cx};

impl Cx {
    /// The newest event of `time` on `target` (of `action`, or with outcome `ok` when
    /// `action` is `None`) written before the event stored under `before` (all of them
    /// without it), as its outcome and action.
    async fn newest_on(
        &self,
        tenant: &str,
        time: i64,
        target: &str,
        action: Option<&str>,
        before: Option<&str>,
    ) -> Result<Option<(String, String)>> {
        // Keys sort newest first: the events written before `before` come after it.
        for entry in self.list_all(&same_ms_prefix(tenant, time)).await? {
            if before.is_some_and(|b| entry.key.as_str() <= b) {
                continue;
            }
            let stored: StoredEvent = parse(&entry.key, &entry.value)?;
            let e = stored.event;
            let wanted = match action {
                Some(a) => e.action == a,
                None => e.outcome == "ok",
            };
            if e.time == time && e.target == target && wanted {
                return Ok(Some((e.outcome, e.action)));
            }
        }
        Ok(None)
    }

    /// Whether `tenant`'s log holds an `ok` event of `action` on `target` at `time` that no
    /// later `ok` event of that millisecond on the same target follows. An event of a deleted
    /// namesake, created and deleted in the same millisecond, is not this mutation's.
    pub async fn event_stored(&self, tenant: &str, time: i64, action: &str, target: &str) -> Result<bool> {
        let newest = self.newest_on(tenant, time, target, None, None).await?;
        Ok(newest.is_some_and(|(_, a)| a == action))
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
        self.append_once(time, tenant, actor, action, target, details).await
    }

    /// Appends the `ok` event of a mutation at `time`, then takes it back when an older copy
    /// of it (the newest older `ok` event on the target, of the same action) is found: another
    /// call completing the same change wrote it first.
    pub async fn append_once(
        &self,
        time: i64,
        tenant: &str,
        actor: ActorRef,
        action: &str,
        target: &str,
        details: Map<String, Value>,
    ) -> Result<()> {
        let event = AuditEvent {
            time,
            tenant: Some(tenant.to_owned()),
            actor: Some(actor),
            action: action.to_owned(),
            target: target.to_owned(),
            outcome: "ok".to_owned(),
            reason: None,
            details,
        }
        .sanitized();
        let (key, version) = self.append(tenant, &event).await?;
        let older = self.newest_on(tenant, time, &event.target, None, Some(&key)).await?;
        // A take-back that fails leaves a duplicate, which is the side to err on.
        if older.is_some_and(|(_, a)| a == action) && self.delete(&key, version).await.unwrap_or(false) {
            return Ok(());
        }
        self.emit_sanitized(event);
        Ok(())
    }

    /// Settles a change whose `ok` event was stored before it in each of `tenants`:
    /// when the change is then refused — a re-check finding the rights changed, an R-61 undo,
    /// a role or group deleted meanwhile, retries spent — its refusal follows the `ok` event,
    /// so the log does not end on a change that never happened. A refusal the log already
    /// holds (a denial recorded by the re-check) is not written again. A store failure is no
    /// refusal: the write may have landed, and a rerun completes the change.
    #[allow(clippy::too_many_arguments)]
    pub async fn settle<T>(
        &self,
        stored_first: bool,
        tenants: &[&str],
        actor: &ActorRef,
        action: &str,
        target: &str,
        details: &Map<String, Value>,
        result: Result<T>,
    ) -> Result<T> {
        let error = match result {
            Err(e) if stored_first && !matches!(e, Error::StoreError { .. } | Error::Internal { .. }) => e,
            other => return other,
        };
        for tenant in tenants {
            let newest = self.newest_on(tenant, self.now, target, Some(action), None).await?;
            if newest.is_some_and(|(outcome, _)| outcome == "ok") {
                self.record(tenant, actor.clone(), action, target, Err(&error), details.clone()).await?;
            }
        }
        Err(error)
    }
}

//! `audit_log`: a tenant's stored events, newest first, filtered with the grammar of R-70 over
//! `action`, `actor` (principal), `target`, `outcome`, `reason` and `time`.

use std::collections::BTreeMap;

use crate::accounts::read::{page_size, page_token, parse_page_token};
use crate::audit::{AuditEvent, StoredEvent};
use crate::authz::admin::load_scope;
use crate::call::AuditLog;
use crate::docs::{account_key, event_prefix, AccountDoc};
use crate::error::Result;
use crate::filter::{self, FieldType, FieldValue, Fields, Schema};
use crate::op::{parse, Cx};
use crate::records::AuditPage;

/// The fields `audit_log` filters on.
pub const EVENT_FIELDS: Schema = &[
    ("action", FieldType::Text),
    ("actor", FieldType::Text),
    ("target", FieldType::Text),
    ("outcome", FieldType::Text),
    ("reason", FieldType::Text),
    ("time", FieldType::Int),
];

impl Fields for AuditEvent {
    fn field(&self, name: &str) -> FieldValue<'_> {
        match name {
            "action" => FieldValue::Text(&self.action),
            "actor" => FieldValue::Text(self.actor.as_ref().map_or("", |a| a.principal.as_str())),
            "target" => FieldValue::Text(&self.target),
            "outcome" => FieldValue::Text(&self.outcome),
            "reason" => FieldValue::Text(self.reason.as_deref().unwrap_or("")),
            _ => FieldValue::Int(self.time),
        }
    }
}

/// A tenant's audit events, newest first; `audit:read`. Each actor is shown with its current
/// status, so a revoked account shows as inactive (`revoked`) in every event that names it,
/// and a deleted one as `deleted`.
pub(crate) async fn audit_log(cx: &Cx, a: AuditLog) -> Result<AuditPage> {
    let size = page_size(a.page_size)?;
    let filter = filter::parse(a.filter.as_deref().unwrap_or(""), &EVENT_FIELDS)?;
    let mut after = a.page_token.as_deref().map(parse_page_token).transpose()?;
    let scope = load_scope(cx, &a.actor, &a.tenant).await?;
    scope.require(cx, "audit", "read", "", &format!("tenant:{}", a.tenant)).await?;
    let prefix = event_prefix(&a.tenant);
    if let Some(last) = &after {
        if !last.starts_with(&prefix) {
            return Err(crate::error::Error::invalid("page_token", "not a page token of this tenant's audit log"));
        }
    }
    let mut events: Vec<AuditEvent> = Vec::new();
    let mut next_page_token = None;
    'pages: loop {
        let entries = cx.list_page(&prefix, after.as_deref(), size + 1).await?;
        let store_has_more = entries.len() > size;
        let chunk: Vec<_> = entries.into_iter().take(size).collect();
        let count = chunk.len();
        for (i, entry) in chunk.into_iter().enumerate() {
            after = Some(entry.key.clone());
            let stored: StoredEvent = parse(&entry.key, &entry.value)?;
            if filter.matches(&stored.event) {
                events.push(stored.event);
            }
            if events.len() == size {
                if store_has_more || i + 1 < count {
                    next_page_token = Some(page_token(&entry.key));
                }
                break 'pages;
            }
        }
        if !store_has_more {
            break;
        }
    }
    show_current_status(cx, &mut events).await?;
    Ok(AuditPage { events, next_page_token })
}

async fn show_current_status(cx: &Cx, events: &mut [AuditEvent]) -> Result<()> {
    let mut principals: BTreeMap<String, String> = events
        .iter()
        .filter_map(|e| e.actor.as_ref())
        .filter(|a| a.kind != "system")
        .map(|a| (a.principal.clone(), "deleted".to_owned()))
        .collect();
    let keys: Vec<String> = principals.keys().map(|p| account_key(p)).collect();
    for (key, doc) in keys.iter().zip(cx.docs::<AccountDoc>(&keys).await?) {
        if let (Some(p), Some(d)) = (key.strip_prefix("a/"), doc) {
            if !d.value.deleting {
                principals.insert(p.to_owned(), d.value.status.as_str().to_owned());
            }
        }
    }
    for actor in events.iter_mut().filter_map(|e| e.actor.as_mut()) {
        if let Some(status) = principals.get(&actor.principal) {
            actor.status.clone_from(status);
        }
    }
    Ok(())
}

//! Claims on a tenant's capped units: `max_service_accounts` and `seat_limit`.
//!
//! # Decision
//!
//! Counting units (listing memberships) and then writing is not atomic: two hosts could both
//! count `cap - 1` and both create. The only thing hosts share is the store, so every unit a
//! call is about to take is first **claimed** by compare-and-set on one per-tenant document,
//! `q/<tenant>` ([`ClaimsDoc`]):
//!
//! 1. read `q/<tenant>` (its version `v`), *then* count the units in use (the tenant's
//!    memberships and their accounts) and add the principals of the live claims — by principal,
//!    so a unit is counted once whether it is claimed, already written, or both;
//! 2. refuse with `quota_exceeded` if the new principals do not fit;
//! 3. write `q/<tenant>` with this call's claims at version `v` (a lost race starts again at 1);
//! 4. write the unit (account, membership or status), then release the claim (best effort).
//!
//! Any other creation that could be missed by step 1's count writes its unit only while its
//! claim is in `q/<tenant>`, and it wrote that claim either before our read (so we see the claim,
//! or — once released — the unit it guarded, since the release comes after the unit) or after
//! it (so our compare-and-set at `v` fails and we count again). Hence two calls racing for the
//! last unit never both succeed, whatever hosts run them.
//!
//! A claim older than [`STALE_MS`] by the host's clock belongs to a call that crashed or
//! stalled: it still counts only while its account exists half-created (`creating`, R-92), so a
//! rerun can complete it; otherwise it is dropped at the next write. A crash never holds a unit
//! forever.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::authz::admin::{conflict, MAX_ATTEMPTS};
use crate::docs::{account_key, AccountDoc, SCHEMA};
use crate::error::{Error, Result};
use crate::op::Cx;
use crate::records::{AccountKind, Status};
use crate::tenancy::memberships;

/// A claim older than this (ms, host clock) counts only while its account is half-created.
pub const STALE_MS: i64 = 60_000;

fn schema() -> u32 {
    SCHEMA
}

/// What a claim reserves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Unit {
    /// One of the tenant's `max_service_accounts`.
    ServiceAccount,
    /// One of the tenant's `seat_limit` seats (an active user with access).
    Seat,
}

/// One pending claim.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Claim {
    /// Random id, so a call releases only its own claims.
    pub id: String,
    pub principal: String,
    pub unit: Unit,
    /// When it was made (host clock).
    pub at: i64,
}

/// `q/<tenant>`: the claims in flight on a tenant's capped units.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ClaimsDoc {
    #[serde(default = "schema")]
    pub schema: u32,
    pub tenant: String,
    #[serde(default)]
    pub claims: Vec<Claim>,
}

/// Key of a tenant's claims document.
pub(crate) fn claims_key(tenant: &str) -> String {
    format!("q/{tenant}")
}

/// Claims this call holds, to release once its writes are done.
#[derive(Debug, Default)]
#[must_use = "release the claims once the units are written"]
pub(crate) struct Held {
    claims: Vec<(String, String)>,
}

impl Held {
    /// Adds the claims of `other`.
    pub fn extend(&mut self, other: Held) {
        self.claims.extend(other.claims);
    }
}

/// The principals holding a unit of this kind in the tenant now: accounts with a membership
/// there whose uid matches, not being deleted (half-created ones included: a rerun completes
/// them); service accounts the tenant owns, or active users.
async fn in_use(cx: &Cx, tenant: &str, unit: Unit) -> Result<BTreeSet<String>> {
    let members: Vec<_> = memberships(cx, tenant)
        .await?
        .into_iter()
        .map(|m| m.value)
        .filter(|m| match unit {
            Unit::ServiceAccount => m.owned && m.kind == AccountKind::Service,
            Unit::Seat => m.kind == AccountKind::User,
        })
        .collect();
    let keys: Vec<String> = members.iter().map(|m| account_key(&m.principal)).collect();
    let mut used = BTreeSet::new();
    for (m, acc) in members.iter().zip(cx.docs::<AccountDoc>(&keys).await?) {
        let Some(acc) = acc.map(|d| d.value).filter(|a| !a.deleting && a.uid == m.uid) else { continue };
        if unit == Unit::ServiceAccount || acc.status == Status::Active {
            used.insert(m.principal.clone());
        }
    }
    Ok(used)
}

/// Whether a claim still counts: a fresh one always; a stale one only while its account is
/// half-created.
async fn still_counts(cx: &Cx, claim: &Claim) -> Result<bool> {
    if cx.now.saturating_sub(claim.at) < STALE_MS {
        return Ok(true);
    }
    Ok(cx.doc::<AccountDoc>(&account_key(&claim.principal)).await?.is_some_and(|d| d.value.creating))
}

/// Claims one `unit` for each of `principals` in `tenant`, whose cap is `limit`; `leaving`
/// principals are about to give theirs up (directory sync). `quota_exceeded` when the
/// principals that hold no unit yet do not fit; nothing is written then.
pub(crate) async fn claim(
    cx: &Cx,
    tenant: &str,
    unit: Unit,
    limit: u64,
    principals: &[String],
    leaving: &[&str],
) -> Result<Held> {
    if principals.is_empty() {
        return Ok(Held::default());
    }
    let key = claims_key(tenant);
    for _ in 0..MAX_ATTEMPTS {
        // The claims first, then the units: see the module docs.
        let current = cx.doc::<ClaimsDoc>(&key).await?;
        let mut used = in_use(cx, tenant, unit).await?;
        let mut kept = Vec::new();
        for c in current.as_ref().map(|d| d.value.claims.clone()).unwrap_or_default() {
            if still_counts(cx, &c).await? {
                if c.unit == unit {
                    used.insert(c.principal.clone());
                }
                kept.push(c);
            }
        }
        for p in leaving {
            used.remove(*p);
        }
        let new: BTreeSet<&String> = principals.iter().filter(|p| !used.contains(*p)).collect();
        let total = used.len() as u64 + new.len() as u64;
        if !new.is_empty() && total > limit {
            let what = match unit {
                Unit::ServiceAccount => format!("tenant `{tenant}` may own at most {limit} service accounts"),
                Unit::Seat => format!("tenant `{tenant}` has {} of {limit} seats in use", used.len()),
            };
            return Err(Error::quota(what));
        }
        let mut held = Held::default();
        for p in principals {
            let id = cx.new_uid();
            held.claims.push((tenant.to_owned(), id.clone()));
            kept.push(Claim { id, principal: p.clone(), unit, at: cx.now });
        }
        let doc = ClaimsDoc { schema: SCHEMA, tenant: tenant.to_owned(), claims: kept };
        if cx.put(&key, &doc, current.map(|d| d.version)).await?.is_some() {
            return Ok(held);
        }
    }
    Err(conflict(&format!("quota claims of tenant `{tenant}`")))
}

/// Releases claims once their units are written (or the call gave up). Best effort: a claim
/// left behind stops counting once stale, so a failure here changes no outcome.
pub(crate) async fn release(cx: &Cx, held: Held) {
    let tenants: BTreeSet<&String> = held.claims.iter().map(|(t, _)| t).collect();
    for tenant in tenants {
        let key = claims_key(tenant);
        for _ in 0..MAX_ATTEMPTS {
            let Ok(Some(current)) = cx.doc::<ClaimsDoc>(&key).await else { break };
            let mut next = current.value.clone();
            next.claims.retain(|c| !held.claims.iter().any(|(t, id)| t == tenant && *id == c.id));
            // Never deleted, even when empty: a key deleted and created again could let a
            // compare-and-set made against its absence succeed (ABA).
            match cx.put(&key, &next, Some(current.version)).await {
                Ok(Some(_)) => break,
                Ok(None) => continue,
                Err(_) => break,
            }
        }
    }
}

//! Tenants, their settings, roles and groups (SPEC §6, §8).

pub mod directory;
pub mod groups;
pub mod quota;
pub mod roles;
pub mod settings;
pub mod tenants;

use crate::docs::{membership_prefix, MembershipDoc};
use crate::error::Result;
use crate::op::{parse, Cx, Doc};

/// Every membership of a tenant, in principal order.
pub(crate) async fn memberships(cx: &Cx, tenant: &str) -> Result<Vec<Doc<MembershipDoc>>> {
    cx.list_all(&membership_prefix(tenant))
        .await?
        .into_iter()
        .map(|e| Ok(Doc { value: parse::<MembershipDoc>(&e.key, &e.value)?, version: e.version }))
        .collect()
}

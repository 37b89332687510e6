//! Accounts (SPEC §2): creation, reading and listing, access to tenants, and the lifecycle.

pub mod access;
pub mod create;
pub mod lifecycle;
pub mod read;

use crate::docs::{AccountDoc, MembershipDoc};
use crate::records::{Account, AccountKind};
use crate::tenancy::groups::EVERYONE;

/// The display id of an account: `sa::<name>` or `user::<email>`.
pub(crate) fn display_id(doc: &AccountDoc) -> String {
    match doc.kind {
        AccountKind::Service => format!("sa::{}", doc.name),
        AccountKind::User => format!("user::{}", doc.principal),
    }
}

/// An account as seen from `tenant`, through its membership there (if any). A tenant that does
/// not own the account sees its identity and its standing there only: no `uid`,
/// `description`, `created_by`, `has_password` or `mfa`.
pub(crate) fn account_record(doc: &AccountDoc, membership: Option<&MembershipDoc>, tenant: &str) -> Account {
    let owned = doc.tenant == tenant;
    let private = |show: bool| show && owned;
    let mut groups = Vec::new();
    if membership.is_some() {
        groups.push(EVERYONE.to_owned());
    }
    groups.extend(membership.map(|m| m.groups.clone()).unwrap_or_default());
    groups.sort();
    Account {
        principal: doc.principal.clone(),
        id: display_id(doc),
        uid: private(true).then(|| doc.uid.clone()),
        kind: doc.kind,
        name: doc.name.clone(),
        tenant: doc.tenant.clone(),
        owned,
        description: doc.description.clone().filter(|_| owned),
        status: doc.status,
        roles: membership.and_then(|m| m.role.clone()).into_iter().collect(),
        groups,
        grants: membership.map(|m| m.grants.clone()).unwrap_or_default(),
        mfa: private(doc.kind == AccountKind::User).then_some(doc.mfa),
        has_password: private(doc.kind == AccountKind::Service).then_some(doc.password_hash.is_some()),
        created_at: doc.created_at,
        created_by: private(true).then(|| doc.created_by.clone()),
        updated_at: doc.updated_at,
    }
}

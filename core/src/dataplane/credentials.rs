//! Checking a presented token, one read round at a time,
//! and its throttled last-use stamp. Each function takes one round's answers and says
//! what to read next, so the machine ([`super::machine`]) owns every step in between.

use std::sync::Arc;

use crate::docs::{account_key, membership_key, tenant_key, token_key, AccountHead, TokenDoc};
use crate::engine::Inner;
use crate::error::{Error, Result};
use crate::op::{to_json, Doc};
use crate::records::Channel;
use crate::store::Versioned;
use crate::tokens::format;

use super::{account_head, login_error, token_doc, Access};

/// Last use is stamped at most once per this many ms per token.
pub const LAST_USE_RESOLUTION_MS: i64 = 60_000;

/// Why a credential failed, and whose it was once the secret verified (for the event).
pub(super) struct Failed {
    pub error: Error,
    pub account: Option<Arc<AccountHead>>,
}

/// A failure before the secret verified, or of a token that is no token: nobody's.
pub(super) fn nobody() -> Failed {
    Failed { error: Error::InvalidCredentials, account: None }
}

/// A token whose secret verified, and what its second round reads.
pub(super) struct Found {
    pub token: Doc<Arc<TokenDoc>>,
    /// The account, then (when a tenant is asked about) the tenant and the account's
    /// membership there, then (for a rotation's successor) the token it replaces.
    pub keys: Vec<String>,
    /// Whether the last key is a rotation's predecessor.
    pub predecessor: bool,
}

/// A token whose secret verified, with the records read for it.
pub(super) struct Checked<'a> {
    pub token: Doc<Arc<TokenDoc>>,
    pub account: Arc<AccountHead>,
    /// The tenant asked about and the account's membership there, as read: the compiled-rights
    /// cache parses them only when they changed.
    pub access: Access<'a>,
}

/// The first round's answer, the token stored under `key`: the secret first, compared even when
/// the id is unknown so timing does not tell the two apart; a token still being created
/// is no token unless it may be a rotation's committed successor, which the second round
/// reads the old token to tell.
pub(super) fn token_read(
    engine: &Inner,
    key: &str,
    computed: &[u8; 32],
    raw: Option<Versioned>,
    tenant: &str,
) -> Result<std::result::Result<Found, Failed>> {
    let stored = token_doc(engine, key, raw)?;
    let reference = stored.as_ref().map_or("", |t| t.value.hash.0.as_str());
    let secret_ok = format::digest_matches(computed, reference);
    let Some(token) = stored.filter(|_| secret_ok) else {
        return Ok(Err(nobody()));
    };
    let predecessor = match &token.value.pending {
        None => None,
        Some(p) => match &p.rotation_of {
            Some(old) => Some(token_key(old)),
            None => return Ok(Err(nobody())),
        },
    };
    let principal = &token.value.principal;
    let mut keys = Vec::with_capacity(4);
    keys.push(account_key(principal));
    if !tenant.is_empty() {
        keys.push(tenant_key(tenant));
        keys.push(membership_key(tenant, principal));
    }
    let has_predecessor = predecessor.is_some();
    keys.extend(predecessor);
    Ok(Ok(Found { token, keys, predecessor: has_predecessor }))
}

/// The second round's answers, for the token `token` and the `keys` [`token_read`] chose: a
/// rotation's successor stands once its rotation committed; a token whose account is gone, or
/// re-created under its name, is nobody's; then, in the order of R-13, revoked, expired,
/// the account's status and the channel.
#[allow(clippy::too_many_arguments)] // one round's inputs; a struct would only rename them
pub(super) fn account_read<'a>(
    engine: &Inner,
    now: i64,
    token: Doc<Arc<TokenDoc>>,
    tenant: &'a str,
    keys: &'a [String],
    predecessor: bool,
    answers: Vec<Option<Versioned>>,
    channel: Channel,
) -> Result<std::result::Result<Checked<'a>, Failed>> {
    let key = |i: usize| keys.get(i).map_or("", String::as_str);
    let mut raw = answers.into_iter();
    let account = account_head(engine, key(0), raw.next().flatten())?;
    let (tenant_doc, membership) = match tenant.is_empty() {
        true => (None, None),
        false => (raw.next().flatten(), raw.next().flatten()),
    };
    let access = Access { tenant, membership_key: if tenant.is_empty() { "" } else { key(2) }, tenant_doc, membership };
    if predecessor {
        let old = token_doc(engine, keys.last().map_or("", String::as_str), raw.next().flatten())?;
        if !token.value.committed(old.as_ref().map(|d| &*d.value)) {
            return Ok(Err(nobody()));
        }
    }
    let Some(account) = account.filter(|a| a.uid == token.value.uid && !a.deleting && !a.creating) else {
        return Ok(Err(nobody()));
    };
    let t = &token.value;
    let error = if t.revoked_at.is_some() {
        Some(Error::TokenRevoked)
    } else if t.expires_at.is_some_and(|at| now >= at) {
        Some(Error::TokenExpired)
    } else {
        login_error(&account, channel)
    };
    if let Some(error) = error {
        return Ok(Err(Failed { error, account: Some(account) }));
    }
    Ok(Ok(Checked { token, account, access }))
}

/// The last-use stamp due for `token` at `now`, at most once a minute: its key, text
/// and the version it replaces. `None` when not due, or when it cannot be encoded (the stamp
/// is then left for the next use; the decision stands either way).
pub(super) fn stamp_due(now: i64, token: &Doc<Arc<TokenDoc>>) -> Option<(String, String, u64)> {
    let due = token.value.last_used_at.is_none_or(|at| now.saturating_sub(at) >= LAST_USE_RESOLUTION_MS);
    if !due {
        return None;
    }
    let mut next = TokenDoc::clone(&token.value);
    next.last_used_at = Some(now);
    let value = to_json(&next).ok()?;
    Some((token_key(&next.token_id), value, token.version))
}

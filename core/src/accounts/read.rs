//! `get_account`, `list_accounts`.

use crate::accounts::account_record;
use crate::authz::admin::load_scope;
use crate::call::{GetAccount, ListAccounts};
use crate::docs::{account_key, membership_key, membership_prefix, AccountDoc, MembershipDoc};
use crate::error::{Error, Result};
use crate::filter::{self, FieldType, FieldValue, Fields, Schema};
use crate::op::{parse, Cx};
use crate::records::{Account, AccountKind, AccountPage};
use crate::validate;

/// Default and maximum page sizes of the paged listings (API.md).
pub const DEFAULT_PAGE_SIZE: u64 = 100;
/// Largest page a caller may ask for.
pub const MAX_PAGE_SIZE: u64 = 1000;

/// An account with access to `tenant`, as seen from there; `accounts:read`. An account
/// without access to the tenant is `not_found` there.
pub(crate) async fn get_account(cx: &Cx, a: GetAccount) -> Result<Account> {
    validate::principal_text(&a.principal)?;
    let scope = load_scope(cx, &a.actor, &a.tenant).await?;
    scope.require(cx, "accounts", "read", "", &a.principal).await?;
    let keys = [account_key(&a.principal), membership_key(&a.tenant, &a.principal)];
    let mut docs = cx.get_many(&keys).await?.into_iter();
    let account = docs.next().flatten().map(|v| parse::<AccountDoc>(&keys[0], &v.value)).transpose()?;
    let membership = docs.next().flatten().map(|v| parse::<MembershipDoc>(&keys[1], &v.value)).transpose()?;
    match (account, membership) {
        (Some(acc), Some(m)) if acc.live() && acc.uid == m.uid => Ok(account_record(&acc, Some(&m), &a.tenant)),
        _ => Err(Error::not_found(format!("account `{}` in tenant `{}`", a.principal, a.tenant))),
    }
}

/// Encodes the last principal of a page as an opaque token.
pub(crate) fn page_token(last: &str) -> String {
    last.bytes().map(|b| format!("{b:02x}")).collect()
}

/// Decodes a page token; anything else is `invalid_argument`.
pub(crate) fn parse_page_token(token: &str) -> Result<String> {
    let bad = || Error::invalid("page_token", "not a page token from this listing");
    if token.len() % 2 != 0 {
        return Err(bad());
    }
    let bytes: Option<Vec<u8>> =
        (0..token.len()).step_by(2).map(|i| token.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok())).collect();
    String::from_utf8(bytes.ok_or_else(bad)?).map_err(|_| bad())
}

/// Checks `page_size` (1 to 1,000, default 100).
pub(crate) fn page_size(size: Option<u64>) -> Result<usize> {
    match size.unwrap_or(DEFAULT_PAGE_SIZE) {
        n @ 1..=MAX_PAGE_SIZE => Ok(n as usize),
        _ => Err(Error::invalid("page_size", "must be from 1 to 1,000")),
    }
}

/// The fields `list_accounts` filters on.
pub const ACCOUNT_FIELDS: Schema = &[
    ("service_account", FieldType::Bool),
    ("owned", FieldType::Bool),
    ("kind", FieldType::Text),
    ("status", FieldType::Text),
    ("name", FieldType::Text),
    ("principal", FieldType::Text),
    ("role", FieldType::Text),
    ("created_at", FieldType::Int),
];

impl Fields for Account {
    fn field(&self, name: &str) -> FieldValue<'_> {
        match name {
            "service_account" => FieldValue::Bool(self.kind == AccountKind::Service),
            "owned" => FieldValue::Bool(self.owned),
            "kind" => FieldValue::Text(self.kind.as_str()),
            "status" => FieldValue::Text(self.status.as_str()),
            "name" => FieldValue::Text(&self.name),
            "principal" => FieldValue::Text(&self.principal),
            "role" => FieldValue::Text(self.roles.first().map_or("", String::as_str)),
            _ => FieldValue::Int(self.created_at),
        }
    }
}

/// Owned and external accounts of a tenant, filtered, ordered by principal and
/// paged. Every page but the last is full: the store is read on until the filter has let
/// `page_size` accounts through. The page token names the last account put on the page; the
/// last page may still carry a token when the store had more keys that the filter refuses.
pub(crate) async fn list_accounts(cx: &Cx, a: ListAccounts) -> Result<AccountPage> {
    let size = page_size(a.page_size)?;
    let filter = filter::parse(a.filter.as_deref().unwrap_or(""), &ACCOUNT_FIELDS)?;
    let after = a.page_token.as_deref().map(parse_page_token).transpose()?;
    let scope = load_scope(cx, &a.actor, &a.tenant).await?;
    scope.require(cx, "accounts", "read", "", &format!("tenant:{}", a.tenant)).await?;
    let prefix = membership_prefix(&a.tenant);
    let mut after_key = after.map(|p| format!("{prefix}{p}"));
    let mut listed: Vec<Account> = Vec::new();
    loop {
        // One more than asked tells whether the store has more after this chunk.
        let entries = cx.list_page(&prefix, after_key.as_deref(), size + 1).await?;
        let store_has_more = entries.len() > size;
        let members: Vec<(&str, MembershipDoc)> =
            entries.iter().take(size).map(|e| Ok((e.key.as_str(), parse(&e.key, &e.value)?))).collect::<Result<_>>()?;
        let keys: Vec<String> = members.iter().map(|(_, m)| account_key(&m.principal)).collect();
        let accounts = cx.docs::<AccountDoc>(&keys).await?;
        for (i, ((key, m), acc)) in members.iter().zip(accounts).enumerate() {
            // The cursor moves on by the key listed, never by what the document says: a
            // membership naming another principal must not send the listing back.
            after_key = Some((*key).to_owned());
            let Some(acc) = acc.map(|d| d.value).filter(|acc| acc.live() && acc.uid == m.uid) else { continue };
            let record = account_record(&acc, Some(m), &a.tenant);
            if filter.matches(&record) {
                listed.push(record);
            }
            if listed.len() == size {
                let more = store_has_more || i + 1 < members.len();
                let next_page_token = more.then(|| page_token(key.strip_prefix(prefix.as_str()).unwrap_or(key)));
                return Ok(AccountPage { accounts: listed, next_page_token });
            }
        }
        if !store_has_more {
            return Ok(AccountPage { accounts: listed, next_page_token: None });
        }
    }
}

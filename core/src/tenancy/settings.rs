//! Tenant settings: defaults, and merging an update with every value validated.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// Password policy names.
pub const PASSWORD_POLICIES: [&str; 2] = ["default", "asvs"];

/// Upper bound for day counts, so that lifetimes stay far from integer limits (~100 years).
pub const MAX_TTL_DAYS: u64 = 36_500;

/// A tenant's settings, with the defaults of R-60.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Default token lifetime in days (365). Tokens made while a cap is set get the smaller
    /// of the two; the default itself is kept, so clearing the cap restores it.
    pub default_token_ttl_days: u64,
    /// Cap on token lifetime in days; `None`: no cap.
    pub max_token_ttl_days: Option<u64>,
    /// Whether `never_expires` tokens are allowed (false).
    pub allow_non_expiring_tokens: bool,
    /// Live tokens per account (50).
    pub max_tokens_per_account: u64,
    /// Owned service accounts; `None`: no cap.
    pub max_service_accounts: Option<u64>,
    /// Active users; `None`: no limit.
    pub seat_limit: Option<u64>,
    /// Role given to a service account created without one; `None`: none.
    pub default_service_account_role: Option<String>,
    /// `default` or `asvs`.
    pub password_policy: String,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            default_token_ttl_days: 365,
            max_token_ttl_days: None,
            allow_non_expiring_tokens: false,
            max_tokens_per_account: 50,
            max_service_accounts: None,
            seat_limit: None,
            default_service_account_role: None,
            password_policy: "default".to_owned(),
        }
    }
}

/// Every setting's name.
const SETTING_NAMES: [&str; 8] = [
    "default_token_ttl_days",
    "max_token_ttl_days",
    "allow_non_expiring_tokens",
    "max_tokens_per_account",
    "max_service_accounts",
    "seat_limit",
    "default_service_account_role",
    "password_policy",
];

/// The setting a key names, in snake_case or camelCase.
fn setting_name(key: &str) -> Option<&'static str> {
    SETTING_NAMES.iter().copied().find(|name| *name == key || crate::host::camel(name) == key)
}

fn count(key: &str, value: &Value, min: u64, max: u64) -> Result<u64> {
    match value.as_u64() {
        Some(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(Error::invalid(key, format!("must be an integer from {min} to {max}"))),
    }
}

fn optional_count(key: &str, value: &Value, min: u64, max: u64) -> Result<Option<u64>> {
    if value.is_null() {
        Ok(None)
    } else {
        count(key, value, min, max).map(Some)
    }
}

impl Settings {
    /// The settings a patch names, in snake_case whatever the patch's spelling (unknown keys
    /// left out: [`Settings::merged`] refuses them). What a check or an event says was changed.
    pub fn named_in(patch: &Map<String, Value>) -> Vec<&'static str> {
        patch.keys().filter_map(|k| setting_name(k)).collect()
    }

    /// A copy with `patch` merged in. Every key and value is checked; the field of an
    /// `invalid_argument` is the setting's name. Role names are checked for existence by the
    /// caller, which knows the tenant's roles.
    ///
    /// A key may be spelled in camelCase (`maxTokenTtlDays`), as JavaScript writes it; errors
    /// name the setting in snake_case.
    pub fn merged(&self, patch: &Map<String, Value>) -> Result<Settings> {
        let mut next = self.clone();
        for (key, value) in patch {
            let k = setting_name(key).unwrap_or(key.as_str());
            match k {
                "default_token_ttl_days" => next.default_token_ttl_days = count(k, value, 1, MAX_TTL_DAYS)?,
                "max_token_ttl_days" => next.max_token_ttl_days = optional_count(k, value, 1, MAX_TTL_DAYS)?,
                "allow_non_expiring_tokens" => {
                    next.allow_non_expiring_tokens =
                        value.as_bool().ok_or_else(|| Error::invalid(k, "must be true or false"))?
                }
                "max_tokens_per_account" => next.max_tokens_per_account = count(k, value, 1, 100_000)?,
                "max_service_accounts" => next.max_service_accounts = optional_count(k, value, 0, u32::MAX.into())?,
                "seat_limit" => next.seat_limit = optional_count(k, value, 0, u32::MAX.into())?,
                "default_service_account_role" => {
                    next.default_service_account_role = match value {
                        Value::Null => None,
                        Value::String(s) => Some(s.clone()),
                        _ => return Err(Error::invalid(k, "must be a role name or null")),
                    }
                }
                "password_policy" => match value.as_str() {
                    Some(p) if PASSWORD_POLICIES.contains(&p) => next.password_policy = p.to_owned(),
                    _ => return Err(Error::invalid(k, "must be `default` or `asvs`")),
                },
                _ => return Err(Error::invalid("settings", format!("unknown setting `{key}`"))),
            }
        }
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn patch(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn r60_defaults() {
        let s = Settings::default();
        assert_eq!(s.default_token_ttl_days, 365);
        assert_eq!(s.max_token_ttl_days, None);
        assert!(!s.allow_non_expiring_tokens);
        assert_eq!(s.max_tokens_per_account, 50);
        assert_eq!(s.password_policy, "default");
        assert_eq!(s.default_service_account_role, None);
    }

    #[test]
    fn r60_update_merges_and_validates_every_value() {
        let s = Settings::default().merged(&patch(json!({"max_tokens_per_account": 3, "seat_limit": 10})));
        let s = s.unwrap_or_default();
        assert_eq!(s.max_tokens_per_account, 3);
        assert_eq!(s.seat_limit, Some(10));
        assert_eq!(s.default_token_ttl_days, 365, "untouched keys keep their value");
        for (bad, field) in [
            (json!({"default_token_ttl_days": 0}), "default_token_ttl_days"),
            (json!({"max_token_ttl_days": -1}), "max_token_ttl_days"),
            (json!({"allow_non_expiring_tokens": "yes"}), "allow_non_expiring_tokens"),
            (json!({"password_policy": "lax"}), "password_policy"),
            (json!({"colour": "blue"}), "settings"),
            (json!({"maxTokenTtlDays": 0}), "max_token_ttl_days"),
        ] {
            let e = Settings::default().merged(&patch(bad)).err();
            assert_eq!(e.as_ref().and_then(Error::field), Some(field));
        }
    }
}

//! The one error type of Keyward (SPEC §12).
//!
//! Every failure carries a stable [`Error::code`] that bindings map to their own error
//! classes. Messages are lower case without a final period and never contain a secret
//! no token, password or hash is ever formatted into an error.

use serde::Serialize;

/// A Keyward failure. Match on [`Error::code`] for a stable, host-independent string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An argument is malformed or not allowed; `field` names it.
    #[error("invalid argument `{field}`: {message}")]
    InvalidArgument {
        /// The argument (or setting) at fault, as named in API.md.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// A list filter does not parse; `position` is the 0-based offset of the first offending
    /// character.
    #[error("invalid filter at position {position}: {message}")]
    InvalidFilter {
        /// Offset, in Unicode scalar values, of the first offending character.
        position: usize,
        /// What the parser expected.
        message: String,
    },
    /// The credential did not verify. Deliberately says nothing more.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// The token verified but has expired.
    #[error("token expired")]
    TokenExpired,
    /// The token verified but has been revoked.
    #[error("token revoked")]
    TokenRevoked,
    /// The account is disabled.
    #[error("account disabled")]
    AccountDisabled,
    /// The account is revoked.
    #[error("account revoked")]
    AccountRevoked,
    /// The account may not authenticate on this channel.
    #[error("channel not allowed")]
    ChannelNotAllowed,
    /// The named account, tenant, role, group or token does not exist.
    #[error("not found: {what}")]
    NotFound {
        /// What was looked for, e.g. `account bot@acme.sa.keyward.local`.
        what: String,
    },
    /// The thing to create exists already.
    #[error("already exists: {what}")]
    AlreadyExists {
        /// What exists already.
        what: String,
    },
    /// The actor lacks the permission the operation needs.
    #[error("forbidden: {message}")]
    Forbidden {
        /// Which permission was missing.
        message: String,
    },
    /// Only the owner tenant may do this.
    #[error("not owner: {message}")]
    NotOwner {
        /// Why.
        message: String,
    },
    /// The password breaks the tenant's policy; `rules` names every unmet rule.
    #[error("weak password: {}", rules.join(", "))]
    WeakPassword {
        /// Unmet rules: `min_length`, `max_length`, `uppercase`, `digit`, `special`, `common`.
        rules: Vec<String>,
    },
    /// The operation is not allowed in the target's current state.
    #[error("failed precondition: {message}")]
    FailedPrecondition {
        /// Which state forbids it.
        message: String,
    },
    /// A tenant quota would be exceeded.
    #[error("quota exceeded: {message}")]
    QuotaExceeded {
        /// Which quota.
        message: String,
    },
    /// Compare-and-set kept losing races.
    #[error("conflict: {message}")]
    Conflict {
        /// Which record.
        message: String,
    },
    /// A host store callback failed; the host's message is kept.
    #[error("store error: {message}")]
    StoreError {
        /// The host's message.
        message: String,
    },
    /// A bug or corrupt data; never a user mistake.
    #[error("internal error: {message}")]
    Internal {
        /// What went wrong.
        message: String,
    },
}

/// Shorthand for results whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The stable code of SPEC §12, identical in every host.
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidArgument { .. } => "invalid_argument",
            Error::InvalidFilter { .. } => "invalid_filter",
            Error::InvalidCredentials => "invalid_credentials",
            Error::TokenExpired => "token_expired",
            Error::TokenRevoked => "token_revoked",
            Error::AccountDisabled => "account_disabled",
            Error::AccountRevoked => "account_revoked",
            Error::ChannelNotAllowed => "channel_not_allowed",
            Error::NotFound { .. } => "not_found",
            Error::AlreadyExists { .. } => "already_exists",
            Error::Forbidden { .. } => "forbidden",
            Error::NotOwner { .. } => "not_owner",
            Error::WeakPassword { .. } => "weak_password",
            Error::FailedPrecondition { .. } => "failed_precondition",
            Error::QuotaExceeded { .. } => "quota_exceeded",
            Error::Conflict { .. } => "conflict",
            Error::StoreError { .. } => "store_error",
            Error::Internal { .. } => "internal",
        }
    }

    /// The argument at fault, for `invalid_argument`.
    pub fn field(&self) -> Option<&str> {
        match self {
            Error::InvalidArgument { field, .. } => Some(field),
            _ => None,
        }
    }

    /// The offending position, for `invalid_filter`.
    pub fn position(&self) -> Option<usize> {
        match self {
            Error::InvalidFilter { position, .. } => Some(*position),
            _ => None,
        }
    }

    /// The unmet password rules, for `weak_password`.
    pub fn rules(&self) -> Option<&[String]> {
        match self {
            Error::WeakPassword { rules } => Some(rules),
            _ => None,
        }
    }

    /// A plain-data view for bindings: `{code, message, field?, position?, rules?}`.
    pub fn to_data(&self) -> ErrorData {
        ErrorData {
            code: self.code(),
            message: self.to_string(),
            field: self.field().map(str::to_owned),
            position: self.position(),
            rules: self.rules().map(<[String]>::to_vec),
        }
    }

    /// The same error naming another argument (for a value checked under another name, such
    /// as an email given as `admin`); other errors are returned unchanged.
    pub(crate) fn for_field(self, field: &str) -> Error {
        match self {
            Error::InvalidArgument { message, .. } => Error::InvalidArgument { field: field.to_owned(), message },
            other => other,
        }
    }

    pub(crate) fn invalid(field: &str, message: impl Into<String>) -> Error {
        Error::InvalidArgument { field: field.to_owned(), message: message.into() }
    }
    pub(crate) fn not_found(what: impl Into<String>) -> Error {
        Error::NotFound { what: what.into() }
    }
    pub(crate) fn exists(what: impl Into<String>) -> Error {
        Error::AlreadyExists { what: what.into() }
    }
    pub(crate) fn forbidden(message: impl Into<String>) -> Error {
        Error::Forbidden { message: message.into() }
    }
    pub(crate) fn not_owner(message: impl Into<String>) -> Error {
        Error::NotOwner { message: message.into() }
    }
    pub(crate) fn precondition(message: impl Into<String>) -> Error {
        Error::FailedPrecondition { message: message.into() }
    }
    pub(crate) fn quota(message: impl Into<String>) -> Error {
        Error::QuotaExceeded { message: message.into() }
    }
    pub(crate) fn internal(message: impl Into<String>) -> Error {
        Error::Internal { message: message.into() }
    }
}

/// Serialisable form of an [`Error`], handed to bindings and conformance runners.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorData {
    /// Stable code (SPEC §12).
    pub code: &'static str,
    /// Human-readable message, free of secrets.
    pub message: String,
    /// For `invalid_argument`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// For `invalid_filter`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<usize>,
    /// For `weak_password`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rules: Option<Vec<String>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_spec_twelve_names() {
        // SPEC §12: one set of codes in every host.
        let all = [
            (Error::invalid("x", "m"), "invalid_argument"),
            (Error::InvalidFilter { position: 3, message: "m".into() }, "invalid_filter"),
            (Error::InvalidCredentials, "invalid_credentials"),
            (Error::TokenExpired, "token_expired"),
            (Error::TokenRevoked, "token_revoked"),
            (Error::AccountDisabled, "account_disabled"),
            (Error::AccountRevoked, "account_revoked"),
            (Error::ChannelNotAllowed, "channel_not_allowed"),
            (Error::not_found("x"), "not_found"),
            (Error::exists("x"), "already_exists"),
            (Error::forbidden("x"), "forbidden"),
            (Error::not_owner("x"), "not_owner"),
            (Error::WeakPassword { rules: vec!["digit".into()] }, "weak_password"),
            (Error::precondition("x"), "failed_precondition"),
            (Error::quota("x"), "quota_exceeded"),
            (Error::Conflict { message: "x".into() }, "conflict"),
            (Error::StoreError { message: "x".into() }, "store_error"),
            (Error::internal("x"), "internal"),
        ];
        for (error, code) in all {
            assert_eq!(error.code(), code);
            assert_eq!(error.to_data().code, code);
        }
    }

    #[test]
    fn extra_fields_follow_the_code() {
        let e = Error::invalid("ttl_days", "must be positive");
        assert_eq!(e.field(), Some("ttl_days"));
        assert_eq!(e.to_string(), "invalid argument `ttl_days`: must be positive");
        let f = Error::InvalidFilter { position: 7, message: "expected value".into() };
        assert_eq!(f.position(), Some(7));
        let w = Error::WeakPassword { rules: vec!["digit".into(), "special".into()] };
        assert_eq!(w.rules().map(<[String]>::len), Some(2));
    }
}

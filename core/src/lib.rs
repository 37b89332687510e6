//! # Keyward core
//!
//! A policy engine for service accounts: who a non-human principal is (tokens, R-20..R-27)
//! and what it may do (roles, groups, grants and per-tenant access, R-40..R-48), with explained
//! decisions and an audit trail. This crate does no I/O: the host supplies storage, time and
//! randomness, and drives each operation as a step machine ([`Op`]), or uses the synchronous
//! [`Keyward`] API over a [`Store`].
//!
//! ```
//! use keyward_core::*;
//!
//! struct Clock;
//! impl Environment for Clock {
//!     fn now(&self) -> i64 { 1_700_000_000_000 }
//!     fn seed(&self) -> [u8; 32] { [1; 32] } // a real host draws these from getrandom
//! }
//!
//! let kw = Keyward::new(Options::default(), MemoryStore::new(), Clock)?;
//! kw.run(CreateTenant { tenant: "acme".into(), admin: "root@acme.test".into(), name: None, settings: None })?;
//! let bot = kw.run(CreateServiceAccount {
//!     actor: "root@acme.test".into(), tenant: "acme".into(), name: "deploy-bot".into(),
//!     description: None, role: Some("viewer".into()), grants: vec![], password: None,
//! })?;
//! let created = kw.run(CreateToken {
//!     actor: "root@acme.test".into(), principal: bot.principal.clone(), name: None,
//!     ttl_days: None, expires_at: None, never_expires: false, scopes: None,
//! })?;
//! let decision = kw.run(Verify {
//!     token: created.token.into(), tenant: "acme".into(), permission: "models:read".into(),
//!     resource: "*".into(), channel: Channel::Api,
//! })?;
//! assert!(decision.allowed);
//! assert_eq!(decision.matched.map(|m| m.source).as_deref(), Some("role:viewer"));
//! # Ok::<(), Error>(())
//! ```

#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic))]

pub mod accounts;
pub mod audit;
pub mod authz;
pub mod call;
mod dataplane;
mod docs;
pub mod engine;
pub mod error;
pub mod filter;
pub mod host;
pub mod op;
mod parsed;
pub mod passwords;
mod recent;
pub mod records;
mod rng;
mod secret;
pub mod store;
pub mod tenancy;
pub mod tokens;
mod validate;

pub use audit::{ActorRef, AuditEvent};
pub use authz::pattern::{Grant, Permission, Resource, Scope, Segment};
pub use call::*;
pub use engine::{Engine, Environment, Keyward, Options, MAX_STALENESS_LIMIT_MS};
pub use error::{Error, ErrorData, Result};
pub use op::{Env, Op, Step};
pub use records::*;
pub use secret::Secret;
pub use store::{Entry, MemoryStore, Store, StoreFailure, StoreReply, StoreRequest, Versioned};
pub use tenancy::settings::Settings;

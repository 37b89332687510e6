//! Tokens (SPEC §4): the format and hashing, and the operations that issue and manage them.

pub mod format;
pub mod ops;

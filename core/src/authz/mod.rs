//! Permissions (SPEC §6): grant patterns, compiled rights, and the checks that guard admin
//! operations.

pub mod admin;
pub mod admins;
pub mod compiled;
pub mod pattern;

//! Passwords: policies, Argon2id hashing in PHC form, and the operations
//! `set_password` and `authenticate_password`.

pub mod hash;
pub mod ops;
pub mod policy;

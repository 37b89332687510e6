//! Argon2id in PHC string form: m = 19,456 KiB, t = 2, p = 1 (OWASP's minimum).
//! Pure Rust, no threads, no OS calls: the same in wasm32. The salt comes from the operation's
//! random input.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::error::{Error, Result};

/// Memory cost in KiB.
pub const M_COST: u32 = 19_456;
/// Iterations.
pub const T_COST: u32 = 2;
/// Parallelism.
pub const P_COST: u32 = 1;

/// A PHC string of the same parameters, checked against when there is no real hash, so a
/// missing account or password costs the same time as a wrong password.
const DECOY: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$a2V5d2FyZC1kZWNveS1zYWx0$Ic2vhVwWqvWt0rHSB3ixuV3nCkWbyPMDTNjU0PRyrH4";

fn hasher() -> Result<Argon2<'static>> {
    let params =
        Params::new(M_COST, T_COST, P_COST, None).map_err(|e| Error::internal(format!("argon2 parameters: {e}")))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes a password with a 16-byte salt into a PHC string.
pub fn hash(password: &str, salt: &[u8; 16]) -> Result<String> {
    let salt = SaltString::encode_b64(salt).map_err(|e| Error::internal(format!("salt: {e}")))?;
    let phc =
        hasher()?.hash_password(password.as_bytes(), &salt).map_err(|e| Error::internal(format!("argon2: {e}")))?;
    Ok(phc.to_string())
}

/// Checks a password against a PHC string; with `None`, against a decoy, always `false`.
pub fn verify(password: &str, phc: Option<&str>) -> bool {
    let Ok(argon) = hasher() else { return false };
    let real = phc.is_some();
    let Ok(parsed) = PasswordHash::new(phc.unwrap_or(DECOY)) else { return false };
    argon.verify_password(password.as_bytes(), &parsed).is_ok() && real
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r51_argon2id_phc_with_the_required_parameters() {
        let phc = hash("Tr0ub4dor&3", &[9; 16]).unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify("Tr0ub4dor&3", Some(&phc)));
        assert!(!verify("tr0ub4dor&3", Some(&phc)));
        assert_ne!(phc, hash("Tr0ub4dor&3", &[8; 16]).unwrap(), "salted");
    }

    #[test]
    fn r12_the_decoy_parses_and_never_matches() {
        assert!(PasswordHash::new(DECOY).is_ok());
        assert!(!verify("", None));
        assert!(!verify("keyward-decoy", None));
    }
}

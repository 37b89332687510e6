//! The token format and secret hashing.
//!
//! `<prefix>_<id>_<secret><check>`: `id` is 12 and `secret` 32 base62 characters; `check` is
//! the CRC-32 (ISO-HDLC, zlib's `crc32`) of `<prefix>_<id>_<secret>`, big-endian base62,
//! left-padded with `0` to 6 characters. The check lets every host reject a mistyped or
//! truncated token before any store access.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::{Error, Result};

/// Base62 alphabet: digits, upper case, lower case.
pub const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// Length of the public id.
pub const ID_LEN: usize = 12;
/// Length of the secret.
pub const SECRET_LEN: usize = 32;
/// Length of the checksum.
pub const CHECK_LEN: usize = 6;

/// Checks an engine's `token_prefix` option: `^[a-z]{2,8}$`.
pub fn check_prefix(prefix: &str) -> Result<()> {
    if (2..=8).contains(&prefix.len()) && prefix.bytes().all(|b| b.is_ascii_lowercase()) {
        Ok(())
    } else {
        Err(Error::invalid("token_prefix", "must be 2 to 8 lower-case letters"))
    }
}

/// The 6-character base62 checksum of a token body.
pub fn checksum(body: &str) -> [u8; CHECK_LEN] {
    let mut n = crc32fast::hash(body.as_bytes());
    let mut out = [b'0'; CHECK_LEN];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET.get((n % 62) as usize).copied().unwrap_or(b'0');
        n /= 62;
    }
    out
}

/// Draws `len` uniform base62 characters by rejection sampling from `random`.
pub fn base62(len: usize, mut random: impl FnMut(&mut [u8])) -> String {
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        random(&mut buf);
        for b in buf {
            // 248 = 4 × 62: keeping bytes below it makes `b % 62` uniform.
            if b < 248 && out.len() < len {
                out.push(char::from(ALPHABET.get(usize::from(b % 62)).copied().unwrap_or(b'0')));
            }
        }
    }
    out
}

/// Builds a token from its parts, in one allocation of its final size: a growing string would
/// leave copies of the secret behind in freed memory.
pub fn assemble(prefix: &str, id: &str, secret: &str) -> String {
    let mut token = String::with_capacity(prefix.len() + id.len() + secret.len() + 2 + CHECK_LEN);
    for part in [prefix, "_", id, "_", secret] {
        token.push_str(part);
    }
    let check = checksum(&token);
    token.extend(check.iter().map(|&b| char::from(b)));
    token
}

/// A token split into its parts, checksum verified. Borrowed from the presented string.
pub struct Parsed<'a> {
    /// Public id.
    pub id: &'a str,
    /// The secret part (never logged).
    pub secret: &'a str,
}

fn is_base62(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Whether `id` could be a token id: a key is never built from one that could not.
pub fn is_token_id(id: &str) -> bool {
    id.len() == ID_LEN && is_base62(id)
}

/// Parses a presented token for an engine with `prefix`; any malformation or a bad checksum
/// is `invalid_credentials`, with no store access.
pub fn parse<'a>(token: &'a str, prefix: &str) -> Result<Parsed<'a>> {
    let rest = token.strip_prefix(prefix).and_then(|r| r.strip_prefix('_')).ok_or(Error::InvalidCredentials)?;
    let (id, tail) = rest.split_once('_').ok_or(Error::InvalidCredentials)?;
    if id.len() != ID_LEN || tail.len() != SECRET_LEN + CHECK_LEN || !is_base62(id) || !is_base62(tail) {
        return Err(Error::InvalidCredentials);
    }
    let (secret, check) = tail.split_at(SECRET_LEN);
    let body_len = token.len() - CHECK_LEN;
    let body = token.get(..body_len).ok_or(Error::InvalidCredentials)?;
    if checksum(body).as_slice() != check.as_bytes() {
        return Err(Error::InvalidCredentials);
    }
    Ok(Parsed { id, secret })
}

/// SHA-256 of the secret, or HMAC-SHA-256 under the pepper.
pub fn digest_secret(secret: &str, pepper: Option<&[u8]>) -> [u8; 32] {
    match pepper {
        Some(key) => match Hmac::<Sha256>::new_from_slice(key) {
            Ok(mut mac) => {
                mac.update(secret.as_bytes());
                mac.finalize().into_bytes().into()
            }
            // HMAC accepts keys of any length; this arm is unreachable in practice.
            Err(_) => Sha256::digest(secret.as_bytes()).into(),
        },
        None => Sha256::digest(secret.as_bytes()).into(),
    }
}

/// The digest as stored: lower-case hex.
pub fn hash_secret(secret: &str, pepper: Option<&[u8]>) -> String {
    let hex = |nibble: u8| char::from(if nibble < 10 { b'0' + nibble } else { b'a' + nibble - 10 });
    let mut out = String::with_capacity(64);
    for b in digest_secret(secret, pepper) {
        out.push(hex(b >> 4));
        out.push(hex(b & 0xf));
    }
    out
}

/// Compares a computed digest with the stored hex in constant time: the stored text is
/// decoded into bytes (anything but 64 lower-case hex digits matches nothing) and compared as
/// bytes, with no allocation.
pub fn digest_matches(computed: &[u8; 32], stored_hex: &str) -> bool {
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut stored = [0u8; 32];
    let mut well_formed = stored_hex.len() == 64;
    for (byte, pair) in stored.iter_mut().zip(stored_hex.as_bytes().chunks_exact(2)) {
        match (pair.first().copied().and_then(nibble), pair.get(1).copied().and_then(nibble)) {
            (Some(hi), Some(lo)) => *byte = hi << 4 | lo,
            _ => well_formed = false,
        }
    }
    // Compare even a malformed reference, so the time taken does not depend on it.
    let equal = bool::from(computed.ct_eq(&stored));
    well_formed && equal
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r20_check_is_zlib_crc32_in_base62() {
        let body = "kw_000000000000_00000000000000000000000000000000";
        let crc = crc32fast::hash(body.as_bytes());
        let mut n = crc;
        let mut digits = Vec::new();
        while n > 0 {
            digits.push(ALPHABET[(n % 62) as usize]);
            n /= 62;
        }
        while digits.len() < 6 {
            digits.push(b'0');
        }
        digits.reverse();
        assert_eq!(checksum(body).to_vec(), digits);
        // Known vector: crc32(b"123456789") = 0xCBF43926 (the ISO-HDLC check value).
        assert_eq!(crc32fast::hash(b"123456789"), 0xCBF4_3926);
        // Python: zlib.crc32(b"123456789") in big-endian base62, padded to 6.
        assert_eq!(&checksum("123456789"), b"3jZRME");
    }

    #[test]
    fn r20_assembled_tokens_parse_and_any_change_breaks_the_check() {
        let token = assemble("kw", "AbCdEfGhIjK1", "0123456789abcdefghijABCDEFGHIJ01");
        assert_eq!(token.len(), 2 + 1 + 12 + 1 + 32 + 6);
        let parsed = parse(&token, "kw");
        assert!(parsed.as_ref().is_ok_and(|p| p.id == "AbCdEfGhIjK1"));
        let mut flipped = token.clone().into_bytes();
        flipped[20] = if flipped[20] == b'a' { b'b' } else { b'a' };
        let flipped = String::from_utf8(flipped).unwrap_or_default();
        assert_eq!(parse(&flipped, "kw").err(), Some(Error::InvalidCredentials));
        assert_eq!(parse(&token, "xy").err(), Some(Error::InvalidCredentials), "other prefix");
        for bad in ["", "kw_", "kw_abc_def", &token[..token.len() - 1], &format!("{token}0")] {
            assert_eq!(parse(bad, "kw").err(), Some(Error::InvalidCredentials), "{bad:?}");
        }
    }

    #[test]
    fn r20_base62_draws_only_the_alphabet() {
        let mut n = 0u8;
        let s = base62(500, |buf| {
            for b in buf.iter_mut() {
                *b = n;
                n = n.wrapping_add(1);
            }
        });
        assert_eq!(s.len(), 500);
        assert!(s.bytes().all(|b| ALPHABET.contains(&b)));
    }

    #[test]
    fn r21_pepper_changes_the_hash() {
        let plain = hash_secret("s3cret", None);
        let peppered = hash_secret("s3cret", Some(b"pepper"));
        assert_eq!(plain.len(), 64);
        assert_ne!(plain, peppered);
        // Python: hashlib.sha256(b"s3cret").hexdigest()
        assert_eq!(plain, "1ec1c26b50d5d3c58d9583181af8076655fe00756bf7285940ba3670f99fcba0");
        assert!(digest_matches(&digest_secret("s3cret", None), &plain));
        assert!(!digest_matches(&digest_secret("s3cret", None), &peppered));
        assert!(digest_matches(&digest_secret("s3cret", Some(b"pepper")), &peppered));
        assert!(!digest_matches(&digest_secret("s3cret", None), ""));
        assert!(!digest_matches(&digest_secret("s3cret", None), &plain.to_uppercase()));
    }
}

//! Password policies. Lengths count Unicode scalar values; character classes are
//! Unicode's: `uppercase` is `char::is_uppercase`, `digit` is `char::is_numeric`, `special` is
//! anything neither alphabetic, numeric nor white space.

use crate::error::{Error, Result};

const COMMON: &str = include_str!("common_passwords.txt");

/// Whether `password` is on the shipped list of common passwords (case-insensitive).
pub fn is_common(password: &str) -> bool {
    let lower = password.to_lowercase();
    COMMON.lines().any(|line| line == lower)
}

/// Number of passwords on the shipped list.
pub fn common_count() -> usize {
    COMMON.lines().count()
}

/// Checks `password` against the named policy (`default` or `asvs`); `weak_password` lists
/// every unmet rule, in the order `min_length, max_length, uppercase, digit, special, common`.
pub fn check(policy: &str, password: &str) -> Result<()> {
    let n = password.chars().count();
    let mut unmet: Vec<&str> = Vec::new();
    let (min, composition, common) = match policy {
        "asvs" => (15, false, true),
        _ => (8, true, false),
    };
    if n < min {
        unmet.push("min_length");
    }
    if n > 128 {
        unmet.push("max_length");
    }
    if composition {
        if !password.chars().any(char::is_uppercase) {
            unmet.push("uppercase");
        }
        if !password.chars().any(char::is_numeric) {
            unmet.push("digit");
        }
        if !password.chars().any(|c| !c.is_alphabetic() && !c.is_numeric() && !c.is_whitespace()) {
            unmet.push("special");
        }
    }
    if common && is_common(password) {
        unmet.push("common");
    }
    if unmet.is_empty() {
        Ok(())
    } else {
        Err(Error::WeakPassword { rules: unmet.into_iter().map(str::to_owned).collect() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(policy: &str, pw: &str) -> Vec<String> {
        check(policy, pw).err().and_then(|e| e.rules().map(<[String]>::to_vec)).unwrap_or_default()
    }

    #[test]
    fn r50_default_policy_names_every_unmet_rule() {
        assert!(check("default", "Tr0ub4dor&3").is_ok());
        assert_eq!(rules("default", "abc"), ["min_length", "uppercase", "digit", "special"]);
        assert_eq!(rules("default", "abcdefgh"), ["uppercase", "digit", "special"]);
        assert_eq!(rules("default", "Abcdefg1"), ["special"]);
        assert_eq!(rules("default", &format!("A1!{}", "x".repeat(126))), ["max_length"]);
        // Unicode's sense: Ä is upper case, ٣ (Arabic-Indic three) a digit, € special.
        assert!(check("default", "äÄbcd٣€x").is_ok());
        assert_eq!(rules("default", "Abcdefg1 "), ["special"], "white space is not special");
        assert!(check("default", "Password1!").is_ok(), "no common-password rule in `default`");
    }

    #[test]
    fn r50_asvs_policy_is_length_and_common_passwords_only() {
        assert!(check("asvs", "correct horse battery").is_ok());
        assert_eq!(rules("asvs", "short"), ["min_length"]);
        assert_eq!(rules("asvs", "password"), ["min_length", "common"]);
        assert_eq!(rules("asvs", "1qaz2wsx3edc4rfv"), ["common"]);
        assert_eq!(rules("asvs", &"a".repeat(129)), ["max_length"]);
        assert!(check("asvs", "alllowercasenodigits").is_ok(), "no composition rules");
    }

    #[test]
    fn r50_the_common_list_ships_thousands_of_entries() {
        assert!(common_count() >= 5_000, "{}", common_count());
        assert!(is_common("123456") && is_common("PASSWORD") && is_common("qwerty"));
        assert!(!is_common("unlikely-to-be-listed-7f3a"));
    }
}

//! Checks of names and texts (R-01..R-03, R-24, R-41). Each failure is `invalid_argument`
//! naming the argument.

use crate::error::{Error, Result};

fn name_like(s: &str, max_rest: usize) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && (2..=max_rest + 1).contains(&s.len())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Tenant id: `^[a-z0-9][a-z0-9-]{0,62}$` (SPEC §1).
pub fn tenant_id(tenant: &str) -> Result<()> {
    let mut chars = tenant.chars();
    let ok = matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit())
        && tenant.len() <= 63
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "tenant",
            format!("`{}` is not a tenant id: lower-case letters, digits and `-`, at most 63", clip(tenant)),
        ))
    }
}

/// Service-account name: `^[a-z][a-z0-9-]{1,62}$`.
pub fn service_account_name(name: &str) -> Result<()> {
    if name_like(name, 62) {
        Ok(())
    } else {
        Err(Error::invalid(
            "name",
            format!("`{}` is not a service-account name: `^[a-z][a-z0-9-]{{1,62}}$`", clip(name)),
        ))
    }
}

/// Role or group name: `^[a-z][a-z0-9-]{1,62}$`.
pub fn role_or_group_name(name: &str, field: &str) -> Result<()> {
    if name_like(name, 62) {
        Ok(())
    } else {
        Err(Error::invalid(field, format!("`{}` is not a valid name: `^[a-z][a-z0-9-]{{1,62}}$`", clip(name))))
    }
}

/// A principal or email as given: 1 to 320 characters, no white space or control characters.
pub fn principal_text(principal: &str) -> Result<()> {
    if !principal.is_empty()
        && principal.chars().count() <= 320
        && !principal.chars().any(|c| c.is_whitespace() || c.is_control() || c == '/')
    {
        Ok(())
    } else {
        Err(Error::invalid("principal", format!("`{}` is not a principal", clip(principal))))
    }
}

/// An email for a user: lower-cased; `local@domain` with a dotted domain.
pub fn email(email: &str, sa_domain: &str) -> Result<String> {
    let lower = email.to_lowercase();
    let bad = |why: &str| Error::invalid("email", format!("`{}` {why}", clip(email)));
    principal_text(&lower).map_err(|_| bad("is not an email"))?;
    let (local, domain) = lower.rsplit_once('@').ok_or_else(|| bad("is not an email"))?;
    if local.is_empty()
        || local.contains('@')
        || domain.is_empty()
        || domain.starts_with('.')
        || domain.ends_with('.')
        || lower.len() > 254
    {
        return Err(bad("is not an email"));
    }
    let sa_suffix = format!(".sa.{sa_domain}");
    if domain.ends_with(&sa_suffix) || domain == format!("sa.{sa_domain}") {
        return Err(bad("is under the service-account domain"));
    }
    Ok(lower)
}

/// An admin operation's actor: an email R-03 would accept, or a service-account
/// principal of R-02 (`<name>@<tenant>.sa.<domain>`), at most 320 characters. The error names
/// the argument, never its value: a token passed here must not be echoed.
pub fn actor(principal: &str, sa_domain: &str) -> Result<()> {
    let refuse = || Err(Error::invalid("actor", "not a principal: an email or a service-account principal"));
    if principal.chars().count() > 320 || principal_text(principal).is_err() {
        return refuse();
    }
    let service = principal.split_once('@').is_some_and(|(name, domain)| {
        domain
            .strip_suffix(sa_domain)
            .and_then(|d| d.strip_suffix(".sa."))
            .is_some_and(|tenant| tenant_id(tenant).is_ok() && service_account_name(name).is_ok())
    });
    if service || email(principal, sa_domain).is_ok() {
        Ok(())
    } else {
        refuse()
    }
}

/// Description: at most 1,000 characters.
pub fn description(text: &str) -> Result<()> {
    if text.chars().count() <= 1000 {
        Ok(())
    } else {
        Err(Error::invalid("description", "at most 1,000 characters"))
    }
}

/// Token name: 1 to 64 printable characters.
pub fn token_name(name: &str) -> Result<()> {
    let n = name.chars().count();
    if (1..=64).contains(&n) && !name.chars().any(char::is_control) && !name.trim().is_empty() {
        Ok(())
    } else {
        Err(Error::invalid("name", "a token name is 1 to 64 printable characters"))
    }
}

/// A user-supplied text cut short for an error message.
pub fn clip(s: &str) -> String {
    let mut out: String = s.chars().take(64).filter(|c| !c.is_control()).collect();
    if s.chars().count() > 64 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r02_service_account_names() {
        for ok in ["support-bot-prod", "ab", "a1", &format!("a{}", "b".repeat(62))] {
            assert!(service_account_name(ok).is_ok(), "{ok}");
        }
        for bad in ["a", "1bot", "Bot", "bot_prod", "", &format!("a{}", "b".repeat(63)), "bot prod"] {
            assert_eq!(service_account_name(bad).err().as_ref().and_then(Error::field), Some("name"), "{bad}");
        }
    }

    #[test]
    fn tenant_ids_follow_the_words_table() {
        assert!(tenant_id("acme").is_ok());
        assert!(tenant_id("0-acme").is_ok());
        assert!(tenant_id("-acme").is_err());
        assert!(tenant_id("Acme").is_err());
        assert!(tenant_id(&"a".repeat(64)).is_err());
        assert!(tenant_id("a/b").is_err());
    }

    #[test]
    fn r03_emails_are_lower_cased_and_never_under_the_sa_domain() {
        assert_eq!(email("Ann@Acme.Test", "keyward.local").ok().as_deref(), Some("ann@acme.test"));
        assert!(email("bot@acme.sa.keyward.local", "keyward.local").is_err());
        for bad in ["ann", "@acme.test", "ann@", "a b@acme.test", "ann@@acme.test"] {
            assert!(email(bad, "keyward.local").is_err(), "{bad}");
        }
    }

    #[test]
    fn r81_an_actor_is_an_email_or_a_service_account_principal() {
        for ok in ["ann@acme.test", "bot@acme.sa.keyward.local", "a-b@0-x.sa.keyward.local"] {
            assert!(actor(ok, "keyward.local").is_ok(), "{ok}");
        }
        let long = format!("{}@acme.test", "a".repeat(320));
        let token = "kw_AAAAAAAAAAAA_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB000000";
        for bad in ["", "ann", "x@.sa.keyward.local", "Bot@acme.sa.keyward.local", token, &long, "a b@acme.test"] {
            let e = actor(bad, "keyward.local").unwrap_err();
            assert_eq!(e.field(), Some("actor"), "{bad}");
            assert!(bad.is_empty() || !e.to_string().contains(bad), "the error echoes {bad}");
        }
    }

    #[test]
    fn r24_token_names() {
        assert!(token_name("ci deploy key ✓").is_ok());
        assert!(token_name("").is_err());
        assert!(token_name(&"x".repeat(65)).is_err());
        assert!(token_name("bad\nname").is_err());
    }
}

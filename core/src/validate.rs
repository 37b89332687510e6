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
        Err(Error::invalid("tenant", "not a tenant id: lower-case letters, digits and `-`, at most 63"))
    }
}

/// Service-account name: `^[a-z][a-z0-9-]{1,62}$`.
pub fn service_account_name(name: &str) -> Result<()> {
    if name_like(name, 62) {
        Ok(())
    } else {
        Err(Error::invalid("name", "not a service-account name: `^[a-z][a-z0-9-]{1,62}$`"))
    }
}

/// Role or group name: `^[a-z][a-z0-9-]{1,62}$`.
pub fn role_or_group_name(name: &str, field: &str) -> Result<()> {
    if name_like(name, 62) {
        Ok(())
    } else {
        Err(Error::invalid(field, "not a valid name: `^[a-z][a-z0-9-]{1,62}$`"))
    }
}

/// A principal or email as given: 1 to 320 characters, no white space, control characters
/// or bidirectional overrides.
pub fn principal_text(principal: &str) -> Result<()> {
    if !principal.is_empty()
        && principal.chars().count() <= 320
        && !principal.chars().any(|c| c.is_whitespace() || c.is_control() || c == '/' || is_bidi_control(c))
    {
        Ok(())
    } else {
        Err(Error::invalid("principal", "not a principal"))
    }
}

/// An email for a user: lower-cased; `local@domain` with a dotted domain.
pub fn email(email: &str, sa_domain: &str) -> Result<String> {
    let lower = email.to_lowercase();
    let bad = |why: &str| Error::invalid("email", why.to_owned());
    principal_text(&lower).map_err(|_| bad("not an email"))?;
    let (local, domain) = lower.rsplit_once('@').ok_or_else(|| bad("not an email"))?;
    if local.is_empty()
        || local.contains('@')
        || domain.is_empty()
        || domain.starts_with('.')
        || domain.ends_with('.')
        || lower.len() > 254
    {
        return Err(bad("not an email"));
    }
    let sa_suffix = format!(".sa.{sa_domain}");
    if domain.ends_with(&sa_suffix) || domain == format!("sa.{sa_domain}") {
        return Err(bad("an email under the service-account domain"));
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

/// Bidirectional overrides and isolates, U+202A–U+202E and U+2066–U+2069: they make
/// text read differently from what it holds.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Unicode general category Cf (format characters), as of Unicode 16.0.
const FORMAT_CHARS: &[(char, char)] = &[
    ('\u{00AD}', '\u{00AD}'),
    ('\u{0600}', '\u{0605}'),
    ('\u{061C}', '\u{061C}'),
    ('\u{06DD}', '\u{06DD}'),
    ('\u{070F}', '\u{070F}'),
    ('\u{0890}', '\u{0891}'),
    ('\u{08E2}', '\u{08E2}'),
    ('\u{180E}', '\u{180E}'),
    ('\u{200B}', '\u{200F}'),
    ('\u{202A}', '\u{202E}'),
    ('\u{2060}', '\u{2064}'),
    ('\u{2066}', '\u{206F}'),
    ('\u{FEFF}', '\u{FEFF}'),
    ('\u{FFF9}', '\u{FFFB}'),
    ('\u{110BD}', '\u{110BD}'),
    ('\u{110CD}', '\u{110CD}'),
    ('\u{13430}', '\u{1343F}'),
    ('\u{1BCA0}', '\u{1BCA3}'),
    ('\u{1D173}', '\u{1D17A}'),
    ('\u{E0001}', '\u{E0001}'),
    ('\u{E0020}', '\u{E007F}'),
];

/// Whether `c` is a format character (Unicode Cf), such as U+200B ZERO WIDTH SPACE.
fn is_format(c: char) -> bool {
    c >= '\u{00AD}' && FORMAT_CHARS.iter().any(|&(lo, hi)| (lo..=hi).contains(&c))
}

/// The first character of `text` that `bad` refuses, as `U+XXXX at position N`.
fn first_bad(text: &str, bad: impl Fn(char) -> bool) -> Option<String> {
    let (i, c) = text.chars().enumerate().find(|&(_, c)| bad(c))?;
    Some(format!("U+{:04X} at position {i}", u32::from(c)))
}

/// A name or text the engine stores: no control character (Unicode Cc; `multiline`
/// text may hold tab and line feed) and no bidirectional override or isolate. Refused, never
/// stripped; the error names the field and the offending character, not the text.
pub fn stored_text(text: &str, field: &str, multiline: bool) -> Result<()> {
    let allowed = |c: char| multiline && (c == '\t' || c == '\n');
    match first_bad(text, |c| (c.is_control() && !allowed(c)) || is_bidi_control(c)) {
        None => Ok(()),
        Some(at) => {
            Err(Error::invalid(field, format!("control characters and bidirectional overrides are not allowed ({at})")))
        }
    }
}

/// Description: at most 1,000 characters; tab and line feed allowed, no other control
/// character or bidirectional override.
pub fn description(text: &str) -> Result<()> {
    if text.chars().count() > 1000 {
        return Err(Error::invalid("description", "at most 1,000 characters"));
    }
    stored_text(text, "description", true)
}

/// A display name (of a tenant or a user): 1 to 200 characters, not blank, and a stored text
/// on one line.
pub fn display_name(name: &str, field: &str) -> Result<()> {
    if name.trim().is_empty() || name.chars().count() > 200 {
        return Err(Error::invalid(field, "a name is 1 to 200 characters, not only white space"));
    }
    stored_text(name, field, false)
}

/// Token name: 1 to 64 characters, not blank, none of them Cc, Cf, Zl or Zp.
pub fn token_name(name: &str) -> Result<()> {
    let n = name.chars().count();
    if !(1..=64).contains(&n) || name.trim().is_empty() {
        return Err(Error::invalid("name", "a token name is 1 to 64 characters, not only white space"));
    }
    // A token pasted where its name goes would be shown by every `list_tokens`.
    if matches!(crate::error::redact(name), std::borrow::Cow::Owned(_)) {
        return Err(Error::invalid("name", "a token name must not look like a token"));
    }
    let bad = |c: char| c.is_control() || is_format(c) || c == '\u{2028}' || c == '\u{2029}';
    match first_bad(name, bad) {
        None => Ok(()),
        Some(at) => Err(Error::invalid(
            "name",
            format!("a token name holds no control, format or line/paragraph separator characters ({at})"),
        )),
    }
}

/// A user-supplied text cut short for an error message; token-shaped text is redacted first,
/// so that the cut never leaves part of a secret behind.
pub fn clip(s: &str) -> String {
    let s = crate::error::redact(s);
    let mut out: String = s.chars().take(64).filter(|c| !c.is_control() && !is_bidi_control(*c)).collect();
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
        assert!(token_name("Clé prod 🚀").is_ok());
        assert!(token_name(&"é".repeat(64)).is_ok(), "64 characters, not bytes");
        assert!(token_name("").is_err());
        // a token pasted as a name is refused, never stored to be listed.
        assert_eq!(
            token_name("kw_AAAAAAAAAAAA_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB000000").unwrap_err().field(),
            Some("name")
        );
        assert!(token_name("kw_deploy_key").is_ok());
        assert!(token_name(&"x".repeat(65)).is_err());
        assert!(token_name("bad\nname").is_err());
        // Cc, Cf (zero-width space, soft hyphen, BOM, bidi override, tag), Zl, Zp.
        for bad in
            ["a\u{7}b", "a\u{200B}b", "a\u{AD}b", "\u{FEFF}ab", "a\u{202E}b", "a\u{E0041}b", "a\u{2028}b", "a\u{2029}b"]
        {
            let e = token_name(bad).err();
            assert_eq!(e.as_ref().and_then(Error::field), Some("name"), "{bad:?}");
        }
    }

    #[test]
    fn r24_the_format_table_is_sorted_and_covers_known_cf() {
        assert!(FORMAT_CHARS.windows(2).all(|w| matches!(w, [a, b] if a.1 < b.0)));
        assert!(FORMAT_CHARS.iter().all(|(lo, hi)| lo <= hi));
        for c in ['\u{600}', '\u{200D}', '\u{2064}', '\u{1343F}', '\u{E007F}'] {
            assert!(is_format(c), "{c:?}");
        }
        for c in ['a', ' ', '\u{AC}', '\u{2065}', '\u{FE0F}', '🚀'] {
            assert!(!is_format(c), "{c:?}");
        }
    }

    #[test]
    fn r01_stored_text_refuses_controls_and_bidi_overrides_naming_the_field() {
        assert!(description("line one\n\tline two").is_ok(), "tab and line feed in a description");
        for bad in [
            "a\u{0}b",
            "a\u{1B}[31mb",
            "a\rb",
            "a\u{7F}b",
            "a\u{85}b",
            "a\u{202A}b",
            "a\u{202E}b",
            "a\u{2066}b",
            "a\u{2069}b",
        ] {
            let e = description(bad).err();
            assert_eq!(e.as_ref().and_then(Error::field), Some("description"), "{bad:?}");
            assert!(e.is_some_and(|e| !e.to_string().contains(bad)), "the text is not echoed");
            assert_eq!(display_name(bad, "name").err().as_ref().and_then(Error::field), Some("name"));
        }
        assert!(display_name("a\tb", "name").is_err(), "a name is one line");
        assert!(display_name("Acme Corp – 東京", "name").is_ok());
        assert!(display_name("   ", "name").is_err());
        assert!(display_name(&"x".repeat(201), "name").is_err());
        assert!(principal_text("ann\u{202E}@acme.test").is_err());
        let e = stored_text("ab\u{202E}", "name", false).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("U+202E at position 2"), "{e}");
    }

    #[test]
    fn r82_clip_never_leaves_part_of_a_token() {
        let token = format!("kw_{}_{}", "A".repeat(12), "b".repeat(38));
        let clipped = clip(&format!("{}{token}", "x".repeat(40)));
        assert!(!clipped.contains("AAAAAAAAAAAA"), "{clipped}");
    }
}

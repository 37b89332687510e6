//! Grants and their patterns (R-48): parsing, matching, covering (R-47) and intersection
//! (R-26).

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The administrative types (R-41): a `*` standing for the type never matches them.
pub const ADMINISTRATIVE_TYPES: [&str; 6] = ["accounts", "tokens", "groups", "roles", "settings", "audit"];

const MAX_RESOURCE_LEN: usize = 256;

/// Whether a permission type is administrative (R-41, R-46).
pub fn is_administrative(kind: &str) -> bool {
    ADMINISTRATIVE_TYPES.contains(&kind)
}

/// One segment of a permission pattern: a name or `*`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Segment {
    /// `*`: one whole segment.
    Any,
    /// A literal name.
    Name(String),
}

/// A permission pattern: `*` alone, or `<type>:<action>` with `*` for a whole segment.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Permission {
    /// The bare `*`: every permission, administrative ones included.
    All,
    /// `type:action`.
    Pair(Segment, Segment),
}

/// A resource pattern: literal, or literal prefix followed by a final `*`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Resource {
    /// `*` alone: every resource.
    All,
    /// `<prefix>*`: any resource starting with the prefix.
    Prefix(String),
    /// An exact resource.
    Exact(String),
}

/// A grant: a permission pattern on a resource pattern (SPEC §1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Grant {
    /// What may be done.
    pub permission: Permission,
    /// On what.
    pub resource: Resource,
}

/// A token scope (R-26): a grant, optionally limited to one tenant.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Scope {
    /// The grant.
    pub grant: Grant,
    /// When set, the scope applies in this tenant only.
    pub tenant: Option<String>,
}

fn valid_name_segment(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && s.len() <= 63
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

fn parse_segment(s: &str) -> Option<Segment> {
    if s == "*" {
        Some(Segment::Any)
    } else if valid_name_segment(s) {
        Some(Segment::Name(s.to_owned()))
    } else {
        None
    }
}

impl Permission {
    /// Parses a permission pattern (R-48); `field` names the argument in the error.
    pub fn parse(text: &str, field: &str) -> Result<Permission> {
        if text == "*" {
            return Ok(Permission::All);
        }
        let parsed =
            text.split_once(':').and_then(|(t, a)| Some(Permission::Pair(parse_segment(t)?, parse_segment(a)?)));
        parsed.ok_or_else(|| {
            Error::invalid(
                field,
                format!("`{text}` is not a permission: expected `*` or `type:action` (lower-case names or `*`)"),
            )
        })
    }

    /// Whether this pattern matches a concrete `type:action` (R-41, R-48).
    pub fn matches(&self, kind: &str, action: &str) -> bool {
        match self {
            Permission::All => true,
            Permission::Pair(t, a) => {
                let type_ok = match t {
                    Segment::Any => !is_administrative(kind),
                    Segment::Name(n) => n == kind,
                };
                type_ok
                    && match a {
                        Segment::Any => true,
                        Segment::Name(n) => n == action,
                    }
            }
        }
    }

    /// Whether everything `other` matches, `self` matches too (R-47).
    pub fn covers(&self, other: &Permission) -> bool {
        match (self, other) {
            (Permission::All, _) => true,
            (Permission::Pair(..), Permission::All) => false,
            (Permission::Pair(t1, a1), Permission::Pair(t2, a2)) => {
                let type_ok = match (t1, t2) {
                    (Segment::Any, Segment::Any) => true,
                    (Segment::Any, Segment::Name(n)) => !is_administrative(n),
                    (Segment::Name(_), Segment::Any) => false,
                    (Segment::Name(x), Segment::Name(y)) => x == y,
                };
                type_ok && segment_covers(a1, a2)
            }
        }
    }

    /// The permissions matched by both, if any (R-26).
    pub fn intersect(&self, other: &Permission) -> Option<Permission> {
        match (self, other) {
            (Permission::All, p) | (p, Permission::All) => Some(p.clone()),
            (Permission::Pair(t1, a1), Permission::Pair(t2, a2)) => {
                let kind = match (t1, t2) {
                    (Segment::Any, Segment::Any) => Segment::Any,
                    (Segment::Any, Segment::Name(n)) | (Segment::Name(n), Segment::Any) => {
                        if is_administrative(n) {
                            return None;
                        }
                        Segment::Name(n.clone())
                    }
                    (Segment::Name(x), Segment::Name(y)) if x == y => Segment::Name(x.clone()),
                    _ => return None,
                };
                let action = match (a1, a2) {
                    (Segment::Any, s) | (s, Segment::Any) => s.clone(),
                    (Segment::Name(x), Segment::Name(y)) if x == y => Segment::Name(x.clone()),
                    _ => return None,
                };
                Some(Permission::Pair(kind, action))
            }
        }
    }
}

fn segment_covers(a: &Segment, b: &Segment) -> bool {
    match (a, b) {
        (Segment::Any, _) => true,
        (Segment::Name(_), Segment::Any) => false,
        (Segment::Name(x), Segment::Name(y)) => x == y,
    }
}

impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Segment::Any => f.write_str("*"),
            Segment::Name(n) => f.write_str(n),
        }
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Permission::All => f.write_str("*"),
            Permission::Pair(t, a) => write!(f, "{t}:{a}"),
        }
    }
}

/// Checks a concrete permission asked about in a decision: `type:action`, no wildcard.
pub fn parse_requested_permission(text: &str) -> Result<(&str, &str)> {
    match text.split_once(':') {
        Some((t, a)) if valid_name_segment(t) && valid_name_segment(a) => Ok((t, a)),
        _ => Err(Error::invalid("permission", format!("`{text}` is not a permission: expected `type:action`"))),
    }
}

fn printable_no_space(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_graphic())
}

/// Checks a concrete resource asked about: `*` (the tenant as a whole) or `<type>/<id>`,
/// printable ASCII without spaces, at most 256 characters. It is taken literally (R-48).
pub fn check_requested_resource(text: &str) -> Result<()> {
    let ok = text == "*"
        || (text.len() <= MAX_RESOURCE_LEN
            && printable_no_space(text)
            && text.split_once('/').is_some_and(|(t, id)| !t.is_empty() && !id.is_empty()));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid("resource", format!("`{}` is not a resource: expected `*` or `type/id`", truncate(text))))
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(80).collect()
}

impl Resource {
    /// Parses a resource pattern (R-48).
    pub fn parse(text: &str, field: &str) -> Result<Resource> {
        if text == "*" {
            return Ok(Resource::All);
        }
        let body = text.strip_suffix('*');
        let literal = body.unwrap_or(text);
        let well_formed = text.len() <= MAX_RESOURCE_LEN
            && printable_no_space(text)
            && !literal.contains('*')
            && literal.split_once('/').is_some_and(|(t, _)| !t.is_empty())
            && (body.is_some() || !literal.ends_with('/'));
        if !well_formed {
            return Err(Error::invalid(
                field,
                format!("`{}` is not a resource pattern: expected `*`, `type/id` or `type/prefix*`", truncate(text)),
            ));
        }
        Ok(match body {
            Some(prefix) => Resource::Prefix(prefix.to_owned()),
            None => Resource::Exact(text.to_owned()),
        })
    }

    /// Whether this pattern matches a requested (literal) resource.
    pub fn matches(&self, resource: &str) -> bool {
        match self {
            Resource::All => true,
            Resource::Prefix(p) => resource.starts_with(p.as_str()),
            Resource::Exact(e) => e == resource,
        }
    }

    /// Whether every resource `other` matches, `self` matches too.
    pub fn covers(&self, other: &Resource) -> bool {
        match (self, other) {
            (Resource::All, _) => true,
            (_, Resource::All) => false,
            (Resource::Prefix(p), Resource::Prefix(q) | Resource::Exact(q)) => q.starts_with(p.as_str()),
            (Resource::Exact(e), Resource::Exact(f)) => e == f,
            (Resource::Exact(_), Resource::Prefix(_)) => false,
        }
    }

    /// The resources matched by both, if any.
    pub fn intersect(&self, other: &Resource) -> Option<Resource> {
        if self.covers(other) {
            Some(other.clone())
        } else if other.covers(self) {
            Some(self.clone())
        } else {
            None
        }
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Resource::All => f.write_str("*"),
            Resource::Prefix(p) => write!(f, "{p}*"),
            Resource::Exact(e) => f.write_str(e),
        }
    }
}

impl Grant {
    /// Parses `permission` on `resource`.
    pub fn parse(permission: &str, resource: &str, field: &str) -> Result<Grant> {
        Ok(Grant { permission: Permission::parse(permission, field)?, resource: Resource::parse(resource, field)? })
    }

    /// Whether this grant allows `type:action` on the literal `resource`.
    pub fn matches(&self, kind: &str, action: &str, resource: &str) -> bool {
        self.permission.matches(kind, action) && self.resource.matches(resource)
    }

    /// Whether holding `self` implies holding `other` (R-47).
    pub fn covers(&self, other: &Grant) -> bool {
        self.permission.covers(&other.permission) && self.resource.covers(&other.resource)
    }

    /// What both grants allow, if anything (R-26).
    pub fn intersect(&self, other: &Grant) -> Option<Grant> {
        Some(Grant {
            permission: self.permission.intersect(&other.permission)?,
            resource: self.resource.intersect(&other.resource)?,
        })
    }
}

impl fmt::Display for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.resource {
            Resource::All => write!(f, "{}", self.permission),
            _ => write!(f, "{} on {}", self.permission, self.resource),
        }
    }
}

// Serde: a grant is `"type:action"` (resource `*`) or `{"permission", "resource"}`; a scope may
// add `"tenant"`. Parsing validates, so a stored or received grant is always well formed.

#[derive(Deserialize)]
#[serde(untagged)]
enum RawGrant {
    Text(String),
    Object {
        permission: String,
        #[serde(default)]
        resource: Option<String>,
        #[serde(default)]
        tenant: Option<String>,
    },
}

fn from_raw(raw: RawGrant) -> Result<Scope> {
    match raw {
        RawGrant::Text(p) => Ok(Scope { grant: Grant::parse(&p, "*", "grants")?, tenant: None }),
        RawGrant::Object { permission, resource, tenant } => {
            Ok(Scope { grant: Grant::parse(&permission, resource.as_deref().unwrap_or("*"), "grants")?, tenant })
        }
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = RawGrant;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a grant: \"type:action\" or {\"permission\", \"resource\"}")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<RawGrant, E> {
        Ok(RawGrant::Text(v.to_owned()))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<RawGrant, A::Error> {
        let (mut permission, mut resource, mut tenant) = (None, None, None);
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "permission" => permission = Some(map.next_value::<String>()?),
                "resource" => resource = map.next_value::<Option<String>>()?,
                "tenant" => tenant = map.next_value::<Option<String>>()?,
                other => return Err(de::Error::unknown_field(other, &["permission", "resource", "tenant"])),
            }
        }
        let permission = permission.ok_or_else(|| de::Error::missing_field("permission"))?;
        Ok(RawGrant::Object { permission, resource, tenant })
    }
}

/// The message alone: the caller's error names the argument.
fn plain(e: Error) -> String {
    match e {
        Error::InvalidArgument { message, .. } => message,
        other => other.to_string(),
    }
}

fn deserialize_raw<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<RawGrant, D::Error> {
    d.deserialize_any(RawVisitor)
}

impl<'de> Deserialize<'de> for Grant {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Grant, D::Error> {
        let scope = from_raw(deserialize_raw(d)?).map_err(|e| de::Error::custom(plain(e)))?;
        if scope.tenant.is_some() {
            return Err(de::Error::custom("a grant has no `tenant` (only token scopes do)"));
        }
        Ok(scope.grant)
    }
}

impl<'de> Deserialize<'de> for Scope {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Scope, D::Error> {
        from_raw(deserialize_raw(d)?).map_err(|e| de::Error::custom(plain(e)))
    }
}

fn serialize_grant<S: Serializer>(grant: &Grant, tenant: Option<&str>, s: S) -> std::result::Result<S::Ok, S::Error> {
    if grant.resource == Resource::All && tenant.is_none() {
        return s.collect_str(&grant.permission);
    }
    let mut map = s.serialize_map(None)?;
    map.serialize_entry("permission", &grant.permission.to_string())?;
    map.serialize_entry("resource", &grant.resource.to_string())?;
    if let Some(t) = tenant {
        map.serialize_entry("tenant", t)?;
    }
    map.end()
}

impl Serialize for Grant {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        serialize_grant(self, None, s)
    }
}

impl Serialize for Scope {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        serialize_grant(&self.grant, self.tenant.as_deref(), s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Permission {
        Permission::parse(s, "t").unwrap_or(Permission::All)
    }
    fn r(s: &str) -> Resource {
        Resource::parse(s, "t").unwrap_or(Resource::All)
    }

    #[test]
    fn r48_permission_patterns_match_whole_segments() {
        assert!(p("*").matches("accounts", "write"));
        assert!(p("models:*").matches("models", "execute"));
        assert!(!p("models:*").matches("modelsx", "read"));
        assert!(p("*:read").matches("models", "read"));
        assert!(!p("*:read").matches("models", "readx"));
        assert!(p("models:read").matches("models", "read"));
        for bad in ["", "models", "models:", ":read", "Models:read", "models:read:x", "mo*:read", "1a:read", "a b:read"]
        {
            assert!(Permission::parse(bad, "grants").is_err(), "{bad}");
        }
    }

    #[test]
    fn r41_type_star_never_matches_an_administrative_type() {
        for admin in ADMINISTRATIVE_TYPES {
            assert!(!p("*:read").matches(admin, "read"));
            assert!(!p("*:*").matches(admin, "write"));
            assert!(p("*").matches(admin, "write"), "the bare * does");
            assert!(p(&format!("{admin}:*")).matches(admin, "write"), "naming the type does");
        }
    }

    #[test]
    fn r48_resource_patterns_final_star_matches_any_suffix() {
        assert!(r("models/*").matches("models/gpt/v2"));
        assert!(r("models/gpt*").matches("models/gpt-4"));
        assert!(!r("models/gpt*").matches("models/llama"));
        assert!(r("models/a/b").matches("models/a/b"));
        assert!(!r("models/a").matches("models/a/b"));
        assert!(r("*").matches("*"));
        assert!(!r("models/*").matches("*"), "the tenant as a whole is matched only by `*`");
        for bad in ["", "models", "/x", "models/a b", "models/*/x", "m*", "models/", &format!("t/{}", "x".repeat(300))]
        {
            assert!(Resource::parse(bad, "grants").is_err(), "{bad}");
        }
        assert!(check_requested_resource("models/a*b").is_ok(), "requested resources are literal");
        assert!(check_requested_resource("models").is_err());
    }

    #[test]
    fn r47_covering_respects_administrative_types() {
        assert!(p("*").covers(&p("accounts:write")));
        assert!(p("*:*").covers(&p("models:read")));
        assert!(p("*:*").covers(&p("*:read")));
        assert!(!p("*:*").covers(&p("accounts:read")));
        assert!(!p("*:read").covers(&p("*:*")));
        assert!(!p("*:*").covers(&p("*")));
        assert!(r("models/*").covers(&r("models/a*")));
        assert!(!r("models/a*").covers(&r("models/*")));
        assert!(!r("models/a").covers(&r("models/a*")));
    }

    #[test]
    fn r26_intersection_is_what_both_allow() {
        assert_eq!(p("*:read").intersect(&p("models:*")), Some(p("models:read")));
        assert_eq!(p("*:read").intersect(&p("accounts:read")), None);
        assert_eq!(p("*").intersect(&p("accounts:read")), Some(p("accounts:read")));
        assert_eq!(p("models:read").intersect(&p("models:write")), None);
        assert_eq!(r("models/*").intersect(&r("models/a*")), Some(r("models/a*")));
        assert_eq!(r("models/a*").intersect(&r("models/b")), None);
    }

    #[test]
    fn grants_round_trip_as_text_or_object() -> std::result::Result<(), serde_json::Error> {
        let g: Grant = serde_json::from_str(r#""models:read""#)?;
        assert_eq!(serde_json::to_string(&g)?, r#""models:read""#);
        let g: Grant = serde_json::from_str(r#"{"permission":"models:read","resource":"models/a*"}"#)?;
        assert_eq!(serde_json::to_string(&g)?, r#"{"permission":"models:read","resource":"models/a*"}"#);
        let s: Scope = serde_json::from_str(r#"{"permission":"models:read","tenant":"acme"}"#)?;
        assert_eq!(serde_json::to_string(&s)?, r#"{"permission":"models:read","resource":"*","tenant":"acme"}"#);
        assert!(serde_json::from_str::<Grant>(r#"{"permission":"models:read","tenant":"acme"}"#).is_err());
        assert!(serde_json::from_str::<Grant>(r#""bad""#).is_err());
        Ok(())
    }
}

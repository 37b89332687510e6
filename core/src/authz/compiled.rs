//! Compiled rights (DESIGN.md "Evaluation"): a tenant's roles and groups expanded once per
//! document version, and an account's rights in a tenant expanded once per membership
//! version, so a decision is a scan of pre-parsed grants in explanation order.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::authz::pattern::{Grant, Permission, Resource, Scope, Segment};
use crate::docs::{tenant_key, MembershipDoc, TenantDoc};
use crate::error::{Error, Result};
use crate::op::parse;
use crate::store::Versioned;

/// Built-in role names, in documentation order.
pub const BUILTIN_ROLES: [&str; 5] = ["admin", "contributor", "user", "inference-user", "viewer"];

fn pair(kind: &str, action: &str) -> Grant {
    let seg = |s: &str| {
        if s == "*" {
            Segment::Any
        } else {
            Segment::Name(s.to_owned())
        }
    };
    Grant { permission: Permission::Pair(seg(kind), seg(action)), resource: Resource::All }
}

/// The grants of a built-in role, exactly as R-41 lists them.
pub fn builtin_role(name: &str) -> Option<Vec<Grant>> {
    Some(match name {
        "admin" => vec![Grant { permission: Permission::All, resource: Resource::All }],
        "contributor" => vec![pair("*", "read"), pair("*", "write"), pair("*", "execute")],
        "user" => vec![pair("*", "read"), pair("*", "execute")],
        "inference-user" => vec![pair("models", "execute"), pair("models", "read"), pair("deployments", "read")],
        "viewer" => vec![pair("*", "read")],
        _ => return None,
    })
}

/// A tenant's roles and groups, expanded.
#[derive(Debug)]
pub struct CompiledTenant {
    /// Version of the tenant document this was compiled from.
    pub version: u64,
    roles: HashMap<String, Arc<[Grant]>>,
    /// Groups by name: their own grants followed by their roles' grants.
    groups: BTreeMap<String, Arc<[Grant]>>,
}

impl CompiledTenant {
    /// Compiles a tenant document.
    pub fn compile(doc: &TenantDoc, version: u64) -> CompiledTenant {
        let mut roles: HashMap<String, Arc<[Grant]>> =
            BUILTIN_ROLES.iter().filter_map(|name| Some(((*name).to_owned(), builtin_role(name)?.into()))).collect();
        for (name, grants) in &doc.roles {
            roles.insert(name.clone(), grants.clone().into());
        }
        let groups = doc
            .groups
            .iter()
            .map(|(name, def)| {
                let mut grants: Vec<Grant> = Vec::new();
                for role in &def.roles {
                    grants.extend(roles.get(role).map(|g| g.to_vec()).unwrap_or_default());
                }
                grants.extend(def.grants.iter().cloned());
                (name.clone(), grants.into())
            })
            .collect();
        CompiledTenant { version, roles, groups }
    }

    /// The grants of a role, built-in or custom.
    pub fn role(&self, name: &str) -> Option<&[Grant]> {
        self.roles.get(name).map(|g| &**g)
    }

    /// The expanded grants of a group.
    pub fn group(&self, name: &str) -> Option<&[Grant]> {
        self.groups.get(name).map(|g| &**g)
    }

    /// An account's rights in this tenant, in explanation order: role, direct, groups by name
    /// (`everyone` included).
    pub fn rights(&self, membership: &MembershipDoc) -> Rights {
        let mut entries = Vec::new();
        if let Some(role) = &membership.role {
            let source: Arc<str> = format!("role:{role}").into();
            for g in self.role(role).unwrap_or_default() {
                entries.push((g.clone(), Arc::clone(&source)));
            }
        }
        let direct: Arc<str> = "direct".into();
        for g in &membership.grants {
            entries.push((g.clone(), Arc::clone(&direct)));
        }
        for (name, grants) in &self.groups {
            if name == "everyone" || membership.groups.iter().any(|m| m == name) {
                let source: Arc<str> = format!("group:{name}").into();
                for g in grants.iter() {
                    entries.push((g.clone(), Arc::clone(&source)));
                }
            }
        }
        Rights { entries }
    }
}

/// An account's rights in one tenant: grants with their sources, in explanation order.
#[derive(Debug, Default)]
pub struct Rights {
    entries: Vec<(Grant, Arc<str>)>,
}

impl Rights {
    /// The first grant allowing `type:action` on `resource`, with its source.
    pub fn check(&self, kind: &str, action: &str, resource: &str) -> Option<(&Grant, &str)> {
        self.entries.iter().find(|(g, _)| g.matches(kind, action, resource)).map(|(g, s)| (g, &**s))
    }

    /// Whether one of these grants covers `grant`.
    pub fn covers(&self, grant: &Grant) -> bool {
        self.entries.iter().any(|(g, _)| g.covers(grant))
    }

    /// Whether these rights cover every grant of `other`.
    pub fn covers_all(&self, other: &Rights) -> bool {
        other.entries.iter().all(|(g, _)| self.covers(g))
    }

    /// These rights as a token with `scopes` may use them in `tenant`: each grant
    /// intersected with each scope that applies there, so a check or cover passes exactly when
    /// both the account and the scopes allow it.
    pub fn narrowed(&self, tenant: &str, scopes: &[Scope]) -> Rights {
        let applying: Vec<&Grant> =
            scopes.iter().filter(|s| s.tenant.as_deref().is_none_or(|t| t == tenant)).map(|s| &s.grant).collect();
        let mut entries = Vec::new();
        for (grant, source) in &self.entries {
            for scope in &applying {
                if let Some(g) = grant.intersect(scope) {
                    entries.push((g, Arc::clone(source)));
                }
            }
        }
        Rights { entries }
    }

    /// The grants and their sources.
    pub fn entries(&self) -> impl Iterator<Item = (&Grant, &str)> {
        self.entries.iter().map(|(g, s)| (g, &**s))
    }
}

/// A tenant's compiled policy and the compiled rights of its members.
#[derive(Debug)]
struct TenantEntry {
    tenant: Arc<CompiledTenant>,
    /// By membership key: the membership document's text, its uid, and the rights compiled
    /// from it. Comparing the text makes a hit cost one `memcmp` and no parsing, and stays
    /// right when a membership is removed and granted again (its version restarts).
    members: HashMap<String, (String, String, Arc<Rights>)>,
}

/// An account's rights in a tenant, and the uid its membership names.
#[derive(Debug, Clone)]
pub struct MemberRights {
    /// The rights, in explanation order.
    pub rights: Arc<Rights>,
    /// The uid the membership document names (it must equal the account's, R-06).
    pub uid: String,
}

/// Per-engine cache of compiled tenants (by document version) and of the data plane's member
/// rights (by document text). Bounded: at most `MAX_TENANTS` tenants and `MAX_MEMBERS` members
/// per tenant; past that it starts over, which costs a recompilation, never a wrong answer.
#[derive(Debug, Default)]
pub struct Cache {
    tenants: HashMap<String, TenantEntry>,
}

const MAX_TENANTS: usize = 10_000;
const MAX_MEMBERS: usize = 100_000;

impl Cache {
    fn fresh(&self, tenant: &str, version: u64) -> bool {
        self.tenants.get(tenant).is_some_and(|e| e.tenant.version == version)
    }

    fn insert(&mut self, doc: &TenantDoc, version: u64) {
        if self.tenants.len() >= MAX_TENANTS {
            self.tenants.clear();
        }
        let entry = TenantEntry { tenant: Arc::new(CompiledTenant::compile(doc, version)), members: HashMap::new() };
        self.tenants.insert(doc.tenant.clone(), entry);
    }

    /// The compiled form of a tenant document at `version`.
    pub fn tenant(&mut self, doc: &TenantDoc, version: u64) -> Arc<CompiledTenant> {
        if !self.fresh(&doc.tenant, version) {
            self.insert(doc, version);
        }
        match self.tenants.get(&doc.tenant) {
            Some(entry) => Arc::clone(&entry.tenant),
            None => Arc::new(CompiledTenant::compile(doc, version)),
        }
    }

    /// An account's rights from parsed documents (admin paths: not cached per member).
    pub fn rights(&mut self, doc: &TenantDoc, version: u64, m: &MembershipDoc) -> Rights {
        self.tenant(doc, version).rights(m)
    }

    /// An account's rights in `tenant` from the stored documents as read (the data plane): the
    /// tenant document is parsed only when its version is new to the cache, the membership only
    /// when its text is.
    pub fn member_rights(&mut self, tenant: &str, t: &Versioned, m_key: &str, m: &Versioned) -> Result<MemberRights> {
        if !self.fresh(tenant, t.version) {
            let doc: TenantDoc = parse(&tenant_key(tenant), &t.value)?;
            self.insert(&doc, t.version);
        }
        let Some(entry) = self.tenants.get_mut(tenant) else {
            return Err(Error::internal("compiled tenant missing from the cache"));
        };
        if let Some((text, uid, rights)) = entry.members.get(m_key) {
            if *text == m.value {
                return Ok(MemberRights { rights: Arc::clone(rights), uid: uid.clone() });
            }
        }
        let membership: MembershipDoc = parse(m_key, &m.value)?;
        let rights = Arc::new(entry.tenant.rights(&membership));
        if entry.members.len() >= MAX_MEMBERS {
            entry.members.clear();
        }
        entry.members.insert(m_key.to_owned(), (m.value.clone(), membership.uid.clone(), Arc::clone(&rights)));
        Ok(MemberRights { rights, uid: membership.uid })
    }
}

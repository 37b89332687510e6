//! `make demo`: a tenant, a service account and a token on the built-in store; the token is
//! verified, rotated and revoked, and each decision is printed with its explanation; then a
//! cross-tenant grant, a filtered listing and the audit trail.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use keyward_core::*;

/// The host's side: the wall clock and the OS CSPRNG.
struct Host;

impl Environment for Host {
    fn now(&self) -> i64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
    }
    fn seed(&self) -> [u8; 32] {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).expect("the OS has a CSPRNG");
        seed
    }
}

fn show(what: &str, d: &Decision) {
    let why = match &d.matched {
        Some(m) => format!("{} on {} from {}", m.permission, m.resource, m.source),
        None => "no grant".to_owned(),
    };
    println!("  {what:<44} -> {:<5} {:<20} ({why})", d.allowed, d.reason);
}

fn verify(kw: &Keyward<MemoryStore, Host>, token: &str, permission: &str) -> Decision {
    verify_in(kw, token, "acme", permission)
}

fn verify_in(kw: &Keyward<MemoryStore, Host>, token: &str, tenant: &str, permission: &str) -> Decision {
    kw.run(Verify {
        token: token.into(),
        tenant: tenant.into(),
        permission: permission.into(),
        resource: "*".into(),
        channel: Channel::Api,
    })
    .expect("verify answers")
}

fn main() -> Result<()> {
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&seen);
    let kw = Keyward::new(Options::default(), MemoryStore::new(), Host)?.with_audit(move |_| {
        counter.fetch_add(1, Ordering::Relaxed);
    });
    let root = "root@acme.test".to_owned();

    println!("1. a tenant with its first admin");
    kw.run(CreateTenant {
        tenant: "acme".into(),
        admin: root.clone(),
        name: Some("Acme Corp".into()),
        settings: None,
    })?;

    println!("2. a service account with the built-in `inference-user` role");
    let bot = kw.run(CreateServiceAccount {
        actor: root.clone().into(),
        tenant: "acme".into(),
        name: "support-bot-prod".into(),
        description: Some("answers support tickets".into()),
        role: Some("inference-user".into()),
        grants: vec![],
        password: None,
    })?;
    println!("  principal {} (id {}, kind {:?})", bot.principal, bot.id, bot.kind);

    println!("3. a token, shown once");
    let created = kw.run(CreateToken {
        actor: root.clone().into(),
        principal: bot.principal.clone(),
        name: Some("prod key".into()),
        ttl_days: Some(90),
        expires_at: None,
        never_expires: false,
        scopes: None,
    })?;
    let shown: String = created.token.chars().take(20).collect();
    println!("  token {shown}… (id {})", created.info.token_id);

    println!("4. decisions");
    show("models:execute", &verify(&kw, &created.token, "models:execute"));
    show("models:write", &verify(&kw, &created.token, "models:write"));
    show("accounts:write (administration)", &verify(&kw, &created.token, "accounts:write"));
    let identity = kw.run(Authenticate { token: created.token.clone().into(), channel: Channel::Ui });
    let outcome = identity.err().map(|e| e.code()).unwrap_or("ok");
    println!("  {:<44} -> {outcome}", "sign-in on the web (`ui` channel)");

    println!("5. rotation with a one-hour grace period");
    let rotated = kw.run(RotateToken {
        actor: root.clone().into(),
        principal: bot.principal.clone(),
        token_id: created.info.token_id.clone(),
        grace_seconds: Some(3600),
    })?;
    show("old token, within the grace period", &verify(&kw, &created.token, "models:execute"));
    show("new token", &verify(&kw, &rotated.token, "models:execute"));

    println!("6. revoking the old token");
    kw.run(RevokeToken {
        actor: root.clone().into(),
        principal: bot.principal.clone(),
        token_id: created.info.token_id.clone(),
    })?;
    show("old token", &verify(&kw, &created.token, "models:execute"));
    show("new token", &verify(&kw, &rotated.token, "models:execute"));

    println!("7. the account's tokens (metadata only)");
    for t in kw.run(ListTokens { actor: root.clone().into(), principal: bot.principal.clone() })? {
        println!("  {} {:<10} revoked: {}", t.token_id, t.name, t.revoked_at.is_some());
    }

    println!("8. cross-tenant: a customer tenant lets Acme's bot read there (MSP automation)");
    let customer = "ops@globex.test".to_owned();
    kw.run(CreateTenant {
        tenant: "globex".into(),
        admin: customer.clone(),
        name: Some("Globex".into()),
        settings: None,
    })?;
    kw.run(GrantAccess {
        actor: customer.clone().into(),
        tenant: "globex".into(),
        principal: bot.principal.clone(),
        role: Some("viewer".into()),
        grants: vec![],
    })?;
    show("models:read in globex", &verify_in(&kw, &rotated.token, "globex", "models:read"));
    show("models:execute in globex", &verify_in(&kw, &rotated.token, "globex", "models:execute"));
    show("models:execute in acme (unchanged)", &verify(&kw, &rotated.token, "models:execute"));
    let denied = kw.run(DisableAccount { actor: customer.clone().into(), principal: bot.principal.clone() });
    println!("  {:<44} -> {}", "globex disables Acme's bot", denied.err().map(|e| e.code()).unwrap_or("ok"));

    println!("9. a filtered listing of acme");
    kw.run(CreateUser {
        actor: root.clone().into(),
        tenant: "acme".into(),
        email: "ann@acme.test".into(),
        name: Some("Ann".into()),
        role: Some("viewer".into()),
        mfa: true,
    })?;
    let filter = r#"service_account=true AND status="active""#;
    let page = kw.run(ListAccounts {
        actor: root.clone().into(),
        tenant: "acme".into(),
        filter: Some(filter.into()),
        page_size: None,
        page_token: None,
    })?;
    println!("  filter: {filter}");
    for a in page.accounts {
        println!("  {:<44} {:<8} roles {:?}", a.principal, a.status.as_str(), a.roles);
    }

    println!("10. acme's audit trail, newest first");
    let log = kw.run(AuditLog {
        actor: root.clone().into(),
        tenant: "acme".into(),
        filter: None,
        page_size: Some(20),
        page_token: None,
    })?;
    for e in log.events {
        let actor = e.actor.map(|a| format!("{} ({})", a.principal, a.kind)).unwrap_or_default();
        println!("  {:<24} {:<40} {:<8} by {actor}", e.action, e.target, e.outcome);
    }
    println!("  ({} events, decisions included, went to the audit callback)", seen.load(Ordering::Relaxed));
    Ok(())
}

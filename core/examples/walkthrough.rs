//! `make demo`: a tenant, a service account and a token on the built-in store; the token is
//! verified, rotated and revoked, and each decision is printed with its explanation.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

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
    kw.run(Verify {
        token: token.into(),
        tenant: "acme".into(),
        permission: permission.into(),
        resource: "*".into(),
        channel: Channel::Api,
    })
    .expect("verify answers")
}

fn main() -> Result<()> {
    let kw = Keyward::new(Options::default(), MemoryStore::new(), Host)?
        .with_audit(|e| println!("  audit: {:<24} {:<48} {}", e.action, e.target, e.outcome));
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
        actor: root.clone(),
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
        actor: root.clone(),
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
    println!(
        "  sign-in on the web (`ui` channel)              -> {}",
        identity.err().map(|e| e.code()).unwrap_or("ok")
    );

    println!("5. rotation with a one-hour grace period");
    let rotated = kw.run(RotateToken {
        actor: root.clone(),
        principal: bot.principal.clone(),
        token_id: created.info.token_id.clone(),
        grace_seconds: Some(3600),
    })?;
    show("old token, within the grace period", &verify(&kw, &created.token, "models:execute"));
    show("new token", &verify(&kw, &rotated.token, "models:execute"));

    println!("6. revoking the old token");
    kw.run(RevokeToken {
        actor: root.clone(),
        principal: bot.principal.clone(),
        token_id: created.info.token_id.clone(),
    })?;
    show("old token", &verify(&kw, &created.token, "models:execute"));
    show("new token", &verify(&kw, &rotated.token, "models:execute"));

    println!("7. the account's tokens (metadata only)");
    for t in kw.run(ListTokens { actor: root.clone(), principal: bot.principal.clone() })? {
        println!("  {} {:<10} revoked: {}", t.token_id, t.name, t.revoked_at.is_some());
    }
    Ok(())
}

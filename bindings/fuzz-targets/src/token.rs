//! Target `token`: the token format and `verify`/`authenticate` with an arbitrary
//! presented token against an engine whose store holds real tokens.

use keyward_core::tokens::format;
use keyward_core::{Answer, Call, Error};
use serde_json::json;

use crate::input::Input;
use crate::world::{engine, env, world};

/// Whether `body` is `kw_<12 base62>_<32 base62>`, written out independently of the parser.
fn well_shaped(body: &str) -> bool {
    let parts: Vec<&str> = body.split('_').collect();
    let b62 = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_alphanumeric());
    matches!(parts.as_slice(), ["kw", id, secret] if b62(id, format::ID_LEN) && b62(secret, format::SECRET_LEN))
}

/// Error codes an honest store leaves to a presented token: never `internal` or `store_error`.
fn credential_error(e: &Error) -> bool {
    !matches!(e.code(), "internal" | "store_error")
}

/// The first byte chooses: bit 0, append the right checksum to the text (so the fuzzer gets
/// past the CRC and reaches the store); bits 1-2, the operation; bit 3, a staleness window and
/// the same call twice (the second answered from the window, R-16). The rest is the token.
pub fn token(data: &[u8]) {
    let w = world();
    let mut input = Input::new(data);
    let mode = input.byte();
    let body = input.rest_text();
    let mut text = body.clone();
    if mode & 1 == 1 {
        text.extend(format::checksum(&body).iter().map(|&b| char::from(b)));
    }

    // the parser accepts exactly what `assemble` makes.
    let parsed = format::parse(&text, "kw");
    match &parsed {
        Ok(p) => {
            assert_eq!(format::assemble("kw", p.id, p.secret), text, "parse accepted a token assemble does not make")
        }
        Err(e) => assert_eq!(e.code(), "invalid_credentials", "a malformed token is invalid_credentials"),
    }
    if mode & 1 == 1 {
        assert_eq!(parsed.is_ok(), well_shaped(&body), "a well-shaped body with its checksum parses");
    }
    let secret = parsed.as_ref().ok().map(|p| p.secret.to_owned());

    let (op, args) = match (mode >> 1) & 3 {
        0 => ("verify", json!({"token": text, "tenant": "acme", "permission": "models:read"})),
        1 => ("verify", json!({"token": text, "tenant": "beta", "permission": "models:read", "channel": "ui"})),
        2 => ("authenticate", json!({"token": text})),
        _ => (
            "verify",
            json!({"token": text, "tenant": "acme", "permission": "models:write", "resource": "models/gpt-4"}),
        ),
    };
    let Ok(call) = Call::from_json(json!({"op": op, "args": args})) else { return };
    let twice = mode & 8 == 8;
    let engine = engine(if twice { 60_000 } else { 0 });
    let store = w.store();
    let mut first: Option<(bool, String)> = None;
    for round in 0..if twice { 2 } else { 1 } {
        let (answer, events) = engine.run(&store, call.clone(), env(100 + round));
        let outcome = match &answer {
            Ok(Answer::Decision(d)) => {
                // nothing but a token the engine issued is ever allowed.
                assert!(!d.allowed || w.all_tokens.contains(&text), "a forged token was allowed");
                (d.allowed, d.reason.clone())
            }
            Ok(Answer::Identity(i)) => {
                assert!(w.all_tokens.contains(&text), "a forged token authenticated");
                (true, i.principal.clone())
            }
            Ok(_) => (false, "unexpected answer".into()),
            Err(e) => {
                assert!(credential_error(e), "an honest store gave {}: {e}", e.code());
                (false, e.code().into())
            }
        };
        // the secret never appears in events, answers or errors.
        if let Some(secret) = &secret {
            let shown = format!(
                "{}{}",
                serde_json::to_string(&events).unwrap_or_default(),
                match &answer {
                    Ok(a) => serde_json::to_string(a).unwrap_or_default(),
                    Err(e) => format!("{e} {}", serde_json::to_string(&e.to_data()).unwrap_or_default()),
                }
            );
            assert!(!shown.contains(secret.as_str()), "a token secret was echoed");
        }
        match &first {
            None => first = Some(outcome),
            // within the window, the same call on an unchanged store answers the same.
            Some(f) => assert_eq!(f, &outcome, "a decision from the staleness window differs"),
        }
    }
}

/// Seeds: every real token in each mode, and the bodies (without checksum) of a few.
pub fn seeds() -> Vec<Vec<u8>> {
    let w = world();
    let mut out = Vec::new();
    for (i, t) in w.all_tokens.iter().enumerate() {
        out.push([&[(i as u8 % 4) << 1], t.as_bytes()].concat());
        let body = &t[..t.len().saturating_sub(format::CHECK_LEN)];
        out.push([&[1 | ((i as u8 % 4) << 1) | 8], body.as_bytes()].concat());
    }
    out.push(b"\x00kw_".to_vec());
    out
}

//! The bodies of Keyward's fuzz targets (issue 11): `cargo fuzz` runs them from `fuzz/`, and
//! `tests/replay.rs` replays the committed corpus through them on stable Rust.
//!
//! Each target takes arbitrary bytes and must return: a panic (an assertion below, or one in
//! the engine), a hang or an overflow is a finding. Every choice a target makes comes from the
//! bytes, and the engine's time and randomness are fixed, so an input replays the same way.

pub mod documents;
pub mod filter;
pub mod input;
pub mod steps;
pub mod token;
pub mod world;

pub use documents::documents;
pub use filter::filter;
pub use steps::steps;
pub use token::token;

/// A target's body.
pub type Target = fn(&[u8]);

/// The targets by name, as `fuzz/fuzz_targets/` and `fuzz/corpus/` name them.
pub const TARGETS: [(&str, Target); 4] =
    [("token", token), ("filter", filter), ("documents", documents), ("steps", steps)];

/// Seed inputs per target, before minimisation.
pub fn seeds(target: &str) -> Vec<Vec<u8>> {
    match target {
        "token" => token::seeds(),
        "filter" => filter::seeds(),
        "documents" => documents::seeds(),
        "steps" => steps::seeds(),
        _ => Vec::new(),
    }
}

/// A broken property: the fuzzer's finding.
#[allow(clippy::panic)]
pub fn finding(what: &str) -> ! {
    panic!("{what}")
}

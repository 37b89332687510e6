//! A secret argument (token or password): serialised as a plain string, but never shown by
//! `Debug`.

use serde::{Deserialize, Serialize};

/// A token or password handed to the engine. `Debug` prints `<redacted>`.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Secret {
        Secret(secret.into())
    }

    /// The secret itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Secret {
        Secret(s)
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Secret {
        Secret(s.to_owned())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn r82_debug_never_shows_the_secret() {
        let s = super::Secret::from("kw_abc_hunter2");
        assert_eq!(format!("{s:?}"), "<redacted>");
        assert_eq!(s.expose(), "kw_abc_hunter2");
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"kw_abc_hunter2\"");
    }
}

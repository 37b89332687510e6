//! Documents the data plane parsed, kept by key with the text they were parsed from, so an
//! unchanged document is never parsed twice (DESIGN.md, "A data plane of its own").
//!
//! An entry answers only for the same version *and* the same text: a key deleted and written
//! again may start its versions afresh in some stores, and an account re-created under its name
//! must never be seen with its predecessor's uid. Comparing the text costs one `memcmp`,
//! far less than parsing it.

use std::collections::HashMap;
use std::sync::Arc;

use serde::de::DeserializeOwned;

use crate::error::Result;
use crate::op::parse;
use crate::store::Versioned;

/// Beyond this many documents the cache starts afresh: memory stays bounded however many tokens
/// pass through (a round-robin over more tokens than this parses each one again).
pub const CAPACITY: usize = 100_000;

struct Entry<T> {
    version: u64,
    text: String,
    doc: Arc<T>,
}

/// Parsed documents of one type, by key.
pub(crate) struct ParsedDocs<T> {
    entries: HashMap<String, Entry<T>>,
}

impl<T> Default for ParsedDocs<T> {
    fn default() -> Self {
        ParsedDocs { entries: HashMap::new() }
    }
}

impl<T: DeserializeOwned> ParsedDocs<T> {
    /// The document stored at `key` as `stored`, parsed now or earlier.
    pub fn get(&mut self, key: &str, stored: &Versioned) -> Result<Arc<T>> {
        if let Some(e) = self.entries.get(key) {
            if e.version == stored.version && e.text == stored.value {
                return Ok(Arc::clone(&e.doc));
            }
        }
        let doc = Arc::new(parse::<T>(key, &stored.value)?);
        if self.entries.len() >= CAPACITY {
            self.entries.clear();
        }
        let entry = Entry { version: stored.version, text: stored.value.clone(), doc: Arc::clone(&doc) };
        self.entries.insert(key.to_owned(), entry);
        Ok(doc)
    }
}

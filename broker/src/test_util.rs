//! Helpers shared by the unit tests of several modules.

use std::collections::BTreeMap;

/// A config map from `(key, value)` pairs.
pub fn string_map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

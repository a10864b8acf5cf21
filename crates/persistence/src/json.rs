//! JSON kept in text columns (permissions, events, repository lists): one reader, so that
//! malformed stored data fails the same way everywhere, as [`StoreError::Corrupt`] naming
//! what could not be read.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::StoreError;

/// Reads `what` (e.g. `"installation events"`) from its stored text.
pub(crate) fn parse<T: DeserializeOwned>(what: &str, text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

/// The stored text of `value`.
pub(crate) fn text<T: Serialize + ?Sized>(what: &str, value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_text_is_corrupt_data_named_by_what_it_is() {
        let e = parse::<Vec<String>>("hook events", "[\"a\"");
        assert!(matches!(e, Err(StoreError::Corrupt(m)) if m.starts_with("hook events: ")));
        assert_eq!(
            parse::<Vec<String>>("x", "[\"a\"]").ok(),
            Some(vec!["a".to_owned()])
        );
        assert_eq!(text("x", &["a"]).ok().as_deref(), Some("[\"a\"]"));
    }
}

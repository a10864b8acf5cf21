//! A small map of values worth keeping between evaluations (compiled rule sets, the rule sets
//! Cedar is asked about, `datetime` values), bounded by emptying it when full: what was
//! dropped is built again when next needed.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;

/// Values by key, at most `most` of them.
#[derive(Debug)]
pub struct Kept<K, V> {
    map: Mutex<HashMap<K, V>>,
    most: usize,
}

impl<K: Eq + Hash, V: Clone> Kept<K, V> {
    pub fn new(most: usize) -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
            most,
        }
    }

    /// The value kept for `key`, or the one `make` builds, then kept. `make` runs without the
    /// lock held; an error is returned and nothing kept.
    pub fn get_or_try<Q, E>(&self, key: &Q, make: impl FnOnce() -> Result<V, E>) -> Result<V, E>
    where
        K: Borrow<Q>,
        Q: Eq + Hash + ToOwned<Owned = K> + ?Sized,
    {
        if let Some(value) = self.map.lock().ok().and_then(|m| m.get(key).cloned()) {
            return Ok(value);
        }
        let value = make()?;
        if let Ok(mut map) = self.map.lock() {
            if map.len() >= self.most {
                map.clear();
            }
            map.insert(key.to_owned(), value.clone());
        }
        Ok(value)
    }

    /// The same, for a value that cannot fail to build.
    pub fn get_or<Q>(&self, key: &Q, make: impl FnOnce() -> V) -> V
    where
        K: Borrow<Q>,
        Q: Eq + Hash + ToOwned<Owned = K> + ?Sized,
    {
        match self.get_or_try::<Q, std::convert::Infallible>(key, || Ok(make())) {
            Ok(value) => value,
            Err(never) => match never {},
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Kept;

    #[test]
    fn a_value_is_built_once_and_the_map_is_emptied_when_full() {
        let kept: Kept<String, usize> = Kept::new(2);
        let built = std::cell::Cell::new(0);
        let get = |key: &str| {
            kept.get_or(key, || {
                built.set(built.get() + 1);
                key.len()
            })
        };
        assert_eq!((get("a"), get("a"), get("bb")), (1, 1, 2));
        assert_eq!(built.get(), 2);
        // Full: the third key empties the map, so "a" is built again.
        assert_eq!((get("ccc"), get("a")), (3, 1));
        assert_eq!(built.get(), 4);
        let failed: Result<usize, &str> = kept.get_or_try("dddd", || Err("no"));
        assert!(failed.is_err());
        assert_eq!(kept.get_or("dddd", || 4), 4);
    }
}

//! Verified installation tokens, kept by the SHA-256 digest of the token so that a token's signature is checked once; whether a token may still be used is decided on every request, by the caller.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use patgate_domain::PermissionSet;

use crate::keys::InstallationClaims;

/// Entries kept at most by default: far more than the tokens live at once in a deployment
/// (each lives an hour), and about 50 MB at worst.
pub const DEFAULT_CAPACITY: usize = 50_000;

/// The SHA-256 digest of a whole token (`ghs_…`), the only form in which the cache holds it.
pub type TokenDigest = [u8; 32];

/// The digest a token is cached under.
pub fn digest(token: &str) -> TokenDigest {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// What a token's verification established: its claims and the permissions they hold.
#[derive(Debug)]
pub struct VerifiedToken {
    pub claims: InstallationClaims,
    pub permissions: PermissionSet,
}

/// Tokens whose signature, issuer and audience verified. An entry says nothing about whether
/// the token may still be used: expiry, revocation and suspension are checked on every
/// request, hit or miss.
#[derive(Debug)]
pub struct TokenCache {
    // Keyed by the digest, never the token: the cache holds nothing that authenticates. The
    // map compares digests, whose timing tells nothing useful about any token.
    entries: RwLock<HashMap<TokenDigest, Arc<VerifiedToken>>>,
    capacity: usize,
}

impl Default for TokenCache {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY)
    }
}

impl TokenCache {
    /// An empty cache that keeps at most `capacity` tokens (at least one).
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: RwLock::new(HashMap::new()),
            capacity: capacity.max(1),
        }
    }

    /// The verified token with this digest, if cached.
    pub fn get(&self, digest: &TokenDigest) -> Option<Arc<VerifiedToken>> {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        entries.get(digest).cloned()
    }

    /// Caches a verified token. When the cache is full, tokens expired at `now` are dropped
    /// first and, if that is not enough, every token: they are verified again when next
    /// presented, so this costs time, never correctness.
    pub fn insert(&self, digest: TokenDigest, token: Arc<VerifiedToken>, now: i64) {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= self.capacity && !entries.contains_key(&digest) {
            entries.retain(|_, t| t.claims.exp > now);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(digest, token);
    }

    /// How many tokens are cached.
    pub fn len(&self) -> usize {
        self.entries.read().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn token(jti: &str, exp: i64) -> Arc<VerifiedToken> {
        Arc::new(VerifiedToken {
            claims: InstallationClaims {
                iss: "patgate".into(),
                aud: "patgate:installation".into(),
                sub: "1".into(),
                app: 1,
                inst: 1,
                org: 1,
                perms: BTreeMap::new(),
                iat: exp - 3600,
                exp,
                jti: jti.into(),
            },
            permissions: PermissionSet::default(),
        })
    }

    #[test]
    fn the_digest_is_sha256_of_the_whole_token() {
        let d = digest("ghs_abc");
        assert_ne!(d, digest("ghs_abd"));
        assert_eq!(d, digest("ghs_abc"));
        // SHA-256("abc"), the FIPS 180-2 test vector.
        let abc = digest("abc");
        assert_eq!(abc[..4], [0xba, 0x78, 0x16, 0xbf]);
        assert_eq!(abc[28..], [0xf2, 0x00, 0x15, 0xad]);
    }

    #[test]
    fn a_cached_token_is_found_by_its_digest_only() {
        let cache = TokenCache::new(10);
        let t = token("a", 1_000);
        cache.insert(digest("ghs_a"), Arc::clone(&t), 0);
        let hit = cache.get(&digest("ghs_a")).expect("cached");
        assert!(Arc::ptr_eq(&hit, &t));
        assert!(cache.get(&digest("ghs_b")).is_none());
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn a_full_cache_drops_expired_tokens_first() {
        let cache = TokenCache::new(3);
        cache.insert(digest("old1"), token("old1", 100), 0);
        cache.insert(digest("live"), token("live", 10_000), 0);
        cache.insert(digest("old2"), token("old2", 200), 0);
        // Full at time 500: both expired tokens go, the live one stays.
        cache.insert(digest("new"), token("new", 10_000), 500);
        assert_eq!(cache.len(), 2);
        assert!(cache.get(&digest("live")).is_some());
        assert!(cache.get(&digest("new")).is_some());
        assert!(cache.get(&digest("old1")).is_none());
    }

    #[test]
    fn a_cache_full_of_live_tokens_starts_over() {
        let cache = TokenCache::new(2);
        cache.insert(digest("a"), token("a", 10_000), 0);
        cache.insert(digest("b"), token("b", 10_000), 0);
        cache.insert(digest("c"), token("c", 10_000), 0);
        assert_eq!(cache.len(), 1);
        assert!(cache.get(&digest("c")).is_some());
        // Replacing a present entry never evicts.
        cache.insert(digest("d"), token("d", 10_000), 0);
        cache.insert(digest("d"), token("d", 10_000), 0);
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn a_token_expired_in_the_cache_is_still_returned_for_the_caller_to_refuse() {
        // Expiry is the caller's check, made on every request: the cache only remembers the
        // verification.
        let cache = TokenCache::new(10);
        cache.insert(digest("t"), token("t", 100), 0);
        let hit = cache.get(&digest("t")).expect("cached");
        assert!(hit.claims.exp <= 100);
    }
}

//! What every handler shares: the database, the signing keys, the verified-token cache, the revocations in force, the instance's readiness, and the public base URL.

use std::sync::Arc;

use patgate_persistence::Db;

use crate::auth::cache::TokenCache;
use crate::auth::revocation::Revocations;
use crate::health::Readiness;
use crate::keys::ServerKeys;
use crate::rate_limit::RateLimiter;
use crate::responses::ResponseCache;

#[derive(Debug, Clone)]
pub struct AppState {
    pub db: Db,
    pub keys: Arc<ServerKeys>,
    /// Installation tokens whose signature verified, so that it is verified once per token.
    pub tokens: Arc<TokenCache>,
    /// Revoked tokens and suspended installations, checked on every request.
    pub revocations: Arc<Revocations>,
    /// Answers kept for repeated reads, valid while their organization's data is unchanged.
    pub responses: Arc<ResponseCache>,
    /// Each installation's and app's requests in the current hour.
    pub limits: Arc<RateLimiter>,
    /// What `/readyz` reports besides the database: starting, serving or shutting down, and
    /// whether the background tasks run.
    pub readiness: Arc<Readiness>,
    /// The URL clients reach the server at, without a trailing slash; used in `*_url` fields
    /// and `Link` headers.
    pub base_url: String,
}

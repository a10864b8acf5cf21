//! What every handler shares: the database, the signing keys, and the public base URL.

use std::sync::Arc;

use patgate_persistence::Db;

use crate::keys::ServerKeys;

#[derive(Debug, Clone)]
pub struct AppState {
    pub db: Db,
    pub keys: Arc<ServerKeys>,
    /// The URL clients reach the server at, without a trailing slash; used in `*_url` fields
    /// and `Link` headers.
    pub base_url: String,
}

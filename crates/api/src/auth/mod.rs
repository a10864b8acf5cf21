//! Authentication extractors: an app (by its JWT) or an installation (by its access token) becomes a principal; handlers never read tokens.

pub mod app_jwt;
pub mod cache;
pub mod revocation;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use patgate_domain::{
    classify, parse_authorization, AuthScheme, CredentialKind, Operation, PermissionSet,
};
use patgate_metrics::Refused;
use patgate_persistence::directory;
use patgate_persistence::models::App;

use crate::error::ApiError;
use crate::keys::InstallationClaims;
use crate::rate_limit;
use crate::state::AppState;

use self::cache::VerifiedToken;
use self::revocation::Refusal;

/// GitHub's answer to a suspended installation's credentials.
pub const SUSPENDED_MESSAGE: &str = "This installation has been suspended";

/// An app that proved itself with a JWT signed by one of its registered keys.
#[derive(Debug, Clone)]
pub struct AppCaller {
    pub app: App,
}

/// An installation that presented a valid access token issued by this server: not expired,
/// not revoked, its installation not suspended.
#[derive(Debug, Clone)]
pub struct InstallationCaller {
    token: Arc<VerifiedToken>,
}

impl InstallationCaller {
    pub fn claims(&self) -> &InstallationClaims {
        &self.token.claims
    }

    pub fn permissions(&self) -> &PermissionSet {
        &self.token.permissions
    }

    pub fn installation_id(&self) -> i64 {
        self.token.claims.inst
    }

    pub fn app_id(&self) -> i64 {
        self.token.claims.app
    }

    pub fn org_id(&self) -> i64 {
        self.token.claims.org
    }

    /// Who acts, as the audit trail records it: the app and its installation.
    pub fn actor(&self) -> (i64, i64) {
        (self.app_id(), self.installation_id())
    }

    /// Refuses the operation unless the token holds its permission at its level.
    pub fn authorize(&self, op: Operation) -> Result<(), ApiError> {
        if op.is_allowed_by(&self.token.permissions) {
            Ok(())
        } else {
            let (key, level) = op.required();
            Err(ApiError::MissingPermission {
                accepted: format!("{key}={level}"),
            })
        }
    }
}

/// Counts a refused credential in the metrics, by its kind or the reason; the refusal.
fn refuse(kind: Refused, refusal: ApiError) -> ApiError {
    patgate_metrics::credential_refused(kind);
    refusal
}

/// The metrics' name for a kind of credential these endpoints never accept, or another
/// credential that is not one of patgate's.
fn refused_as(kind: CredentialKind) -> Refused {
    match kind {
        CredentialKind::ClassicPat => Refused::ClassicPat,
        CredentialKind::FineGrainedPat => Refused::FineGrainedPat,
        CredentialKind::OAuth => Refused::OauthToken,
        CredentialKind::UserToServer => Refused::UserToken,
        CredentialKind::Refresh => Refused::RefreshToken,
        CredentialKind::ForeignInstallation => Refused::ForeignInstallationToken,
        CredentialKind::Installation => Refused::BadInstallationToken,
        CredentialKind::AppJwt => Refused::BadAppJwt,
        CredentialKind::Unknown => Refused::Unknown,
    }
}

fn authorization(req: &HttpRequest) -> Result<(AuthScheme, String), ApiError> {
    let value = req.headers().get(header::AUTHORIZATION).ok_or_else(|| {
        refuse(
            Refused::Missing,
            ApiError::unauthorized("Requires authentication"),
        )
    })?;
    let malformed = || {
        refuse(
            Refused::Malformed,
            ApiError::unauthorized("Bad credentials"),
        )
    };
    let text = value.to_str().map_err(|_| malformed())?;
    let (scheme, credential) = parse_authorization(text).ok_or_else(malformed)?;
    Ok((scheme, credential.to_owned()))
}

fn state(req: &HttpRequest) -> Result<web::Data<AppState>, ApiError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError::internal(std::io::Error::other("application state missing")))
}

fn refused_kind(kind: CredentialKind) -> ApiError {
    refuse(
        refused_as(kind),
        ApiError::forbidden(format!("Resource not accessible by {}", kind.describe())),
    )
}

/// Verifies an app JWT against the app's registered keys (a database read).
async fn verify_app_jwt(state: &web::Data<AppState>, jwt: String) -> Result<App, ApiError> {
    let bad =
        |e: app_jwt::AppJwtError| refuse(Refused::BadAppJwt, ApiError::unauthorized(e.to_string()));
    let issuer = app_jwt::unverified_issuer(&jwt).map_err(bad)?;
    let db = state.db.clone();
    let now = chrono::Utc::now().timestamp();
    web::block(move || -> Result<App, ApiError> {
        let mut conn = db.conn()?;
        let undecodable = || bad(app_jwt::AppJwtError::Undecodable);
        let app = directory::app_by_issuer(&mut conn, &issuer)?.ok_or_else(undecodable)?;
        let keys = directory::app_public_keys(&mut conn, app.id)?;
        app_jwt::verify(&jwt, &keys, now).map_err(bad)?;
        Ok(app)
    })
    .await?
}

/// The future of a credential's extractor: the request's `Authorization` (its scheme and
/// credential) and the state, then `resolve` of them.
fn extract<T, F, Fut>(req: &HttpRequest, resolve: F) -> Extracted<T>
where
    F: FnOnce(web::Data<AppState>, HttpRequest, AuthScheme, String) -> Fut + 'static,
    Fut: Future<Output = Result<T, ApiError>> + 'static,
{
    let parsed = authorization(req).and_then(|auth| Ok((state(req)?, auth)));
    let req = req.clone();
    Box::pin(async move {
        let (state, (scheme, credential)) = parsed?;
        resolve(state, req, scheme, credential).await
    })
}

type Extracted<T> = Pin<Box<dyn Future<Output = Result<T, ApiError>>>>;

impl FromRequest for AppCaller {
    type Error = ApiError;
    type Future = Extracted<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        extract(req, |state, req, scheme, credential| async move {
            let app = app_caller(&state, scheme, &credential).await?;
            req.extensions_mut().insert(Identified {
                app_id: app.id,
                installation_id: None,
                org_id: None,
            });
            count(&state, &req, rate_limit::Caller::App(app.id))?;
            Ok(AppCaller { app })
        })
    }
}

/// The app behind an `Authorization` header's scheme and credential, or the refusal GitHub
/// gives.
async fn app_caller(
    state: &web::Data<AppState>,
    scheme: AuthScheme,
    credential: &str,
) -> Result<App, ApiError> {
    if !matches!(scheme, AuthScheme::Bearer | AuthScheme::Token) {
        return Err(refuse(
            Refused::Malformed,
            ApiError::unauthorized("Bad credentials"),
        ));
    }
    let classified = classify(credential);
    match (classified.kind, classified.jwt) {
        (CredentialKind::AppJwt, Some(jwt)) if scheme == AuthScheme::Bearer => {
            verify_app_jwt(state, jwt.to_owned()).await
        }
        (CredentialKind::AppJwt, _) => Err(refuse(
            Refused::Malformed,
            ApiError::unauthorized("An app JWT must be sent as 'Authorization: Bearer <JWT>'"),
        )),
        (CredentialKind::Installation, _) => Err(refuse(
            Refused::InstallationTokenForApp,
            ApiError::forbidden(
                "This endpoint requires the app's JWT, not an installation access token",
            ),
        )),
        (kind, _) if kind.is_refused_kind() => Err(refused_kind(kind)),
        (kind, _) => Err(refuse(
            refused_as(kind),
            ApiError::unauthorized(app_jwt::AppJwtError::Undecodable.to_string()),
        )),
    }
}

impl FromRequest for InstallationCaller {
    type Error = ApiError;
    type Future = Extracted<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        extract(req, |state, req, scheme, credential| async move {
            let caller = installation_caller(&state, scheme, &credential).await?;
            req.extensions_mut().insert(Identified {
                app_id: caller.app_id(),
                installation_id: Some(caller.installation_id()),
                org_id: Some(caller.org_id()),
            });
            if req.match_pattern().as_deref() != Some(UNCOUNTED_ROUTE) {
                let counted = rate_limit::Caller::Installation(caller.installation_id());
                count(&state, &req, counted)?;
            }
            Ok(caller)
        })
    }
}

/// Who a request was authenticated as, kept in its extensions for the access log: ids only,
/// never the credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identified {
    pub app_id: i64,
    pub installation_id: Option<i64>,
    pub org_id: Option<i64>,
}

/// The access check, which resource servers call for every request they serve, is not
/// counted against the installation's rate limit (and most of its answers come from memory).
pub const UNCOUNTED_ROUTE: &str = "/orgs/{org}/personal-access-token-access-checks";

/// Counts the request against the caller's hourly limit, and refuses it past the limit. The
/// caller's quota goes into the request's extensions, for the middleware to send as
/// `X-RateLimit-*` headers on the answer, whatever it is.
fn count(state: &AppState, req: &HttpRequest, caller: rate_limit::Caller) -> Result<(), ApiError> {
    match state.limits.take(caller, chrono::Utc::now().timestamp()) {
        Ok(None) => Ok(()),
        Ok(Some(quota)) => {
            req.extensions_mut().insert(quota);
            Ok(())
        }
        Err(quota) => {
            req.extensions_mut().insert(quota);
            patgate_metrics::rate_limited(match caller {
                rate_limit::Caller::Installation(_) => patgate_metrics::Limited::Installation,
                rate_limit::Caller::App(_) => patgate_metrics::Limited::App,
            });
            Err(ApiError::RateLimited(caller.exceeded()))
        }
    }
}

/// The installation behind an `Authorization` header's scheme and credential, or the
/// refusal GitHub gives.
async fn installation_caller(
    state: &web::Data<AppState>,
    scheme: AuthScheme,
    credential: &str,
) -> Result<InstallationCaller, ApiError> {
    if !matches!(scheme, AuthScheme::Bearer | AuthScheme::Token) {
        return Err(refuse(
            Refused::Malformed,
            ApiError::unauthorized("Bad credentials"),
        ));
    }
    let now = chrono::Utc::now().timestamp();
    // A cached credential is an installation token that verified: no need to classify it.
    let digest = cache::digest(credential);
    if let Some(verified) = state.tokens.get(&digest) {
        return admit(state, verified, now);
    }
    let classified = classify(credential);
    match (classified.kind, classified.jwt) {
        (CredentialKind::Installation, Some(jwt)) => {
            let bad = || {
                refuse(
                    Refused::BadInstallationToken,
                    ApiError::unauthorized("Bad credentials"),
                )
            };
            let claims = state.keys.verify(jwt).ok_or_else(bad)?;
            let permissions = PermissionSet::from_pairs(claims.perms.clone()).map_err(|_| bad())?;
            let verified = Arc::new(VerifiedToken {
                claims,
                permissions,
            });
            state.tokens.insert(digest, Arc::clone(&verified), now);
            admit(state, verified, now)
        }
        (CredentialKind::AppJwt, Some(jwt)) => {
            // A forged JWT is a bad credential; a genuine one is the wrong kind.
            verify_app_jwt(state, jwt.to_owned()).await?;
            Err(refuse(
                Refused::AppJwtForInstallation,
                ApiError::forbidden(
                    "An app JWT cannot call this endpoint: exchange it for an installation access token with POST /app/installations/{installation_id}/access_tokens",
                ),
            ))
        }
        (kind, _) if kind.is_refused_kind() => Err(refused_kind(kind)),
        (kind, _) => Err(refuse(
            refused_as(kind),
            ApiError::unauthorized("Bad credentials"),
        )),
    }
}

/// Admits a verified installation token (just verified, or cached) unless it has expired,
/// been revoked, or its installation is suspended: checked on every request, against memory
/// only.
fn admit(
    state: &AppState,
    verified: Arc<VerifiedToken>,
    now: i64,
) -> Result<InstallationCaller, ApiError> {
    // From its `exp` second on, as `token_expired` counts it.
    if verified.claims.exp <= now {
        return Err(refuse(
            Refused::ExpiredInstallationToken,
            ApiError::unauthorized("Bad credentials"),
        ));
    }
    match state
        .revocations
        .check(&verified.claims.jti, verified.claims.inst)
    {
        Ok(()) => Ok(InstallationCaller { token: verified }),
        Err(Refusal::Revoked) => Err(refuse(
            Refused::RevokedInstallationToken,
            ApiError::unauthorized("Bad credentials"),
        )),
        Err(Refusal::Suspended) => Err(refuse(
            Refused::SuspendedInstallation,
            ApiError::forbidden(SUSPENDED_MESSAGE),
        )),
    }
}

/// An installation when the request has an `Authorization` header, `None` when it has none.
/// A header that does not hold a valid installation token is refused as
/// [`InstallationCaller`] refuses it: GitHub answers a bad credential on any route.
#[derive(Debug, Clone)]
pub struct OptionalInstallation(pub Option<InstallationCaller>);

impl FromRequest for OptionalInstallation {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        if req.headers().contains_key(header::AUTHORIZATION) {
            let caller = InstallationCaller::from_request(req, payload);
            Box::pin(async move { Ok(Self(Some(caller.await?))) })
        } else {
            Box::pin(std::future::ready(Ok(Self(None))))
        }
    }
}

//! Ending installation access tokens before they expire: an installation revokes its own token, an app suspends or unsuspends its installation. Each takes effect on this instance at once and on the others at their next poll of the store.

use actix_web::{delete, put, web, HttpResponse};
use patgate_persistence::revocations;
use patgate_persistence::Touches;

use super::blocking;
use crate::auth::{AppCaller, InstallationCaller};
use crate::error::{ApiError, BasicError};
use crate::state::AppState;

/// Revoke an installation access token
///
/// Revokes the installation token you're using to authenticate as an installation and
/// access this endpoint. Once revoked, the token is refused (401 "Bad credentials") on every
/// endpoint, by every instance of the deployment; other tokens of the installation keep
/// working. Create a new token with `POST /app/installations/{installation_id}/access_tokens`.
#[utoipa::path(
    operation_id = "apps/revoke-installation-access-token",
    tag = "apps",
    responses(
        (status = 204, description = "Response"),
        (status = 401, description = "Requires authentication", body = BasicError),
        (status = 403, description = "Forbidden", body = BasicError),
    ),
    security(("installation_token" = []))
)]
#[delete("/installation/token")]
pub async fn revoke_installation_access_token(
    state: web::Data<AppState>,
    caller: InstallationCaller,
) -> Result<HttpResponse, ApiError> {
    let claims = caller.claims();
    let (installation_id, jti, exp) = (claims.inst, claims.jti.clone(), claims.exp);
    let expires_at = chrono::DateTime::from_timestamp(exp, 0)
        .ok_or_else(|| ApiError::internal(std::io::Error::other("token expiry out of range")))?
        .naive_utc();
    let db = state.db.clone();
    let logged_jti = jti.clone();
    blocking(move || {
        // Credentials are checked before any kept response is served: nothing kept is stale.
        db.write(Touches::Nothing, |conn| {
            revocations::revoke_token(
                conn,
                installation_id,
                &logged_jti,
                expires_at,
                patgate_persistence::now(),
            )
        })
        .map_err(ApiError::from)
    })
    .await?;
    state.revocations.revoke(&jti, exp);
    tracing::info!(
        app_id = caller.app_id(),
        installation_id,
        "installation token revoked"
    );
    Ok(HttpResponse::NoContent().finish())
}

/// Suspend an app installation
///
/// Suspends the app's installation: its access tokens are refused at once with 403 "This
/// installation has been suspended", and no new token can be created, until it is
/// unsuspended. Suspending a suspended installation changes nothing.
#[utoipa::path(
    operation_id = "apps/suspend-installation",
    tag = "apps",
    params(("installation_id" = i64, Path, description = "The unique identifier of the installation")),
    responses(
        (status = 204, description = "Response"),
        (status = 401, description = "Requires authentication", body = BasicError),
        (status = 403, description = "Forbidden", body = BasicError),
        (status = 404, description = "Resource not found", body = BasicError),
    ),
    security(("app_jwt" = []))
)]
#[put("/app/installations/{installation_id}/suspended")]
pub async fn suspend_installation(
    state: web::Data<AppState>,
    caller: AppCaller,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    set_suspended(&state, &caller, path.into_inner(), true).await
}

/// Unsuspend an app installation
///
/// Removes the suspension: the installation's tokens that have neither expired nor been
/// revoked work again. Unsuspending an installation that is not suspended changes nothing.
#[utoipa::path(
    operation_id = "apps/unsuspend-installation",
    tag = "apps",
    params(("installation_id" = i64, Path, description = "The unique identifier of the installation")),
    responses(
        (status = 204, description = "Response"),
        (status = 401, description = "Requires authentication", body = BasicError),
        (status = 403, description = "Forbidden", body = BasicError),
        (status = 404, description = "Resource not found", body = BasicError),
    ),
    security(("app_jwt" = []))
)]
#[delete("/app/installations/{installation_id}/suspended")]
pub async fn unsuspend_installation(
    state: web::Data<AppState>,
    caller: AppCaller,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    set_suspended(&state, &caller, path.into_inner(), false).await
}

/// Suspends or unsuspends one of the caller's installations (another app's is 404), then
/// applies the change here at once.
async fn set_suspended(
    state: &web::Data<AppState>,
    caller: &AppCaller,
    installation_id: i64,
    suspended: bool,
) -> Result<HttpResponse, ApiError> {
    let db = state.db.clone();
    let app_id = caller.app.id;
    let change = blocking(move || {
        // Credentials are checked before any kept response is served: nothing kept is stale.
        db.write(Touches::Nothing, |conn| {
            revocations::set_suspended(
                conn,
                app_id,
                installation_id,
                suspended,
                patgate_persistence::now(),
            )
        })
        .map_err(ApiError::from)
    })
    .await?;
    if let Some(change_id) = change {
        state
            .revocations
            .set_suspended(installation_id, suspended, change_id);
        tracing::info!(
            app_id,
            installation_id,
            suspended,
            "installation suspension changed"
        );
    }
    Ok(HttpResponse::NoContent().finish())
}

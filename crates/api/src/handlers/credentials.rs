//! Ending installation access tokens before they expire: an installation revokes its own token, an app suspends or unsuspends its installation. Each takes effect on this instance at once and on the others at their next poll of the store.

use actix_web::{delete, put, HttpResponse};
use patgate_persistence::revocations;
use patgate_persistence::Touches;

use super::errors::{AuthErrors, NotFoundErrors};
use super::params::InstallationPath;
use super::{write, AppCall, Call, Reply};
use crate::auth::AppCaller;
use crate::error::ApiError;
use crate::state::AppState;

/// Revoke an installation access token
///
/// Revokes the installation token you're using to authenticate as an installation and
/// access this endpoint. Once revoked, the token is refused (401 "Bad credentials") on every
/// endpoint, by every instance of the deployment; other tokens of the installation keep
/// working. Create a new token with `POST /app/installations/{installation_id}/access_tokens`.
#[utoipa::path(
    operation_id = "apps/revoke-installation-access-token", tag = "apps",
    responses((status = 204, description = "Response"), AuthErrors),
    security(("installation_token" = []))
)]
#[delete("/installation/token")]
pub async fn revoke_installation_access_token(call: Call) -> Reply {
    let claims = call.caller.claims();
    let (installation_id, jti, exp) = (claims.inst, claims.jti.clone(), claims.exp);
    let expires_at = chrono::DateTime::from_timestamp(exp, 0)
        .ok_or_else(|| ApiError::internal(std::io::Error::other("token expiry out of range")))?
        .naive_utc();
    let logged_jti = jti.clone();
    // Credentials are checked before any kept response is served: nothing kept is stale.
    write(&call.state, Touches::Nothing, move |conn| {
        let now = patgate_persistence::now();
        Ok(revocations::revoke_token(
            conn,
            installation_id,
            &logged_jti,
            expires_at,
            now,
        )?)
    })
    .await?;
    call.state.revocations.revoke(&jti, exp);
    tracing::info!(
        app_id = call.caller.app_id(),
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
    operation_id = "apps/suspend-installation", tag = "apps", params(InstallationPath),
    responses((status = 204, description = "Response"), NotFoundErrors),
    security(("app_jwt" = []))
)]
#[put("/app/installations/{installation_id}/suspended")]
pub async fn suspend_installation(call: AppCall<InstallationPath>) -> Reply {
    set_suspended(&call.state, &call.caller, call.path.installation_id, true).await
}

/// Unsuspend an app installation
///
/// Removes the suspension: the installation's tokens that have neither expired nor been
/// revoked work again. Unsuspending an installation that is not suspended changes nothing.
#[utoipa::path(
    operation_id = "apps/unsuspend-installation", tag = "apps", params(InstallationPath),
    responses((status = 204, description = "Response"), NotFoundErrors),
    security(("app_jwt" = []))
)]
#[delete("/app/installations/{installation_id}/suspended")]
pub async fn unsuspend_installation(call: AppCall<InstallationPath>) -> Reply {
    set_suspended(&call.state, &call.caller, call.path.installation_id, false).await
}

/// Suspends or unsuspends one of the caller's installations (another app's is 404), then
/// applies the change here at once.
async fn set_suspended(
    state: &AppState,
    caller: &AppCaller,
    installation_id: i64,
    suspended: bool,
) -> Result<HttpResponse, ApiError> {
    let app_id = caller.app.id;
    // Credentials are checked before any kept response is served: nothing kept is stale.
    let change = write(state, Touches::Nothing, move |conn| {
        let now = patgate_persistence::now();
        Ok(revocations::set_suspended(
            conn,
            app_id,
            installation_id,
            suspended,
            now,
        )?)
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

//! Authenticating as the app's installation: an RS256 app JWT, the organization's installation, and an installation access token.

use std::path::Path;
use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use patgate_client::Client;
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};
use serde_json::{json, Value};

use crate::error::{call, CliError};

/// The REST API version asked for, as GitHub's clients send it.
pub const API_VERSION: &str = "2022-11-28";
const USER_AGENT: &str = concat!("patgate-ci/", env!("CARGO_PKG_VERSION"));
/// GitHub refuses an app JWT that expires more than 10 minutes ahead; this leaves a minute.
const JWT_LIFETIME_SECS: i64 = 540;
/// `iat` in the past, so that a server whose clock is a little behind still accepts it.
const CLOCK_DRIFT_SECS: i64 = 60;

/// The app's id (or client id) and its private key. Its `Debug` never shows the key.
pub struct AppCredentials {
    app_id: String,
    key: EncodingKey,
}

impl std::fmt::Debug for AppCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppCredentials")
            .field("app_id", &self.app_id)
            .finish_non_exhaustive()
    }
}

impl AppCredentials {
    /// Reads the key from `key_file` if given, else takes the PEM in `key_pem`.
    pub fn load(
        app_id: String,
        key_file: Option<&Path>,
        key_pem: Option<String>,
    ) -> Result<AppCredentials, CliError> {
        let pem = match (key_file, key_pem) {
            (Some(path), _) => std::fs::read_to_string(path).map_err(|source| CliError::KeyFile {
                path: path.to_owned(),
                source,
            })?,
            (None, Some(pem)) => unescape_newlines(pem),
            (None, None) => {
                return Err(CliError::Usage(
                    "no private key: pass --private-key FILE, or set PATGATE_PRIVATE_KEY_FILE or PATGATE_PRIVATE_KEY".into(),
                ))
            }
        };
        let key = EncodingKey::from_rsa_pem(pem.as_bytes()).map_err(|_| CliError::Key)?;
        Ok(AppCredentials { app_id, key })
    }

    /// An app JWT valid from a minute ago for nine minutes, signed with the app's key.
    pub fn jwt(&self, now: i64) -> Result<String, CliError> {
        jsonwebtoken::encode(
            &Header::new(Algorithm::RS256),
            &app_claims(&self.app_id, now),
            &self.key,
        )
        .map_err(|_| CliError::Key)
    }
}

/// A PEM kept in a one-line secret often has its line breaks written as `\n`.
fn unescape_newlines(pem: String) -> String {
    if pem.contains('\n') {
        pem
    } else {
        pem.replace("\\n", "\n")
    }
}

/// GitHub's app JWT claims: `iss` is the app id (a number) or the client id (a string).
pub fn app_claims(app_id: &str, now: i64) -> Value {
    let iss = match app_id.parse::<i64>() {
        Ok(id) => Value::from(id),
        Err(_) => Value::from(app_id),
    };
    json!({"iat": now - CLOCK_DRIFT_SECS, "exp": now + JWT_LIFETIME_SECS, "iss": iss})
}

/// The generated client, sending `Authorization: Bearer <credential>`, a `User-Agent` and
/// `X-GitHub-Api-Version` with every request.
pub fn client(base_url: &str, credential: &str) -> Result<Client, CliError> {
    let mut headers = HeaderMap::new();
    let mut auth =
        HeaderValue::from_str(&format!("Bearer {credential}")).map_err(|_| CliError::Protocol {
            context: "preparing the Authorization header".into(),
            detail: "the credential is not a valid header value".into(),
        })?;
    auth.set_sensitive(true);
    headers.insert(AUTHORIZATION, auth);
    headers.insert(
        "x-github-api-version",
        HeaderValue::from_static(API_VERSION),
    );
    let http = reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .default_headers(headers)
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(|source| CliError::Transport {
            context: "cannot set up the HTTP client".into(),
            source,
        })?;
    Ok(Client::new_with_client(
        base_url.trim_end_matches('/'),
        http,
    ))
}

/// Signs an app JWT, finds the app's installation on `org` unless `installation_id` is
/// given, and returns a client that calls the API with a fresh installation access token.
pub async fn installation_client(
    base_url: &str,
    creds: &AppCredentials,
    org: &str,
    installation_id: Option<i64>,
) -> Result<Client, CliError> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let app = client(base_url, &creds.jwt(now)?)?;
    let installation = match installation_id {
        Some(id) => id,
        None => {
            call(
                || format!("looking up the app's installation on {org}"),
                app.apps_get_org_installation(org),
            )
            .await?
            .into_inner()
            .id
        }
    };
    let token = call(
        || format!("creating an access token for installation {installation}"),
        app.apps_create_installation_access_token(installation, None),
    )
    .await?
    .into_inner()
    .token;
    client(base_url, &token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_follow_githubs_rules() {
        let claims = app_claims("42", 1_000_000);
        assert_eq!(claims, json!({"iat": 999_940, "exp": 1_000_540, "iss": 42}));
        assert_eq!(app_claims("Iv1.reviewer", 0)["iss"], "Iv1.reviewer");
    }

    #[test]
    fn a_one_line_pem_gets_its_line_breaks_back() {
        assert_eq!(unescape_newlines("a\\nb".into()), "a\nb");
        assert_eq!(unescape_newlines("a\nb\\n".into()), "a\nb\\n");
    }

    #[test]
    fn a_key_that_is_not_rsa_pem_is_refused_as_authentication() {
        let err =
            AppCredentials::load("1".into(), None, Some("not a key".into())).expect_err("refused");
        assert!(matches!(err, CliError::Key), "{err:?}");
        let err = AppCredentials::load("1".into(), Some(Path::new("/nonexistent/key.pem")), None)
            .expect_err("refused");
        assert!(matches!(err, CliError::KeyFile { .. }), "{err:?}");
        let err = AppCredentials::load("1".into(), None, None).expect_err("refused");
        assert!(matches!(err, CliError::Usage(_)), "{err:?}");
    }
}

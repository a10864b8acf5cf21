//! Verification of an app's own JWT (RS256, signed with a key registered for the app), with GitHub's claim rules and messages.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

/// Longest an app JWT may live ahead of now, as GitHub allows.
pub const MAX_LIFETIME_SECS: i64 = 600;
/// Clock drift tolerated between the app's clock and ours.
pub const DRIFT_SECS: i64 = 60;

/// Why an app JWT was refused; each displays as GitHub's message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AppJwtError {
    #[error("A JSON web token could not be decoded")]
    Undecodable,
    #[error("'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires")]
    BadExpiry,
    #[error("'Expiration time' claim ('exp') is too far in the future")]
    ExpiryTooFar,
    #[error("'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued")]
    BadIssuedAt,
}

/// The issuer (`iss`) of an unverified JWT: the app id (number or string) or client id.
pub fn unverified_issuer(jwt: &str) -> Result<String, AppJwtError> {
    let header = jsonwebtoken::decode_header(jwt).map_err(|_| AppJwtError::Undecodable)?;
    if header.alg != Algorithm::RS256 {
        return Err(AppJwtError::Undecodable);
    }
    let claims: Value = jsonwebtoken::dangerous::insecure_decode_claims(jwt)
        .map_err(|_| AppJwtError::Undecodable)?;
    match claims.get("iss") {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(Value::Number(n)) if n.is_i64() => Ok(n.to_string()),
        _ => Err(AppJwtError::Undecodable),
    }
}

/// Verifies the signature against any of the app's public keys (PEM), then the time claims.
pub fn verify(jwt: &str, public_keys: &[String], now: i64) -> Result<(), AppJwtError> {
    let mut validation = Validation::new(Algorithm::RS256);
    // Time claims are checked below, with GitHub's own rules and messages.
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.set_required_spec_claims::<&str>(&[]);
    let claims = public_keys
        .iter()
        .filter_map(|pem| DecodingKey::from_rsa_pem(pem.as_bytes()).ok())
        .find_map(|key| jsonwebtoken::decode::<Value>(jwt, &key, &validation).ok())
        .ok_or(AppJwtError::Undecodable)?
        .claims;
    check_times(&claims, now)
}

/// GitHub's rules: `iat` an integer not in the future (beyond drift); `exp` a number in the
/// future and at most ten minutes ahead (plus drift).
pub fn check_times(claims: &Value, now: i64) -> Result<(), AppJwtError> {
    let iat = claims
        .get("iat")
        .and_then(Value::as_i64)
        .ok_or(AppJwtError::BadIssuedAt)?;
    if iat > now + DRIFT_SECS {
        return Err(AppJwtError::BadIssuedAt);
    }
    let exp = claims
        .get("exp")
        .and_then(Value::as_f64)
        .ok_or(AppJwtError::BadExpiry)?;
    if exp <= now as f64 {
        return Err(AppJwtError::BadExpiry);
    }
    if exp > (now + MAX_LIFETIME_SECS + DRIFT_SECS) as f64 {
        return Err(AppJwtError::ExpiryTooFar);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_700_000_000;

    #[test]
    fn octokits_claims_pass() {
        assert_eq!(
            check_times(&json!({"iat": NOW - 30, "exp": NOW + 570}), NOW),
            Ok(())
        );
    }

    #[test]
    fn expiry_more_than_ten_minutes_ahead_is_refused() {
        let claims = json!({"iat": NOW, "exp": NOW + 601 + DRIFT_SECS});
        assert_eq!(check_times(&claims, NOW), Err(AppJwtError::ExpiryTooFar));
    }

    #[test]
    fn expired_or_non_numeric_expiry_is_refused() {
        assert_eq!(
            check_times(&json!({"iat": NOW - 700, "exp": NOW - 1}), NOW),
            Err(AppJwtError::BadExpiry)
        );
        assert_eq!(
            check_times(&json!({"iat": NOW, "exp": "soon"}), NOW),
            Err(AppJwtError::BadExpiry)
        );
        assert_eq!(
            check_times(&json!({"iat": NOW}), NOW),
            Err(AppJwtError::BadExpiry)
        );
    }

    #[test]
    fn issued_at_must_be_an_integer_not_in_the_future() {
        assert_eq!(
            check_times(&json!({"iat": NOW + 61, "exp": NOW + 300}), NOW),
            Err(AppJwtError::BadIssuedAt)
        );
        assert_eq!(
            check_times(&json!({"iat": 1.5, "exp": NOW + 300}), NOW),
            Err(AppJwtError::BadIssuedAt)
        );
        assert_eq!(
            check_times(&json!({"exp": NOW + 300}), NOW),
            Err(AppJwtError::BadIssuedAt)
        );
    }
}

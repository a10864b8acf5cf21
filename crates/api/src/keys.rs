//! Key material: the server's Ed25519 key that signs installation tokens, and RSA helpers for app keys.

use std::collections::BTreeMap;
use std::path::Path;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use patgate_domain::AccessLevel;
use serde::{Deserialize, Serialize};

/// Prefix of installation access tokens, as GitHub's, so that prefix-checking tools accept them.
pub const INSTALLATION_TOKEN_PREFIX: &str = "ghs_";
const ISSUER: &str = "patgate";
const AUDIENCE: &str = "patgate:installation";

/// Why key material could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read or write the key file {path}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the key is not a usable {0} private key in PEM form")]
    Malformed(&'static str),
}

/// What an installation access token says. Signed by the server; never stored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct InstallationClaims {
    pub iss: String,
    pub aud: String,
    /// The installation id, as a string (JWT convention).
    pub sub: String,
    pub app: i64,
    pub inst: i64,
    pub org: i64,
    pub perms: BTreeMap<String, AccessLevel>,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
}

/// The server's signing key.
pub struct ServerKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for ServerKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerKeys { .. }")
    }
}

impl ServerKeys {
    /// Reads the PKCS#8 PEM Ed25519 key at `path`, creating it (mode 0600) if it does not exist.
    pub fn load_or_generate(path: &Path) -> Result<Self, KeyError> {
        let io = |source| KeyError::Io {
            path: path.display().to_string(),
            source,
        };
        if !path.exists() {
            let pem = generate_ed25519_pem()?;
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(io)?;
            }
            write_private(path, &pem).map_err(io)?;
        }
        let pem = std::fs::read_to_string(path).map_err(io)?;
        Self::from_pem(&pem)
    }

    /// Builds the keys from a PKCS#8 PEM Ed25519 private key.
    pub fn from_pem(pem_text: &str) -> Result<Self, KeyError> {
        let bad = || KeyError::Malformed("Ed25519");
        let parsed = pem::parse(pem_text).map_err(|_| bad())?;
        let pair = Ed25519KeyPair::from_pkcs8(parsed.contents()).map_err(|_| bad())?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.leeway = 0;
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        Ok(Self {
            encoding: EncodingKey::from_ed_der(parsed.contents()),
            decoding: DecodingKey::from_ed_der(pair.public_key().as_ref()),
            validation,
        })
    }

    /// Signs an installation token for the claims (issuer and audience are filled in).
    pub fn issue(
        &self,
        mut claims: InstallationClaims,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        claims.iss = ISSUER.to_owned();
        claims.aud = AUDIENCE.to_owned();
        let jwt = jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), &claims, &self.encoding)?;
        Ok(format!("{INSTALLATION_TOKEN_PREFIX}{jwt}"))
    }

    /// Verifies the JWT part of an installation token: signature, algorithm, issuer, audience
    /// and expiry. `None` for anything forged, expired or malformed.
    pub fn verify(&self, jwt: &str) -> Option<InstallationClaims> {
        jsonwebtoken::decode::<InstallationClaims>(jwt, &self.decoding, &self.validation)
            .ok()
            .map(|data| data.claims)
    }
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(contents.as_bytes())
}

/// A fresh Ed25519 private key, PKCS#8 PEM.
pub fn generate_ed25519_pem() -> Result<String, KeyError> {
    let doc = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
        .map_err(|_| KeyError::Malformed("Ed25519"))?;
    Ok(pem::encode(&pem::Pem::new(
        "PRIVATE KEY",
        doc.as_ref().to_vec(),
    )))
}

/// A fresh 2048-bit RSA private key, PKCS#8 PEM, as an app's private key.
pub fn generate_rsa_private_pem() -> Result<String, KeyError> {
    let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
        .map_err(|_| KeyError::Malformed("RSA"))?;
    let der = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair)
        .map_err(|_| KeyError::Malformed("RSA"))?;
    Ok(pem::encode(&pem::Pem::new(
        "PRIVATE KEY",
        der.as_ref().to_vec(),
    )))
}

/// The SubjectPublicKeyInfo PEM (`BEGIN PUBLIC KEY`) of an RSA private key given as PKCS#8
/// (`BEGIN PRIVATE KEY`) or PKCS#1 (`BEGIN RSA PRIVATE KEY`, as GitHub hands them out).
pub fn rsa_public_pem(private_pem: &str) -> Result<String, KeyError> {
    let bad = || KeyError::Malformed("RSA");
    let parsed = pem::parse(private_pem).map_err(|_| bad())?;
    let pair = match parsed.tag() {
        "RSA PRIVATE KEY" => aws_lc_rs::rsa::KeyPair::from_der(parsed.contents()),
        _ => aws_lc_rs::rsa::KeyPair::from_pkcs8(parsed.contents()),
    }
    .map_err(|_| bad())?;
    let der = AsDer::<aws_lc_rs::encoding::PublicKeyX509Der>::as_der(pair.public_key())
        .map_err(|_| bad())?;
    Ok(pem::encode(&pem::Pem::new(
        "PUBLIC KEY",
        der.as_ref().to_vec(),
    )))
}

/// 16 random bytes as hex: request ids, token ids, client-id suffixes.
pub fn random_hex() -> String {
    let mut bytes = [0u8; 16];
    // The system RNG does not fail on supported platforms; a zeroed id is still unique enough
    // for logs should it ever.
    let _ = aws_lc_rs::rand::fill(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks that a PEM text is an RSA public key jsonwebtoken can verify with.
pub fn rsa_public_key_check(public_pem: &str) -> Result<(), KeyError> {
    DecodingKey::from_rsa_pem(public_pem.trim().as_bytes())
        .map(|_| ())
        .map_err(|_| KeyError::Malformed("RSA public"))
}

/// An app JWT as GitHub's clients make them: RS256, `iat` 60 s in the past, `exp` 9 minutes
/// ahead, `iss` the app id (numeric when it parses as one) or client id.
pub fn app_jwt(issuer: &str, private_pem: &str, now: i64) -> Result<String, KeyError> {
    let key = EncodingKey::from_rsa_pem(private_pem.as_bytes())
        .map_err(|_| KeyError::Malformed("RSA"))?;
    let iss = match issuer.parse::<i64>() {
        Ok(n) => serde_json::Value::from(n),
        Err(_) => serde_json::Value::from(issuer),
    };
    let claims = serde_json::json!({"iat": now - 60, "exp": now + 540, "iss": iss});
    jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &key)
        .map_err(|_| KeyError::Malformed("RSA"))
}

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

/// The server's key ring: the key that signs installation tokens, and every key whose tokens
/// are accepted (the signer first). A token names its key in its header's `kid` (the first 16
/// hex digits of the SHA-256 of the public key), so that a key can be rotated without
/// downtime: add the new key to every instance as accepted, then make it the signer, then
/// retire the old one once the tokens it signed have expired.
pub struct ServerKeys {
    encoding: EncodingKey,
    ring: Vec<(String, DecodingKey)>,
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

    /// The signer at `signer` (created if it does not exist, as [`Self::load_or_generate`]),
    /// with the keys in the files `accepted` accepted too (each must exist).
    pub fn load_ring(signer: &Path, accepted: &[std::path::PathBuf]) -> Result<Self, KeyError> {
        let mut keys = Self::load_or_generate(signer)?;
        for path in accepted {
            let pem = std::fs::read_to_string(path).map_err(|source| KeyError::Io {
                path: path.display().to_string(),
                source,
            })?;
            keys = keys.accepting(&pem)?;
        }
        Ok(keys)
    }

    /// Builds the keys from a PKCS#8 PEM Ed25519 private key, the ring's only key.
    pub fn from_pem(pem_text: &str) -> Result<Self, KeyError> {
        let (der, kid, decoding) = ed25519(pem_text)?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.leeway = 0;
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        Ok(Self {
            encoding: EncodingKey::from_ed_der(&der),
            ring: vec![(kid, decoding)],
            validation,
        })
    }

    /// The ring with one more accepted key (a PKCS#8 PEM Ed25519 private key; only its public
    /// half is kept). A key already in the ring is not added twice.
    pub fn accepting(mut self, pem_text: &str) -> Result<Self, KeyError> {
        let (_, kid, decoding) = ed25519(pem_text)?;
        if !self.ring.iter().any(|(k, _)| *k == kid) {
            self.ring.push((kid, decoding));
        }
        Ok(self)
    }

    /// The signer's key id, then those of the other accepted keys.
    pub fn key_ids(&self) -> impl Iterator<Item = &str> {
        self.ring.iter().map(|(kid, _)| kid.as_str())
    }

    /// Signs an installation token for the claims (issuer and audience are filled in).
    pub fn issue(
        &self,
        mut claims: InstallationClaims,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        claims.iss = ISSUER.to_owned();
        claims.aud = AUDIENCE.to_owned();
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = self.ring.first().map(|(kid, _)| kid.clone());
        let jwt = jsonwebtoken::encode(&header, &claims, &self.encoding)?;
        Ok(format!("{INSTALLATION_TOKEN_PREFIX}{jwt}"))
    }

    /// Verifies the JWT part of an installation token against the key its `kid` names (every
    /// key of the ring for a token without one): signature, algorithm, issuer, audience and
    /// expiry. `None` for anything forged, expired, malformed or signed by a key not in the
    /// ring.
    pub fn verify(&self, jwt: &str) -> Option<InstallationClaims> {
        let kid = jsonwebtoken::decode_header(jwt).ok()?.kid;
        self.ring
            .iter()
            .filter(|(k, _)| kid.as_ref().is_none_or(|kid| kid == k))
            .find_map(|(_, key)| {
                jsonwebtoken::decode::<InstallationClaims>(jwt, key, &self.validation).ok()
            })
            .map(|data| data.claims)
    }
}

/// A PKCS#8 PEM Ed25519 private key's DER, its key id and its public key for verifying.
fn ed25519(pem_text: &str) -> Result<(Vec<u8>, String, DecodingKey), KeyError> {
    let bad = || KeyError::Malformed("Ed25519");
    let parsed = pem::parse(pem_text).map_err(|_| bad())?;
    let pair = Ed25519KeyPair::from_pkcs8(parsed.contents()).map_err(|_| bad())?;
    let public = pair.public_key().as_ref();
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, public);
    let kid: String = digest.as_ref()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok((
        parsed.contents().to_vec(),
        kid,
        DecodingKey::from_ed_der(public),
    ))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> InstallationClaims {
        let now = chrono::Utc::now().timestamp();
        InstallationClaims {
            iss: String::new(),
            aud: String::new(),
            sub: "7".to_owned(),
            app: 1,
            inst: 7,
            org: 3,
            perms: BTreeMap::new(),
            iat: now,
            exp: now + 600,
            jti: random_hex(),
        }
    }

    fn jwt(token: &str) -> &str {
        token
            .strip_prefix(INSTALLATION_TOKEN_PREFIX)
            .expect("prefix")
    }

    #[test]
    fn a_rotation_accepts_every_key_of_the_ring_and_nothing_else() {
        let (old_pem, new_pem) = (
            generate_ed25519_pem().expect("key"),
            generate_ed25519_pem().expect("key"),
        );
        let old = ServerKeys::from_pem(&old_pem).expect("old");
        let issued_before = old.issue(claims()).expect("token");

        // Step 1: the new key is accepted everywhere, the old one still signs.
        let step1 = ServerKeys::from_pem(&old_pem)
            .and_then(|k| k.accepting(&new_pem))
            .expect("ring");
        // Step 2: the new key signs, the old one is still accepted.
        let step2 = ServerKeys::from_pem(&new_pem)
            .and_then(|k| k.accepting(&old_pem))
            .expect("ring");
        let issued_after = step2.issue(claims()).expect("token");
        for ring in [&step1, &step2] {
            assert!(ring.verify(jwt(&issued_before)).is_some());
            assert!(ring.verify(jwt(&issued_after)).is_some());
        }
        assert_eq!(step1.key_ids().count(), 2);
        assert_eq!(
            step1.key_ids().next(),
            old.key_ids().next(),
            "the signer comes first"
        );

        // Step 3: the old key is retired; what it signed is refused.
        let step3 = ServerKeys::from_pem(&new_pem).expect("ring");
        assert!(step3.verify(jwt(&issued_after)).is_some());
        assert!(step3.verify(jwt(&issued_before)).is_none());
        assert!(old.verify(jwt(&issued_after)).is_none(), "an unknown kid");
    }

    #[test]
    fn a_token_without_a_key_id_is_tried_against_every_key() {
        let (a, b) = (
            generate_ed25519_pem().expect("key"),
            generate_ed25519_pem().expect("key"),
        );
        let mut claims = claims();
        claims.iss = ISSUER.to_owned();
        claims.aud = AUDIENCE.to_owned();
        let der = pem::parse(&b).expect("pem").contents().to_vec();
        let unnamed = jsonwebtoken::encode(
            &Header::new(Algorithm::EdDSA),
            &claims,
            &EncodingKey::from_ed_der(&der),
        )
        .expect("token");
        let ring = ServerKeys::from_pem(&a)
            .and_then(|k| k.accepting(&b))
            .expect("ring");
        assert!(ring.verify(&unnamed).is_some());
        assert!(ServerKeys::from_pem(&a)
            .expect("key")
            .verify(&unnamed)
            .is_none());
    }
}

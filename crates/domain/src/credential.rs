//! Reading the `Authorization` header and telling credentials apart by their shape.

/// The scheme word of an `Authorization` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthScheme {
    Bearer,
    Token,
    Basic,
    Other,
}

/// Splits an `Authorization` header into its scheme and its credential.
/// `None` when the header has no credential after the scheme.
pub fn parse_authorization(header: &str) -> Option<(AuthScheme, &str)> {
    let header = header.trim();
    let (scheme, rest) = header.split_once(char::is_whitespace)?;
    let credential = rest.trim();
    if credential.is_empty() {
        return None;
    }
    let scheme = if scheme.eq_ignore_ascii_case("bearer") {
        AuthScheme::Bearer
    } else if scheme.eq_ignore_ascii_case("token") {
        AuthScheme::Token
    } else if scheme.eq_ignore_ascii_case("basic") {
        AuthScheme::Basic
    } else {
        AuthScheme::Other
    };
    Some((scheme, credential))
}

/// What kind of credential a presented string is, judged by its shape alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialKind {
    /// `ghp_…`: a personal access token (classic).
    ClassicPat,
    /// `github_pat_…`: a fine-grained personal access token.
    FineGrainedPat,
    /// `gho_…`: an OAuth app access token.
    OAuth,
    /// `ghu_…`: a GitHub App user access token.
    UserToServer,
    /// `ghr_…`: a GitHub App refresh token.
    Refresh,
    /// `ghs_` followed by a JWT: an installation access token as patgate issues them.
    Installation,
    /// `ghs_` followed by 36 alphanumerics: an installation token of another server.
    ForeignInstallation,
    /// A bare JWT (three base64url segments): an app's own JWT.
    AppJwt,
    /// Anything else.
    Unknown,
}

impl CredentialKind {
    /// How the kind is named in refusals ("Resource not accessible by …").
    pub fn describe(self) -> &'static str {
        match self {
            Self::ClassicPat | Self::FineGrainedPat => "personal access token",
            Self::OAuth => "OAuth access token",
            Self::UserToServer => "user access token",
            Self::Refresh => "refresh token",
            Self::Installation | Self::ForeignInstallation => "installation access token",
            Self::AppJwt => "app JWT",
            Self::Unknown => "unknown credential",
        }
    }

    /// Tokens that are well formed but of a kind these endpoints never accept.
    pub fn is_refused_kind(self) -> bool {
        matches!(
            self,
            Self::ClassicPat
                | Self::FineGrainedPat
                | Self::OAuth
                | Self::UserToServer
                | Self::Refresh
        )
    }
}

/// A classified credential, with the part that is to be verified where there is one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Credential<'a> {
    pub kind: CredentialKind,
    /// The JWT to verify, for [`CredentialKind::Installation`] and [`CredentialKind::AppJwt`].
    pub jwt: Option<&'a str>,
}

/// The longest token GitHub tells integrators to expect.
const MAX_TOKEN_LEN: usize = 255;
/// patgate's installation tokens are JWTs and may be longer than GitHub's own.
const MAX_JWT_LEN: usize = 4096;

/// Classifies a credential by its prefix and shape. Nothing is verified here.
pub fn classify(raw: &str) -> Credential<'_> {
    let plain = |kind| Credential { kind, jwt: None };
    if let Some(jwt) = raw.strip_prefix("ghs_") {
        if is_jwt_shaped(jwt) {
            return Credential {
                kind: CredentialKind::Installation,
                jwt: Some(jwt),
            };
        }
        return plain(if is_classic_body(jwt) {
            CredentialKind::ForeignInstallation
        } else {
            CredentialKind::Unknown
        });
    }
    if let Some(rest) = raw.strip_prefix("github_pat_") {
        let ok = raw.len() <= MAX_TOKEN_LEN
            && rest.len() >= 22
            && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        return plain(if ok {
            CredentialKind::FineGrainedPat
        } else {
            CredentialKind::Unknown
        });
    }
    let prefixed = [
        ("ghp_", CredentialKind::ClassicPat),
        ("gho_", CredentialKind::OAuth),
        ("ghu_", CredentialKind::UserToServer),
        ("ghr_", CredentialKind::Refresh),
    ];
    for (prefix, kind) in prefixed {
        if let Some(body) = raw.strip_prefix(prefix) {
            return plain(if is_classic_body(body) {
                kind
            } else {
                CredentialKind::Unknown
            });
        }
    }
    if is_jwt_shaped(raw) {
        return Credential {
            kind: CredentialKind::AppJwt,
            jwt: Some(raw),
        };
    }
    plain(CredentialKind::Unknown)
}

/// 36 or more alphanumerics, within GitHub's 255-character bound for the whole token.
fn is_classic_body(body: &str) -> bool {
    (36..=MAX_TOKEN_LEN - 4).contains(&body.len())
        && body.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Three non-empty base64url segments separated by dots (the signature may be empty only for
/// `alg: none`, which is refused later but must still be recognised as a JWT).
fn is_jwt_shaped(s: &str) -> bool {
    if s.len() > MAX_JWT_LEN {
        return false;
    }
    let parts: Vec<&str> = s.split('.').collect();
    let b64url = |p: &str| {
        p.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    parts.len() == 3
        && !parts[0].is_empty()
        && !parts[1].is_empty()
        && parts.iter().all(|p| b64url(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY36: &str = "16C7e42F292c6912E7710c838347Ae178B4a";

    #[test]
    fn prefixed_tokens_are_told_apart() {
        let cases = [
            ("ghp_", CredentialKind::ClassicPat),
            ("gho_", CredentialKind::OAuth),
            ("ghu_", CredentialKind::UserToServer),
            ("ghr_", CredentialKind::Refresh),
            ("ghs_", CredentialKind::ForeignInstallation),
        ];
        for (prefix, kind) in cases {
            assert_eq!(
                classify(&format!("{prefix}{BODY36}")).kind,
                kind,
                "{prefix}"
            );
            assert_eq!(
                classify(&format!("{prefix}short")).kind,
                CredentialKind::Unknown
            );
        }
        let fine = "github_pat_11ABCDEFG0123456789abc_0123456789abcdefghijABCDEFGHIJ0123456789abcdefghijABCDEFGHI";
        assert_eq!(classify(fine).kind, CredentialKind::FineGrainedPat);
        assert_eq!(classify("github_pat_x").kind, CredentialKind::Unknown);
    }

    #[test]
    fn jwts_with_and_without_the_installation_prefix() {
        let jwt = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiIxIn0.c2ln";
        let c = classify(jwt);
        assert_eq!((c.kind, c.jwt), (CredentialKind::AppJwt, Some(jwt)));
        let token = format!("ghs_{jwt}");
        let c = classify(&token);
        assert_eq!((c.kind, c.jwt), (CredentialKind::Installation, Some(jwt)));
        assert_eq!(classify("eyJh.eyJz.").kind, CredentialKind::AppJwt);
        assert_eq!(classify("a.b").kind, CredentialKind::Unknown);
        assert_eq!(classify("not a token").kind, CredentialKind::Unknown);
        assert_eq!(classify("").kind, CredentialKind::Unknown);
    }

    #[test]
    fn authorization_headers_are_split_case_insensitively() {
        let cases = [
            ("Bearer abc", Some((AuthScheme::Bearer, "abc"))),
            ("token  abc ", Some((AuthScheme::Token, "abc"))),
            (
                "BASIC dXNlcjpwYXNz",
                Some((AuthScheme::Basic, "dXNlcjpwYXNz")),
            ),
            ("Digest x", Some((AuthScheme::Other, "x"))),
            ("Bearer", None),
            ("Bearer   ", None),
        ];
        for (header, split) in cases {
            assert_eq!(parse_authorization(header), split, "{header:?}");
        }
    }
}

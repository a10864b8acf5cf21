//! What can go wrong, and the exit code scripts can rely on for each.

use std::future::Future;
use std::path::PathBuf;

use patgate_client::types::{ErrorBody, FieldError};
use patgate_client::ResponseValue;
use reqwest::header::HeaderMap;

/// The generated client's error, with GitHub's error body decoded.
pub type ClientError = patgate_client::Error<ErrorBody>;

/// The process exit codes, documented in docs/CLI.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Everything asked for was done (or, with `--dry-run`, would be).
    Done = 0,
    /// The command line is wrong (clap's own code for usage errors).
    Usage = 2,
    /// Authentication refused: 401, an unreadable or unusable key, a refused app JWT.
    Unauthorized = 3,
    /// 403: the installation lacks the permission, or is suspended.
    Forbidden = 4,
    /// 404: unknown organization, installation, request or grant.
    NotFound = 5,
    /// 422: validation failed, e.g. a request that is no longer pending.
    Invalid = 6,
    /// Any other server or network error, including rate limiting.
    Failed = 7,
    /// `rules dry-run`: the outcome of a pending request would change.
    Changes = 8,
    /// 412: another version of the rules was saved since the one `If-Match` names.
    Stale = 9,
}

impl Exit {
    /// The exit code for an HTTP error status.
    pub fn for_status(status: u16) -> Exit {
        match status {
            401 => Exit::Unauthorized,
            403 => Exit::Forbidden,
            404 => Exit::NotFound,
            412 => Exit::Stale,
            422 => Exit::Invalid,
            _ => Exit::Failed,
        }
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        std::process::ExitCode::from(exit as u8)
    }
}

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Usage(String),
    #[error("cannot read the private key file {}", path.display())]
    KeyFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the private key is not an RSA private key in PEM form (PKCS#1 or PKCS#8)")]
    Key,
    /// The server answered with an error status; `details` are its `errors[]`.
    #[error("{context}: {message} ({})", http_note(.status, .rate_limited))]
    Api {
        context: String,
        status: u16,
        message: String,
        details: Vec<String>,
        rate_limited: bool,
    },
    #[error("{context}")]
    Transport {
        context: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{context}: {detail}")]
    Protocol { context: String, detail: String },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Changes(String),
    #[error("cannot write the output")]
    Output(#[source] std::io::Error),
}

impl CliError {
    pub fn exit(&self) -> Exit {
        match self {
            CliError::Usage(_) => Exit::Usage,
            CliError::KeyFile { .. } | CliError::Key => Exit::Unauthorized,
            CliError::Api {
                rate_limited: true, ..
            } => Exit::Failed,
            CliError::Api { status, .. } => Exit::for_status(*status),
            CliError::NotFound(_) => Exit::NotFound,
            CliError::Invalid(_) => Exit::Invalid,
            CliError::Changes(_) => Exit::Changes,
            CliError::Transport { .. } | CliError::Protocol { .. } | CliError::Output(_) => {
                Exit::Failed
            }
        }
    }

    /// Lines that follow the message: the server's `errors[]`, one each.
    pub fn details(&self) -> &[String] {
        match self {
            CliError::Api { details, .. } => details,
            _ => &[],
        }
    }

    /// Turns the generated client's error into ours; `context` says what was being done.
    pub async fn from_client(context: String, err: ClientError) -> CliError {
        match err {
            patgate_client::Error::ErrorResponse(res) => {
                let status = res.status().as_u16();
                let rate_limited = is_rate_limited(status, res.headers());
                let body = res.into_inner();
                CliError::Api {
                    context,
                    status,
                    message: body.message,
                    details: body.errors.iter().map(describe).collect(),
                    rate_limited,
                }
            }
            // A status the document does not list (429, 502, …): its body may still be GitHub's.
            patgate_client::Error::UnexpectedResponse(res) => {
                let status = res.status();
                let rate_limited = is_rate_limited(status.as_u16(), res.headers());
                let text = res.text().await.unwrap_or_default();
                let body = serde_json::from_str::<ErrorBody>(&text).ok();
                CliError::Api {
                    context,
                    status: status.as_u16(),
                    message: body.as_ref().map_or_else(
                        || {
                            status
                                .canonical_reason()
                                .unwrap_or("unexpected response")
                                .to_owned()
                        },
                        |b| b.message.clone(),
                    ),
                    details: body
                        .iter()
                        .flat_map(|b| b.errors.iter().map(describe))
                        .collect(),
                    rate_limited,
                }
            }
            patgate_client::Error::CommunicationError(source)
            | patgate_client::Error::ResponseBodyError(source)
            | patgate_client::Error::InvalidUpgrade(source) => {
                CliError::Transport { context, source }
            }
            patgate_client::Error::InvalidResponsePayload(_, e) => CliError::Protocol {
                context,
                detail: format!("the response could not be decoded ({e})"),
            },
            patgate_client::Error::InvalidRequest(detail)
            | patgate_client::Error::Custom(detail) => CliError::Protocol { context, detail },
        }
    }
}

/// Awaits one call of the generated client, naming what was being done if it fails.
pub async fn call<T>(
    context: impl FnOnce() -> String,
    request: impl Future<Output = Result<ResponseValue<T>, ClientError>>,
) -> Result<ResponseValue<T>, CliError> {
    match request.await {
        Ok(res) => Ok(res),
        Err(e) => Err(CliError::from_client(context(), e).await),
    }
}

fn http_note(status: &u16, rate_limited: &bool) -> String {
    if *rate_limited {
        format!("HTTP {status}, rate limited")
    } else {
        format!("HTTP {status}")
    }
}

/// GitHub signals an exhausted quota with 429, or with 403 and `x-ratelimit-remaining: 0`.
fn is_rate_limited(status: u16, headers: &HeaderMap) -> bool {
    let exhausted = headers
        .get("x-ratelimit-remaining")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim() == "0");
    status == 429 || (status == 403 && (exhausted || headers.contains_key("retry-after")))
}

/// One `errors[]` item as a line: its message, then where it points.
fn describe(e: &FieldError) -> String {
    let mut at = format!("{}.{}: {}", e.resource, e.field, e.code);
    // Review rules point into their source.
    if let (Some(line), Some(column)) = (e.line, e.column) {
        at.push_str(&format!(", line {line}, column {column}"));
    }
    match &e.message {
        Some(message) => format!("{message} ({at})"),
        None => at,
    }
}

/// The message followed by each of its sources, as `outer: inner: …`.
pub fn chain(e: &dyn std::error::Error) -> String {
    let messages: Vec<String> = std::iter::successors(Some(e), |e| e.source())
        .map(ToString::to_string)
        .collect();
    messages.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, rate_limited: bool) -> CliError {
        CliError::Api {
            context: "listing requests".into(),
            status,
            message: "m".into(),
            details: vec![],
            rate_limited,
        }
    }

    #[test]
    fn each_error_status_has_its_exit_code() {
        assert_eq!(Exit::for_status(401), Exit::Unauthorized);
        assert_eq!(Exit::for_status(403), Exit::Forbidden);
        assert_eq!(Exit::for_status(404), Exit::NotFound);
        assert_eq!(Exit::for_status(422), Exit::Invalid);
        for other in [400, 409, 429, 500, 502, 503] {
            assert_eq!(Exit::for_status(other), Exit::Failed, "{other}");
        }
    }

    #[test]
    fn exit_codes_are_the_documented_numbers() {
        let codes = [
            (Exit::Done, 0),
            (Exit::Usage, 2),
            (Exit::Unauthorized, 3),
            (Exit::Forbidden, 4),
            (Exit::NotFound, 5),
            (Exit::Invalid, 6),
            (Exit::Failed, 7),
        ];
        for (exit, code) in codes {
            assert_eq!(exit as u8, code, "{exit:?}");
        }
    }

    #[test]
    fn errors_map_to_exit_codes() {
        assert_eq!(api(401, false).exit(), Exit::Unauthorized);
        assert_eq!(api(403, false).exit(), Exit::Forbidden);
        assert_eq!(api(404, false).exit(), Exit::NotFound);
        assert_eq!(api(422, false).exit(), Exit::Invalid);
        assert_eq!(api(503, false).exit(), Exit::Failed);
        assert_eq!(CliError::Key.exit(), Exit::Unauthorized);
        assert_eq!(CliError::Usage("no --org".into()).exit(), Exit::Usage);
        assert_eq!(CliError::NotFound("x".into()).exit(), Exit::NotFound);
        assert_eq!(CliError::Invalid("x".into()).exit(), Exit::Invalid);
    }

    #[test]
    fn a_rate_limited_403_is_not_a_missing_permission() {
        let mut headers = HeaderMap::new();
        assert!(!is_rate_limited(403, &headers));
        assert!(is_rate_limited(429, &headers));
        headers.insert("x-ratelimit-remaining", "0".parse().expect("header"));
        assert!(is_rate_limited(403, &headers));
        assert_eq!(api(403, true).exit(), Exit::Failed);
        assert!(api(403, true)
            .to_string()
            .ends_with("(HTTP 403, rate limited)"));
    }

    #[test]
    fn the_chain_names_every_source_once() {
        let err = CliError::KeyFile {
            path: "/k.pem".into(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        };
        assert_eq!(
            chain(&err),
            "cannot read the private key file /k.pem: no such file"
        );
        assert_eq!(chain(&CliError::Key).matches("PEM").count(), 1);
    }

    #[test]
    fn field_errors_read_as_one_line_each() {
        let with_message = FieldError {
            code: "unprocessable".into(),
            field: "pat_request_ids".into(),
            message: Some("request 4: already approved".into()),
            resource: "PersonalAccessTokenRequest".into(),
            line: None,
            column: None,
        };
        assert_eq!(
            describe(&with_message),
            "request 4: already approved (PersonalAccessTokenRequest.pat_request_ids: unprocessable)"
        );
        let bare = FieldError {
            message: None,
            ..with_message
        };
        assert_eq!(
            describe(&bare),
            "PersonalAccessTokenRequest.pat_request_ids: unprocessable"
        );
        let placed = FieldError {
            line: Some(4),
            column: Some(8),
            ..bare
        };
        assert_eq!(
            describe(&placed),
            "PersonalAccessTokenRequest.pat_request_ids: unprocessable, line 4, column 8"
        );
    }
}

//! The one error type of the API and the GitHub-shaped bodies it becomes.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use patgate_persistence::{diesel_error, StoreError};
use serde::Serialize;
use utoipa::ToSchema;

/// Where GitHub documents its REST API; used when no page is more specific.
pub const DOCS_ROOT: &str = "https://docs.github.com/rest";

/// GitHub's `basic-error` body.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"message": "Not Found", "documentation_url": "https://docs.github.com/rest", "status": "404"}))]
pub struct BasicError {
    pub message: String,
    pub documentation_url: String,
    /// The HTTP status as a string, as GitHub sends it.
    pub status: String,
}

/// One item of a 422 body's `errors`.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct FieldError {
    pub resource: String,
    pub field: String,
    /// One of GitHub's codes: `missing`, `missing_field`, `invalid`, `already_exists`,
    /// `unprocessable`, `custom`.
    pub code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Where in a source the problem is (1-based), for review rules.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
}

impl FieldError {
    pub fn new(resource: &str, field: &str, code: &str, message: impl Into<String>) -> Self {
        Self {
            resource: resource.to_owned(),
            field: field.to_owned(),
            code: code.to_owned(),
            message: Some(message.into()),
            line: None,
            column: None,
        }
    }
}

/// GitHub's `validation-error` body (status 422).
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"message": "Validation Failed", "documentation_url": "https://docs.github.com/rest", "status": "422", "errors": [{"resource": "PersonalAccessTokenRequest", "field": "action", "code": "invalid", "message": "action: unknown variant `maybe`, expected `approve` or `deny`"}]}))]
pub struct ValidationError {
    pub message: String,
    pub documentation_url: String,
    pub status: String,
    pub errors: Vec<FieldError>,
}

/// GitHub's 400 for an `X-GitHub-Api-Version` it does not serve: `errors` is a sentence, not
/// a list.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"message": "Bad Request", "errors": "The version you specified in the \"X-GitHub-API-Version\" request header, \"1999-01-01\", is not a supported version. The following versions are currently supported: \"2026-03-10\" (most recent) and \"2022-11-28\".", "documentation_url": "https://docs.github.com/rest", "status": "400"}))]
pub struct UnsupportedVersionError {
    pub message: String,
    pub errors: String,
    pub documentation_url: String,
    pub status: String,
}

/// Every way a request can fail, each with exactly one status.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    /// An `X-GitHub-Api-Version` not served; the sentence says what was asked and what is.
    #[error("Bad Request")]
    UnsupportedVersion(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    /// The installation lacks the permission; `accepted` is what would do, sent as
    /// `X-Accepted-GitHub-Permissions` (e.g. `organization_personal_access_token_requests=write`).
    #[error("Resource not accessible by integration")]
    MissingPermission { accepted: String },
    #[error("Not Found")]
    NotFound,
    #[error("{message}")]
    Unprocessable {
        message: String,
        errors: Vec<FieldError>,
    },
    #[error("{0}")]
    PayloadTooLarge(String),
    /// `If-Match` names a version that is no longer current.
    #[error("{0}")]
    PreconditionFailed(String),
    /// A change that must say which version it replaces (`If-Match`) did not.
    #[error("{0}")]
    PreconditionRequired(String),
    /// Past the caller's hourly limit (GitHub's message, e.g. "API rate limit exceeded for
    /// installation ID 1."); the middleware adds `X-RateLimit-Remaining: 0`.
    #[error("{0}")]
    RateLimited(String),
    #[error("Service unavailable")]
    Unavailable(#[source] StoreError),
    #[error("Internal server error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    pub fn unauthorized(msg: impl Into<String>) -> Self {
        Self::Unauthorized(msg.into())
    }

    pub fn forbidden(msg: impl Into<String>) -> Self {
        Self::Forbidden(msg.into())
    }

    /// A 422 "Validation Failed" with one field error that says what is wrong.
    pub fn invalid(resource: &str, field: &str, code: &str, message: impl Into<String>) -> Self {
        Self::Unprocessable {
            message: "Validation Failed".to_owned(),
            errors: vec![FieldError::new(resource, field, code, message)],
        }
    }

    pub fn internal(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Internal(Box::new(e))
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::NotFound,
            StoreError::Pool(_) | StoreError::Connect(_) | StoreError::Disconnected(_) => {
                Self::Unavailable(e)
            }
            other => Self::internal(other),
        }
    }
}

impl From<diesel_error::Error> for ApiError {
    fn from(e: diesel_error::Error) -> Self {
        StoreError::from(e).into()
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        Self::internal(e)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) | Self::UnsupportedVersion(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) | Self::MissingPermission { .. } | Self::RateLimited(_) => {
                StatusCode::FORBIDDEN
            }
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            Self::PreconditionRequired(_) => StatusCode::PRECONDITION_REQUIRED,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let mut builder = HttpResponse::build(status);
        builder.insert_header((header::CONTENT_TYPE, "application/json; charset=utf-8"));
        match self {
            Self::Unavailable(_) => {
                builder.insert_header((header::RETRY_AFTER, "1"));
            }
            Self::MissingPermission { accepted } => {
                builder.insert_header(("x-accepted-github-permissions", accepted.as_str()));
            }
            _ => {}
        }
        // Internals never reach the body; the middleware logs the chain with the request id.
        let message = self.to_string();
        let status_text = status.as_u16().to_string();
        match self {
            Self::Unprocessable { errors, .. } => builder.json(ValidationError {
                message,
                documentation_url: DOCS_ROOT.to_owned(),
                status: status_text,
                errors: errors.clone(),
            }),
            Self::UnsupportedVersion(errors) => builder.json(UnsupportedVersionError {
                message,
                errors: errors.clone(),
                documentation_url: DOCS_ROOT.to_owned(),
                status: status_text,
            }),
            _ => builder.json(BasicError {
                message,
                documentation_url: DOCS_ROOT.to_owned(),
                status: status_text,
            }),
        }
    }
}

/// The full `source()` chain of an error, for logs.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        out.push_str(": ");
        out.push_str(&inner.to_string());
        source = inner.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use patgate_persistence::diesel_error::{DatabaseErrorKind, Error};

    #[test]
    fn a_database_out_of_reach_is_503_and_other_database_errors_500() {
        let lost =
            |kind| Error::DatabaseError(kind, Box::new("server closed the connection".to_owned()));
        let unavailable = [
            ApiError::from(lost(DatabaseErrorKind::ClosedConnection)),
            ApiError::from(lost(DatabaseErrorKind::UnableToSendCommand)),
            ApiError::from(StoreError::Connect("connection refused".into())),
        ];
        for error in unavailable {
            assert_eq!(
                error.status_code(),
                StatusCode::SERVICE_UNAVAILABLE,
                "{error:?}"
            );
            let retry = error
                .error_response()
                .headers()
                .get(header::RETRY_AFTER)
                .cloned();
            assert_eq!(retry, Some(header::HeaderValue::from_static("1")));
        }
        let other = ApiError::from(lost(DatabaseErrorKind::Unknown));
        assert_eq!(other.status_code(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}

//! The error responses the operations document, as sets to list in `#[utoipa::path]`'s
//! `responses(...)` beside the success tuple:
//!
//! | Set | Statuses | For |
//! |---|---|---|
//! | [`AuthErrors`] | 401, 403 | every operation that needs a credential (app JWT or installation token) |
//! | [`NotFoundErrors`] | 401, 403, 404 | the same, on something the path names (an organization, hook, installation, delivery) |
//! | [`BodyErrors`] | 400, 401, 403, 404, 422 "Validation failed" | the same, with a JSON body |
//! | [`PageErrors`] | 401, 403, 404, 422 "Invalid pagination parameters" | an organization's list paged by `page` and `per_page` |
//!
//! and the single responses they are made of, for the operations that differ:
//! [`MalformedJson`] (400), [`NotFound`] (404), [`NotEnterprise`] (404), [`Invalid`] (422
//! "Validation failed"), [`BadPage`] (422 "Invalid pagination parameters"), [`InternalError`]
//! (500). A 422 with its own description is a tuple after the set; a tuple for a status the set
//! has replaces the set's. The 413 of a body too large is added to every operation with a body
//! by [`crate::openapi::document_body_limit`].
//!
//! These types only document: the statuses themselves come from [`crate::ApiError`]. The
//! schemas they refer to are registered in [`crate::openapi::ApiDoc`], as the path macro does
//! not collect schemas from `IntoResponses` types.

use std::collections::BTreeMap;

use utoipa::openapi::{RefOr, Response};
use utoipa::IntoResponses;

use crate::error::{BasicError, ValidationError};

/// 401 without a valid credential, 403 when the credential may not do this (or has used its
/// hour).
#[derive(Debug, IntoResponses)]
pub enum AuthErrors {
    #[response(status = 401, description = "Requires authentication")]
    Unauthorized(BasicError),
    #[response(status = 403, description = "Forbidden")]
    Forbidden(BasicError),
}

/// 404: what the path names is not the caller's, or does not exist.
#[derive(Debug, IntoResponses)]
pub enum NotFound {
    #[response(status = 404, description = "Resource not found")]
    NotFound(BasicError),
}

/// 404: the enterprise in the path is not the caller's organization's.
#[derive(Debug, IntoResponses)]
pub enum NotEnterprise {
    #[response(
        status = 404,
        description = "Not the enterprise of the caller's organization"
    )]
    NotFound(BasicError),
}

/// 400: the body is not a JSON object.
#[derive(Debug, IntoResponses)]
pub enum MalformedJson {
    #[response(status = 400, description = "Malformed JSON")]
    BadRequest(BasicError),
}

/// 422: a field of the body is missing or invalid.
#[derive(Debug, IntoResponses)]
pub enum Invalid {
    #[response(status = 422, description = "Validation failed")]
    Unprocessable(ValidationError),
}

/// 422: `page` or `per_page` is not a positive integer.
#[derive(Debug, IntoResponses)]
pub enum BadPage {
    #[response(status = 422, description = "Invalid pagination parameters")]
    Unprocessable(ValidationError),
}

/// 500, as GitHub documents it for the token request and grant endpoints.
#[derive(Debug, IntoResponses)]
pub enum InternalError {
    #[response(status = 500, description = "Internal Error")]
    Internal(BasicError),
}

/// Declares a set made of other sets' responses, in order (a later one's status replaces an
/// earlier one's).
macro_rules! error_set {
    ($(#[$doc:meta])* $name:ident = $($part:ty),+) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name;

        impl IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<Response>> {
                let mut responses = BTreeMap::new();
                $(responses.extend(<$part as IntoResponses>::responses());)+
                responses
            }
        }
    };
}

error_set!(
    /// 401, 403 and 404: an operation on something the path names.
    NotFoundErrors = AuthErrors, NotFound
);

error_set!(
    /// 400, 401, 403, 404 and 422: an operation with a JSON body on something the path names.
    BodyErrors = AuthErrors, NotFound, MalformedJson, Invalid
);

error_set!(
    /// 401, 403, 404 and 422: a page of an organization's list, by `page` and `per_page`.
    PageErrors = AuthErrors, NotFound, BadPage
);

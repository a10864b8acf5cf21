//! Reading JSON request bodies by hand, so that every malformed body gets GitHub's status and message rather than a framework default.

use patgate_domain::{IdList, ReviewReason};
use serde_json::{Map, Value};

use crate::error::ApiError;

/// The 422 of a required field that is absent or `null`.
pub(crate) fn missing(resource: &str, field: &str) -> ApiError {
    ApiError::invalid(
        resource,
        field,
        "missing_field",
        format!("{field} is missing"),
    )
}

/// Parses a body that must be a JSON object. An empty body, or `null`, counts as `{}` when
/// `optional`.
pub fn json_object(bytes: &[u8], optional: bool) -> Result<Map<String, Value>, ApiError> {
    if optional && bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(Value::Null) if optional => Ok(Map::new()),
        Ok(_) => Err(ApiError::BadRequest("Body should be a JSON object".into())),
        Err(_) => Err(ApiError::BadRequest("Problems parsing JSON".into())),
    }
}

/// A required string field.
pub fn required_str<'a>(
    map: &'a Map<String, Value>,
    resource: &str,
    field: &str,
) -> Result<&'a str, ApiError> {
    match map.get(field) {
        None | Some(Value::Null) => Err(missing(resource, field)),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(ApiError::invalid(
            resource,
            field,
            "invalid",
            format!("{field} must be a string"),
        )),
    }
}

/// An optional, nullable string field.
pub fn optional_str<'a>(
    map: &'a Map<String, Value>,
    resource: &str,
    field: &str,
) -> Result<Option<&'a str>, ApiError> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ApiError::invalid(
            resource,
            field,
            "invalid",
            format!("{field} must be a string or null"),
        )),
    }
}

/// A required array of integers.
pub fn required_ids(
    map: &Map<String, Value>,
    resource: &str,
    field: &str,
) -> Result<Vec<i64>, ApiError> {
    let invalid = || {
        ApiError::invalid(
            resource,
            field,
            "invalid",
            format!("{field} must be an array of integers"),
        )
    };
    match map.get(field) {
        None | Some(Value::Null) => Err(missing(resource, field)),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_i64().ok_or_else(invalid))
            .collect(),
        Some(_) => Err(invalid()),
    }
}

/// A bulk change's ids: a required array of 1 to 100 distinct ids ([`IdList`]).
pub fn id_list(
    map: &Map<String, Value>,
    resource: &str,
    field: &str,
) -> Result<Vec<i64>, ApiError> {
    IdList::parse(required_ids(map, resource, field)?)
        .map(|ids| ids.as_slice().to_vec())
        .map_err(|e| ApiError::invalid(resource, field, "invalid", e.to_string()))
}

/// A review's or revocation's optional, nullable `reason`, told to the token's owner (at most
/// 1,024 characters).
pub fn reason(map: &Map<String, Value>, resource: &str) -> Result<Option<ReviewReason>, ApiError> {
    optional_str(map, resource, "reason")?
        .map(ReviewReason::parse)
        .transpose()
        .map_err(|e| ApiError::invalid(resource, "reason", "invalid", e.to_string()))
}

/// A request body read whole, at most [`crate::MAX_BODY_BYTES`]; a larger one is 413 with
/// GitHub's error body rather than the framework's plain text.
#[derive(Debug)]
pub struct RawBody(pub actix_web::web::Bytes);

impl actix_web::FromRequest for RawBody {
    type Error = ApiError;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self, ApiError>>>>;

    fn from_request(
        req: &actix_web::HttpRequest,
        payload: &mut actix_web::dev::Payload,
    ) -> Self::Future {
        let bytes = actix_web::web::Bytes::from_request(req, payload);
        Box::pin(async move {
            bytes.await.map(RawBody).map_err(|e| {
                if e.as_response_error().status_code()
                    == actix_web::http::StatusCode::PAYLOAD_TOO_LARGE
                {
                    ApiError::PayloadTooLarge(format!(
                        "Request body is larger than {} bytes",
                        crate::MAX_BODY_BYTES
                    ))
                } else {
                    ApiError::BadRequest("Problems parsing JSON".into())
                }
            })
        })
    }
}

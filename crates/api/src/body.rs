//! Reading JSON request bodies: the documented schema deserialized, then turned into the
//! command it carries, every fault a GitHub-shaped 400 or 422 rather than a framework default.

use patgate_wire::Fault;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use serde_path_to_error::Segment;

use crate::error::ApiError;

/// Reads a body as its documented schema `D` and turns it into the command `C` it carries,
/// so the schema is the parser. Bytes that are not JSON are 400 "Problems parsing JSON"; JSON
/// that is not an object, 400 "Body should be a JSON object"; a field missing, `null` where
/// required, unknown or of the wrong type, 422 naming it; a rule of `C` (its `TryFrom`), 422
/// naming its field. Errors name `resource`, the endpoint's.
pub fn read<D, C>(payload: &RawBody, resource: &str) -> Result<C, ApiError>
where
    D: DeserializeOwned,
    C: TryFrom<D>,
    Fault: From<C::Error>,
{
    parse(json_object(&payload.0, false)?, resource)
}

/// [`read`] for a body that may be left out: an empty body, or `null`, counts as `{}`.
pub fn read_or_empty<D, C>(payload: &RawBody, resource: &str) -> Result<C, ApiError>
where
    D: DeserializeOwned,
    C: TryFrom<D>,
    Fault: From<C::Error>,
{
    parse(json_object(&payload.0, true)?, resource)
}

fn parse<D, C>(map: Map<String, Value>, resource: &str) -> Result<C, ApiError>
where
    D: DeserializeOwned,
    C: TryFrom<D>,
    Fault: From<C::Error>,
{
    let named = |fault: Fault| ApiError::invalid(resource, &fault.field, fault.code, fault.message);
    let body: D =
        serde_path_to_error::deserialize(Value::Object(map)).map_err(|e| named(fault_of(&e)))?;
    C::try_from(body).map_err(|e| named(Fault::from(e)))
}

/// The field a deserialization error is about, and GitHub's code for it. serde names a
/// missing or unknown field in its message (`missing field `x``, `unknown field `x`, …`) and
/// the path to any other fault; a `null` where a value is required counts as missing.
fn fault_of(e: &serde_path_to_error::Error<serde_json::Error>) -> Fault {
    let inner = e.inner().to_string();
    let named = |prefix: &str| {
        inner
            .strip_prefix(prefix)
            .and_then(|rest| rest.split('`').next())
            .map(str::to_owned)
    };
    if let Some(field) = named("missing field `") {
        return Fault::missing(&field);
    }
    if let Some(field) = named("unknown field `") {
        return Fault::invalid(&field, format!("{field} is not a known field: {inner}"));
    }
    let segments: Vec<&Segment> = e.path().iter().collect();
    let field = segments
        .iter()
        .rev()
        .find_map(|s| match s {
            Segment::Map { key } => Some(key.as_str()),
            _ => None,
        })
        .unwrap_or("body");
    let at_field = matches!(segments.last(), Some(Segment::Map { .. }));
    if at_field && inner.starts_with("invalid type: null") {
        return Fault::missing(field);
    }
    Fault::invalid(field, format!("{field}: {inner}"))
}

/// Parses a body that must be a JSON object. An empty body, or `null`, counts as `{}` when
/// `optional`.
fn json_object(bytes: &[u8], optional: bool) -> Result<Map<String, Value>, ApiError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        url: String,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        action: String,
        ids: Option<Vec<i64>>,
        config: Option<Inner>,
    }

    /// The field and code a body gets, or `None` when it is read.
    fn fault(json: &str) -> Option<(String, String)> {
        match read::<Outer, Outer>(&RawBody(json.to_owned().into()), "Thing") {
            Ok(_) => None,
            Err(ApiError::Unprocessable { errors, .. }) => {
                assert_eq!(errors[0].resource, "Thing");
                Some((errors[0].field.clone(), errors[0].code.clone()))
            }
            Err(other) => panic!("{json}: {other:?}"),
        }
    }

    fn named(field: &str, code: &str) -> Option<(String, String)> {
        Some((field.to_owned(), code.to_owned()))
    }

    #[test]
    fn each_fault_names_its_field_and_githubs_code() {
        assert_eq!(fault(r#"{"action": "x"}"#), None);
        assert_eq!(fault("{}"), named("action", "missing_field"));
        assert_eq!(
            fault(r#"{"action": null}"#),
            named("action", "missing_field")
        );
        assert_eq!(fault(r#"{"action": 1}"#), named("action", "invalid"));
        assert_eq!(
            fault(r#"{"action": "x", "what": 1}"#),
            named("what", "invalid")
        );
        assert_eq!(
            fault(r#"{"action": "x", "ids": ["1"]}"#),
            named("ids", "invalid")
        );
        assert_eq!(
            fault(r#"{"action": "x", "ids": [null]}"#),
            named("ids", "invalid")
        );
        assert_eq!(
            fault(r#"{"action": "x", "ids": "1,2"}"#),
            named("ids", "invalid")
        );
        assert_eq!(
            fault(r#"{"action": "x", "config": {}}"#),
            named("url", "missing_field")
        );
        assert_eq!(
            fault(r#"{"action": "x", "config": {"url": null}}"#),
            named("url", "missing_field")
        );
        assert_eq!(
            fault(r#"{"action": "x", "config": {"url": 5}}"#),
            named("url", "invalid")
        );
    }

    #[test]
    fn bodies_that_are_not_json_objects_are_400() {
        for (json, message) in [
            ("", "Problems parsing JSON"),
            ("{", "Problems parsing JSON"),
            ("[]", "Body should be a JSON object"),
            ("null", "Body should be a JSON object"),
        ] {
            match read::<Outer, Outer>(&RawBody(json.to_owned().into()), "Thing") {
                Err(ApiError::BadRequest(m)) => assert_eq!(m, message, "{json}"),
                other => panic!("{json}: {other:?}"),
            }
        }
        #[derive(Debug, Deserialize)]
        struct Loose {
            url: Option<String>,
        }
        for json in ["", " ", "null", "{}"] {
            let read = read_or_empty::<Loose, Loose>(&RawBody(json.into()), "Thing");
            assert!(matches!(read, Ok(Loose { url: None })), "{json}: {read:?}");
        }
        let missing = read::<Loose, Loose>(&RawBody("".into()), "Thing");
        assert!(
            matches!(missing, Err(ApiError::BadRequest(_))),
            "{missing:?}"
        );
    }
}

//! The OpenAPI document: metadata and security schemes; operations are collected from the routes themselves.

use utoipa::openapi::header::{Header, HeaderBuilder};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{Modify, OpenApi};

use crate::auth::UNCOUNTED_ROUTE;
use crate::error::{BasicError, ValidationError};

#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "patgate",
        description = "Governs fine-grained personal access tokens' requests for access to an organization. Wire-compatible with GitHub's REST endpoints for reviewing these requests: only app installations may call the organization endpoints.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    // The error bodies every operation refers to, through the sets of `handlers::errors`
    // (the path macro does not collect schemas from `IntoResponses` types).
    components(schemas(BasicError, ValidationError)),
    modifiers(&Security),
    tags(
        (name = "orgs", description = "An organization's fine-grained personal access token requests and grants, and its webhooks"),
        (name = "apps", description = "App authentication: the app's JWT and installation access tokens"),
        (name = "patgate", description = "patgate's own endpoints: token policy, intake from the token issuer, the access check, the audit trail"),
    )
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "app_jwt",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "The app's JWT: RS256, signed with one of the app's registered private keys; `iss` is the app id or client id; `exp` at most 10 minutes ahead.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "installation_token",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An installation access token (`ghs_…`) from POST /app/installations/{installation_id}/access_tokens; also accepted as `Authorization: token <token>`.",
                    ))
                    .build(),
            ),
        );
    }
}

/// Declares the `X-RateLimit-*` headers on every response of every operation that counts
/// against the caller's hourly limit: those that need a credential, except the access check.
/// Applied to the whole document once the routes' operations are in it.
pub fn document_rate_limits(doc: &mut utoipa::openapi::OpenApi) {
    let headers = declare_rate_limit_headers(doc);
    for (path, item) in doc.paths.paths.iter_mut() {
        if path == UNCOUNTED_ROUTE {
            continue;
        }
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            if operation.security.as_ref().is_none_or(Vec::is_empty) {
                continue;
            }
            for response in operation.responses.responses.values_mut() {
                if let RefOr::T(response) = response {
                    for (name, value) in &headers {
                        response
                            .headers
                            .entry((*name).to_owned())
                            .or_insert_with(|| value.clone());
                    }
                }
            }
        }
    }
}

/// The `X-RateLimit-*` headers: name, type, description.
const RATE_LIMIT_HEADERS: [(&str, Type, &str); 5] = [
    (
        "X-RateLimit-Limit",
        Type::Integer,
        "Requests the caller may make in the current hour. The five `X-RateLimit-*` headers come with every answer to a request that was counted, which is every request but a 401 (no caller to count against).",
    ),
    (
        "X-RateLimit-Remaining",
        Type::Integer,
        "Requests left in the current window; 0 when this request was refused for it.",
    ),
    (
        "X-RateLimit-Used",
        Type::Integer,
        "Requests counted in the current window.",
    ),
    (
        "X-RateLimit-Reset",
        Type::Integer,
        "When the window ends, in UTC epoch seconds.",
    ),
    (
        "X-RateLimit-Resource",
        Type::String,
        "The bucket the request counted against: `core`.",
    ),
];

/// Declares the `X-RateLimit-*` headers once under `components/headers` (GitHub names them
/// `x-rate-limit-…`), and answers each header's name with the reference a response uses.
fn declare_rate_limit_headers(
    doc: &mut utoipa::openapi::OpenApi,
) -> Vec<(&'static str, RefOr<Header>)> {
    let components = doc.components.get_or_insert_with(Default::default);
    let mut headers = Vec::new();
    for (name, ty, description) in RATE_LIMIT_HEADERS {
        let key = format!(
            "x-rate-limit-{}",
            name.trim_start_matches("X-RateLimit-").to_ascii_lowercase()
        );
        let header = HeaderBuilder::new()
            .schema(Some(ObjectBuilder::new().schema_type(ty)))
            .description(Some(description))
            .build();
        components.headers.insert(key.clone(), RefOr::T(header));
        headers.push((
            name,
            RefOr::Ref(Ref::new(format!("#/components/headers/{key}"))),
        ));
    }
    headers
}

/// Declares the `413` every operation that takes a body answers when the body is larger than
/// the server reads ([`crate::MAX_BODY_BYTES`]), with GitHub's error body.
pub fn document_body_limit(doc: &mut utoipa::openapi::OpenApi) {
    let too_large = utoipa::openapi::ResponseBuilder::new()
        .description("The request body is larger than 64 KB")
        .content(
            "application/json",
            utoipa::openapi::Content::new(Some(Ref::from_schema_name("BasicError"))),
        )
        .build();
    for item in doc.paths.paths.values_mut() {
        let operations = [&mut item.put, &mut item.post, &mut item.patch];
        for operation in operations.into_iter().flatten() {
            if operation.request_body.is_some() {
                operation
                    .responses
                    .responses
                    .entry("413".to_owned())
                    .or_insert_with(|| RefOr::T(too_large.clone()));
            }
        }
    }
}

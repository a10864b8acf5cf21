//! The OpenAPI document: metadata and security schemes; operations are collected from the routes themselves.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "patgate",
        description = "Governs fine-grained personal access tokens' requests for access to an organization. Wire-compatible with GitHub's REST endpoints for reviewing these requests: only app installations may call the organization endpoints.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    modifiers(&Security),
    tags(
        (name = "orgs", description = "Fine-grained personal access token requests of an organization"),
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

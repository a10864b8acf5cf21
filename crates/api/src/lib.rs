//! patgate's HTTP API: GitHub-compatible routes for reviewing fine-grained token requests, app authentication, errors, pagination and the OpenAPI document.

pub mod audit_feed;
pub mod auth;
pub mod body;
/// GitHub's JSON shapes (crates/wire), under the name the handlers use.
pub use patgate_wire as dto;
pub mod error;
pub mod handlers;
pub mod health;
pub mod keys;
pub mod list_query;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod openapi30;
pub mod pagination;
pub mod rate_limit;
pub mod responses;
pub mod state;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::from_fn;
use actix_web::{web, HttpResponse};
use utoipa::OpenApi;
use utoipa_actix_web::service_config::ServiceConfig;
use utoipa_actix_web::AppExt;

pub use error::ApiError;
pub use state::AppState;

/// Largest request body accepted: a bulk review of 100 ids with a 1024-character reason is
/// far below it.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Registers every documented route once; the same registration feeds the OpenAPI document.
fn routes(cfg: &mut ServiceConfig) {
    cfg.service(handlers::apps::get_authenticated)
        .service(handlers::apps::list_installations)
        .service(handlers::apps::get_installation)
        .service(handlers::apps::create_installation_access_token)
        .service(handlers::apps::get_org_installation)
        .service(handlers::credentials::suspend_installation)
        .service(handlers::credentials::unsuspend_installation)
        .service(handlers::credentials::revoke_installation_access_token)
        .service(handlers::hooks::get_webhook_config)
        .service(handlers::hooks::update_webhook_config)
        .service(handlers::hooks::list_webhook_deliveries)
        .service(handlers::hooks::get_webhook_delivery)
        .service(handlers::hooks::redeliver_webhook_delivery)
        .service(handlers::hooks::get_webhook_backlog)
        .service(handlers::org_hooks::list_webhooks)
        .service(handlers::org_hooks::create_webhook)
        .service(handlers::org_hooks::get_webhook)
        .service(handlers::org_hooks::update_webhook)
        .service(handlers::org_hooks::delete_webhook)
        .service(handlers::org_hooks::get_webhook_config_for_org)
        .service(handlers::org_hooks::update_webhook_config_for_org)
        .service(handlers::org_hooks::deliveries::list_webhook_deliveries)
        .service(handlers::org_hooks::deliveries::get_webhook_delivery)
        .service(handlers::org_hooks::deliveries::redeliver_webhook_delivery)
        .service(handlers::org_hooks::deliveries::ping_webhook)
        .service(handlers::org_hooks::deliveries::get_org_webhook_backlog)
        .service(handlers::requests::list_pat_grant_requests)
        .service(handlers::requests::review_pat_grant_requests_in_bulk)
        .service(handlers::requests::review_pat_grant_request)
        .service(handlers::requests::list_pat_grant_request_repositories)
        .service(handlers::grants::list_pat_grants)
        .service(handlers::grants::update_pat_accesses)
        .service(handlers::grants::update_pat_access)
        .service(handlers::grants::list_pat_grant_repositories)
        .service(handlers::policy::get_token_policy)
        .service(handlers::policy::set_token_policy)
        .service(handlers::policy::list_audit_events)
        .service(handlers::review_rules::get_review_rules)
        .service(handlers::review_rules::set_review_rules)
        .service(handlers::review_rules::list_review_rules_versions)
        .service(handlers::review_rules::get_review_rules_version)
        .service(handlers::review_rules::get_review_rules_schema)
        .service(handlers::review_rules::dry_run_review_rules)
        .service(handlers::audit_log::get_audit_log)
        .service(handlers::enterprise_policy::get_enterprise_token_policy)
        .service(handlers::enterprise_policy::set_enterprise_token_policy)
        .service(handlers::notifications::get_notification_backlog)
        .service(handlers::notifications::get_notification_settings)
        .service(handlers::notifications::set_notification_settings)
        .service(handlers::intake::submit_token_request)
        .service(handlers::intake::get_token_request)
        .service(handlers::intake::cancel_token_request)
        .service(handlers::intake::report_token_use)
        .service(handlers::intake::check_token_access);
}

/// The OpenAPI document as served and committed.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, doc) = actix_web::App::new()
        .into_utoipa_app()
        .openapi(openapi::ApiDoc::openapi())
        .configure(routes)
        .split_for_parts();
    let mut doc = doc;
    openapi::document_body_limit(&mut doc);
    openapi::document_rate_limits(&mut doc);
    doc
}

/// The pretty-printed JSON of [`openapi`], exactly as committed under `openapi/`.
pub fn openapi_json() -> String {
    let mut text = openapi().to_pretty_json().unwrap_or_default();
    text.push('\n');
    text
}

/// The same document down-converted to OpenAPI 3.0.3 (see [`openapi30`]), pretty-printed, as
/// committed in `openapi/openapi-3.0.json` for 3.0-only tools such as progenitor.
pub fn openapi_json_30() -> String {
    let doc = serde_json::to_value(openapi()).unwrap_or_default();
    let doc = sorted(openapi30::down_convert(&doc));
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    text.push('\n');
    text
}

/// `value` with every object's keys in order: the committed 3.0 document reads the same
/// whichever order serde_json keeps keys in (a dependency may turn on its `preserve_order`).
fn sorted(value: serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => {
            let mut entries: Vec<(String, serde_json::Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            serde_json::Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        serde_json::Value::Array(items) => {
            serde_json::Value::Array(items.into_iter().map(sorted).collect())
        }
        other => other,
    }
}

/// The whole application: routes, error handlers and middleware. Used by the server and by
/// tests alike.
pub fn build_app(
    state: AppState,
) -> actix_web::App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let (app, _) = actix_web::App::new()
        .into_utoipa_app()
        .openapi(openapi::ApiDoc::openapi())
        .map(|app| {
            app.wrap(from_fn(middleware::github_headers))
                .wrap(from_fn(middleware::request_log))
                .app_data(web::Data::new(state))
                .app_data(web::PayloadConfig::new(MAX_BODY_BYTES))
                .app_data(
                    web::PathConfig::default().error_handler(|_, _| ApiError::NotFound.into()),
                )
        })
        .configure(routes)
        .split_for_parts();
    app.service(
        utoipa_swagger_ui::SwaggerUi::new("/docs/{_:.*}").url("/docs/openapi.json", openapi()),
    )
    .route("/docs", web::get().to(docs_redirect))
    .route("/openapi.json", web::get().to(openapi_document))
    .route("/", web::get().to(root))
    .service(probe(health::LIVENESS_PATH, health::healthz))
    .service(probe(health::READINESS_PATH, health::readyz))
    .default_service(web::to(not_found))
}

/// A probe's route, for `GET` and `HEAD` (which some load balancers send).
fn probe<F, Args>(path: &str, handler: F) -> actix_web::Resource
where
    F: actix_web::Handler<Args> + Clone,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    web::resource(path)
        .route(web::get().to(handler.clone()))
        .route(web::head().to(handler))
}

async fn openapi_document() -> HttpResponse {
    static DOC: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HttpResponse::Ok()
        .content_type("application/json")
        .body(DOC.get_or_init(openapi_json).clone())
}

/// The human-readable API reference (Swagger UI, served from the binary: no internet needed).
async fn docs_redirect() -> HttpResponse {
    HttpResponse::Found()
        .insert_header((actix_web::http::header::LOCATION, "/docs/"))
        .finish()
}

/// Where the document and the reference are. Without credentials as with them; a credential
/// that is sent must be a valid installation token (checked without the database once the
/// token is cached), as GitHub refuses a bad credential on any route.
async fn root(state: web::Data<AppState>, _caller: auth::OptionalInstallation) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({
        "name": "patgate",
        "version": env!("CARGO_PKG_VERSION"),
        "openapi_url": format!("{}/openapi.json", state.base_url),
        "docs_url": format!("{}/docs/", state.base_url),
    }))
}

async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}

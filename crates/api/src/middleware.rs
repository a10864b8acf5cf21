//! Cross-cutting request handling: request ids, access logs and request metrics, and GitHub's header rules.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, ResponseError};

use crate::error::{error_chain, ApiError};
use crate::keys::random_hex;

/// API versions a client may ask for in `X-GitHub-Api-Version`.
pub const API_VERSIONS: [&str; 2] = ["2022-11-28", "2026-03-10"];
pub const REQUEST_ID_HEADER: &str = "x-github-request-id";

/// Gives every request an id (sent back as `X-GitHub-Request-Id`), logs one line per request,
/// counts it in the metrics, and logs the error chain of every 5xx with that id.
pub async fn request_log(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let request_id = random_hex()[..16].to_ascii_uppercase();
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.path().to_owned();
    let mut res = next.call(req).await?;
    // The caller's rate-limit quota, when its request was counted (see `auth::count`).
    let quota = res
        .request()
        .extensions()
        .get::<crate::rate_limit::Quota>()
        .copied();
    if let Some(quota) = quota {
        quota.write(res.headers_mut());
    }
    let status = res.status();
    // Once routed, actix builds the template from the route it took, without matching again.
    let route = res.request().match_pattern();
    crate::metrics::count_request(res.request(), route.as_deref(), status, started.elapsed());
    let who = res
        .request()
        .extensions()
        .get::<crate::auth::Identified>()
        .copied();
    let (app_id, installation_id, org_id) = match who {
        Some(w) => (Some(w.app_id), w.installation_id, w.org_id),
        None => (None, None, None),
    };
    if status.is_server_error() {
        if let Some(err) = res.response().error() {
            let chain = match err.as_error::<ApiError>() {
                Some(api) => error_chain(api),
                None => err.to_string(),
            };
            tracing::error!(request_id, %method, path, status = status.as_u16(), error = chain, "request failed");
        }
    }
    tracing::info!(
        request_id,
        %method,
        route = route.as_deref().unwrap_or("-"),
        path,
        status = status.as_u16(),
        elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
        app_id,
        installation_id,
        org_id,
        "request"
    );
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        res.headers_mut()
            .insert(HeaderName::from_static(REQUEST_ID_HEADER), value);
    }
    Ok(res)
}

/// GitHub's sentence for a version it does not serve: the versions newest first, the newest
/// marked "(most recent)".
pub fn unsupported_version(asked: &str) -> String {
    let mut served: Vec<&str> = API_VERSIONS.to_vec();
    served.sort_unstable_by(|a, b| b.cmp(a));
    let quoted: Vec<String> = served
        .iter()
        .enumerate()
        .map(|(i, v)| {
            if i == 0 {
                format!("\"{v}\" (most recent)")
            } else {
                format!("\"{v}\"")
            }
        })
        .collect();
    let list = match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => quoted.join(""),
    };
    format!(
        "The version you specified in the \"X-GitHub-API-Version\" request header, \"{asked}\", is not a supported version. The following versions are currently supported: {list}."
    )
}

/// GitHub's header rules: an unknown `X-GitHub-Api-Version` is 400, and a request without a
/// `User-Agent` is refused. Not for the probes, which a load balancer may send bare.
pub async fn github_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<actix_web::body::EitherBody<impl MessageBody>>, Error> {
    if crate::health::is_probe(req.path()) {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    let refusal = if let Some(version) = req.headers().get("x-github-api-version") {
        let known = version
            .to_str()
            .is_ok_and(|v| API_VERSIONS.contains(&v.trim()));
        (!known).then(|| {
            ApiError::UnsupportedVersion(unsupported_version(
                &String::from_utf8_lossy(version.as_bytes()),
            ))
        })
    } else {
        None
    }
    .or_else(|| {
        (!req.headers().contains_key(actix_web::http::header::USER_AGENT)).then(|| {
            ApiError::Forbidden(
                "Request forbidden by administrative rules. Please make sure your request has a User-Agent header".into(),
            )
        })
    });
    match refusal {
        Some(err) => {
            let res = err.error_response();
            Ok(req.into_response(res).map_into_right_body())
        }
        None => Ok(next.call(req).await?.map_into_left_body()),
    }
}

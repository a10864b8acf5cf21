//! Every metric patgate exports, in one place: its name, type, labels and help text, the
//! functions the other crates call to record it, and the Prometheus recorder that renders
//! them (`Exporter`). Label values come from the enums below or from bounded sets (route
//! templates, methods, statuses), never from input such as paths, ids or tokens.
//!
//! Nothing is recorded until [`Exporter::install`] runs (the server calls it only when
//! `PATGATE_METRICS_BIND` is set); until then every function here is a no-op.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use metrics::{Counter, Gauge, Histogram, Unit};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// The names of every metric, as Prometheus shows them.
pub mod names {
    pub const BUILD_INFO: &str = "patgate_build_info";
    pub const HTTP_REQUESTS: &str = "patgate_http_requests_total";
    pub const HTTP_DURATION: &str = "patgate_http_request_duration_seconds";
    pub const POOL_CONNECTIONS: &str = "patgate_db_pool_connections";
    pub const POOL_MAX: &str = "patgate_db_pool_max_connections";
    pub const POOL_WAIT: &str = "patgate_db_pool_wait_seconds";
    pub const POOL_TIMEOUTS: &str = "patgate_db_pool_timeouts_total";
    pub const OUTBOX_PENDING: &str = "patgate_outbox_pending";
    pub const OUTBOX_FAILED: &str = "patgate_outbox_failed";
    pub const OUTBOX_OLDEST_DUE_AGE: &str = "patgate_outbox_oldest_due_age_seconds";
    pub const OUTBOX_ATTEMPTS: &str = "patgate_outbox_attempts_total";
    pub const CACHE_HITS: &str = "patgate_response_cache_hits_total";
    pub const CACHE_MISSES: &str = "patgate_response_cache_misses_total";
    pub const CACHE_BYTES: &str = "patgate_response_cache_bytes";
    pub const RATE_LIMIT_REFUSALS: &str = "patgate_rate_limit_refusals_total";
    pub const AUTH_REFUSALS: &str = "patgate_auth_refusals_total";
    pub const EXPIRY_SWEEPS: &str = "patgate_expiry_sweeps_total";
    pub const EXPIRED: &str = "patgate_expiry_expired_total";
}

use names::*;

/// A label's closed set of values.
macro_rules! label_values {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every value, each exported at zero from the start.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The label value.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }
        }
    };
}

label_values! {
    /// The `outbox` label.
    Outbox {
        Webhook = "webhook",
        Email = "email",
    }
}

label_values! {
    /// The `outcome` label of an outbox attempt.
    Outcome {
        /// The receiver took it (a 2xx answer; the mail server accepted it).
        Sent = "sent",
        /// It failed and is tried again later.
        Retry = "retry",
        /// It failed for good (attempts used up, permanent refusal, hook removed).
        Failed = "failed",
        /// Nothing to send (no mail server, nobody to send to).
        Skipped = "skipped",
        /// The lease ended before the attempt was recorded; another instance sends it.
        LeaseLost = "lease_lost",
        /// The attempt could not be recorded (database error); it is sent again.
        Unrecorded = "unrecorded",
    }
}

label_values! {
    /// The `caller` label of a rate-limit refusal.
    Limited {
        Installation = "installation",
        App = "app",
    }
}

label_values! {
    /// The `kind` label of a refused credential: what was presented, or why it failed.
    Refused {
        /// No `Authorization` header.
        Missing = "missing",
        /// A header without a credential, unreadable, or with an unaccepted scheme.
        Malformed = "malformed",
        /// `ghp_…`.
        ClassicPat = "classic_pat",
        /// `github_pat_…`.
        FineGrainedPat = "fine_grained_pat",
        /// `gho_…`.
        OauthToken = "oauth_token",
        /// `ghu_…`.
        UserToken = "user_token",
        /// `ghr_…`.
        RefreshToken = "refresh_token",
        /// `ghs_` and 36 characters: another server's installation token.
        ForeignInstallationToken = "foreign_installation_token",
        /// A `ghs_` token whose signature or claims do not verify.
        BadInstallationToken = "bad_installation_token",
        ExpiredInstallationToken = "expired_installation_token",
        RevokedInstallationToken = "revoked_installation_token",
        SuspendedInstallation = "suspended_installation",
        /// An installation token where the app's JWT is required.
        InstallationTokenForApp = "installation_token_for_app",
        /// An app JWT that does not verify (unknown issuer, signature, times).
        BadAppJwt = "bad_app_jwt",
        /// A valid app JWT where an installation token is required.
        AppJwtForInstallation = "app_jwt_for_installation",
        /// Anything else.
        Unknown = "unknown",
    }
}

label_values! {
    /// The `kind` label of what an expiry sweep expired.
    Expired {
        Request = "request",
        Grant = "grant",
    }
}

/// Upper bounds of the request latency buckets, in seconds.
const HTTP_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Upper bounds of the pool checkout wait buckets, in seconds.
const POOL_BUCKETS: &[f64] = &[
    0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// The `route` label of a request no route matched (its path is never a label).
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// The handles of the metrics recorded on hot paths, registered once when the recorder is
/// installed: recording through one is an atomic update, not a key built and looked up.
/// Unset (and nothing recorded through them) until then.
struct Hot {
    cache_hits: Counter,
    cache_misses: Counter,
    cache_bytes: Gauge,
    pool_wait: Histogram,
}

static HOT: OnceLock<Hot> = OnceLock::new();

/// Whether metrics are recorded in this process (the recorder is installed).
pub fn enabled() -> bool {
    HOT.get().is_some()
}

/// The process's Prometheus recorder: installed once, rendered on every scrape.
#[derive(Debug, Clone)]
pub struct Exporter {
    handle: PrometheusHandle,
}

/// Why the recorder could not be installed.
#[derive(Debug, thiserror::Error)]
#[error("cannot install the metrics recorder")]
pub struct InstallError(#[source] metrics_exporter_prometheus::BuildError);

impl Exporter {
    /// Installs patgate's recorder as the process's. Later calls return the same exporter, so
    /// that code run several times in one process (tests) does not fail; it fails only when
    /// another recorder was installed first.
    pub fn install() -> Result<Self, InstallError> {
        static INSTALLED: OnceLock<PrometheusHandle> = OnceLock::new();
        static INSTALLING: Mutex<()> = Mutex::new(());
        let _one_at_a_time = INSTALLING.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(handle) = INSTALLED.get() {
            return Ok(Self {
                handle: handle.clone(),
            });
        }
        let handle = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(HTTP_DURATION.to_owned()), HTTP_BUCKETS)
            .and_then(|b| {
                b.set_buckets_for_metric(Matcher::Full(POOL_WAIT.to_owned()), POOL_BUCKETS)
            })
            .and_then(PrometheusBuilder::install_recorder)
            .map_err(InstallError)?;
        describe();
        start_at_zero();
        metrics::gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
        let _ = HOT.set(Hot {
            cache_hits: metrics::counter!(CACHE_HITS),
            cache_misses: metrics::counter!(CACHE_MISSES),
            cache_bytes: metrics::gauge!(CACHE_BYTES),
            pool_wait: metrics::histogram!(POOL_WAIT),
        });
        let _ = INSTALLED.set(handle.clone());
        Ok(Self { handle })
    }

    /// The scrape: every metric in Prometheus' text format.
    pub fn render(&self) -> String {
        self.handle.render()
    }

    /// Drains recorded latencies into their buckets; to be called every few seconds, so that
    /// they do not pile up in memory between scrapes.
    pub fn upkeep(&self) {
        self.handle.run_upkeep();
    }
}

/// The help text and unit of every metric.
fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_gauge!(BUILD_INFO, "The running patgate's version; always 1.");
    describe_counter!(
        HTTP_REQUESTS,
        "HTTP requests answered, by route template, method and status."
    );
    describe_histogram!(
        HTTP_DURATION,
        Unit::Seconds,
        "Time from a request's arrival to its answer, by route template and method."
    );
    describe_gauge!(
        POOL_CONNECTIONS,
        "Database connections of this process's pool, by state (in_use, idle)."
    );
    describe_gauge!(POOL_MAX, "The most database connections the pool may open.");
    describe_histogram!(
        POOL_WAIT,
        Unit::Seconds,
        "Time taken to get a connection from the database pool."
    );
    describe_counter!(
        POOL_TIMEOUTS,
        "Requests for a database connection that timed out waiting for the pool."
    );
    describe_gauge!(
        OUTBOX_PENDING,
        "Rows of the outbox still to send (shared by every instance), read at scrape time."
    );
    describe_gauge!(
        OUTBOX_FAILED,
        "Rows of the outbox that failed for good and are still kept, read at scrape time."
    );
    describe_gauge!(
        OUTBOX_OLDEST_DUE_AGE,
        Unit::Seconds,
        "How long the oldest due row of the outbox has waited past its due time; 0 when none is due."
    );
    describe_counter!(
        OUTBOX_ATTEMPTS,
        "Send attempts made by this instance, by outbox and outcome."
    );
    describe_counter!(
        CACHE_HITS,
        "Reads answered from the answers kept in memory."
    );
    describe_counter!(
        CACHE_MISSES,
        "Reads that could be kept but were read from the database."
    );
    describe_gauge!(CACHE_BYTES, Unit::Bytes, "Bytes of answers kept in memory.");
    describe_counter!(
        RATE_LIMIT_REFUSALS,
        "Requests refused past the caller's hourly rate limit, by caller kind."
    );
    describe_counter!(
        AUTH_REFUSALS,
        "Requests whose credential was refused (401 or 403), by credential kind or reason."
    );
    describe_counter!(
        EXPIRY_SWEEPS,
        "Expiry sweeps run by this instance, by result (ok, error)."
    );
    describe_counter!(
        EXPIRED,
        "Requests and grants the expiry sweeps expired, by kind."
    );
}

/// Exports every series of a closed label set at zero, so that `rate` and `increase` see
/// the first event and dashboards show a line before anything happened.
fn start_at_zero() {
    for &outbox in Outbox::ALL {
        for &outcome in Outcome::ALL {
            attempt(outbox, outcome, 0);
        }
    }
    for &caller in Limited::ALL {
        metrics::counter!(RATE_LIMIT_REFUSALS, "caller" => caller.as_str()).absolute(0);
    }
    for &kind in Refused::ALL {
        metrics::counter!(AUTH_REFUSALS, "kind" => kind.as_str()).absolute(0);
    }
    for &kind in Expired::ALL {
        metrics::counter!(EXPIRED, "kind" => kind.as_str()).absolute(0);
    }
    for result in ["ok", "error"] {
        metrics::counter!(EXPIRY_SWEEPS, "result" => result).absolute(0);
    }
    metrics::counter!(POOL_TIMEOUTS).absolute(0);
    metrics::counter!(CACHE_HITS).absolute(0);
    metrics::counter!(CACHE_MISSES).absolute(0);
    metrics::gauge!(CACHE_BYTES).set(0.0);
}

/// One route's handles, per method and status, so that a request costs a lookup in this
/// thread's map and two atomic updates, not a key built and hashed per metric.
struct RouteHandles {
    method: &'static str,
    status: u16,
    requests: Counter,
    latency: Histogram,
}

thread_local! {
    static ROUTES: RefCell<HashMap<Box<str>, Vec<RouteHandles>>> = RefCell::new(HashMap::new());
}

/// The method as a label: the standard ones, anything else `other` (a client may send any
/// token as a method).
fn method_label(method: &str) -> &'static str {
    const KNOWN: [&str; 9] = [
        "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT",
    ];
    KNOWN
        .into_iter()
        .find(|known| *known == method)
        .unwrap_or("other")
}

/// Counts an answered request and its latency. `route` is the matched route's template
/// (`/orgs/{org}/…`), `None` when no route matched.
pub fn http_request(route: Option<&str>, method: &str, status: u16, elapsed: Duration) {
    if !enabled() {
        return;
    }
    let route = route.unwrap_or(UNMATCHED_ROUTE);
    let method = method_label(method);
    ROUTES.with_borrow_mut(|routes| {
        if !routes.contains_key(route) {
            routes.insert(route.into(), Vec::new());
        }
        let Some(handles) = routes.get_mut(route) else {
            return;
        };
        let index = match handles
            .iter()
            .position(|h| h.status == status && h.method == method)
        {
            Some(index) => index,
            None => {
                handles.push(RouteHandles {
                    method,
                    status,
                    requests: metrics::counter!(HTTP_REQUESTS, "route" => route.to_owned(), "method" => method, "status" => status.to_string()),
                    latency: metrics::histogram!(HTTP_DURATION, "route" => route.to_owned(), "method" => method),
                });
                handles.len() - 1
            }
        };
        let handles = &handles[index];
        handles.requests.increment(1);
        handles.latency.record(elapsed.as_secs_f64());
    });
}

/// A connection taken from the database pool after `wait`.
pub fn pool_checkout(wait: Duration) {
    if let Some(hot) = HOT.get() {
        hot.pool_wait.record(wait.as_secs_f64());
    }
}

/// A wait for a pooled connection that timed out.
pub fn pool_timeout() {
    metrics::counter!(POOL_TIMEOUTS).increment(1);
}

/// The pool's connections now: opened, idle among them, and the most it may open.
pub fn pool_state(connections: u32, idle: u32, max: u32) {
    let in_use = connections.saturating_sub(idle);
    metrics::gauge!(POOL_CONNECTIONS, "state" => "in_use").set(f64::from(in_use));
    metrics::gauge!(POOL_CONNECTIONS, "state" => "idle").set(f64::from(idle));
    metrics::gauge!(POOL_MAX).set(f64::from(max));
}

/// `count` attempts of `outbox` that ended in `outcome`.
pub fn attempt(outbox: Outbox, outcome: Outcome, count: u64) {
    metrics::counter!(OUTBOX_ATTEMPTS, "outbox" => outbox.as_str(), "outcome" => outcome.as_str())
        .increment(count);
}

/// An outbox's backlog now: rows pending, rows failed, and how long the oldest due row has
/// waited past its due time.
pub fn backlog(outbox: Outbox, pending: i64, failed: i64, oldest_due_age: Duration) {
    let label = outbox.as_str();
    // Counts far below 2^53: exact as f64.
    let (pending, failed) = (pending as f64, failed as f64);
    metrics::gauge!(OUTBOX_PENDING, "outbox" => label).set(pending);
    metrics::gauge!(OUTBOX_FAILED, "outbox" => label).set(failed);
    metrics::gauge!(OUTBOX_OLDEST_DUE_AGE, "outbox" => label).set(oldest_due_age.as_secs_f64());
}

/// A read answered from the kept answers.
pub fn cache_hit() {
    if let Some(hot) = HOT.get() {
        hot.cache_hits.increment(1);
    }
}

/// A read that could have been kept, read from the database.
pub fn cache_miss() {
    if let Some(hot) = HOT.get() {
        hot.cache_misses.increment(1);
    }
}

/// The bytes of answers kept now.
pub fn cache_bytes(bytes: usize) {
    if let Some(hot) = HOT.get() {
        hot.cache_bytes.set(bytes as f64);
    }
}

/// A request refused past its caller's hourly limit.
pub fn rate_limited(caller: Limited) {
    metrics::counter!(RATE_LIMIT_REFUSALS, "caller" => caller.as_str()).increment(1);
}

/// A request whose credential was refused.
pub fn credential_refused(kind: Refused) {
    metrics::counter!(AUTH_REFUSALS, "kind" => kind.as_str()).increment(1);
}

/// An expiry sweep that ran to its end (`ok`) or failed.
pub fn expiry_sweep(ok: bool) {
    let result = if ok { "ok" } else { "error" };
    metrics::counter!(EXPIRY_SWEEPS, "result" => result).increment(1);
}

/// What one batch of a sweep expired.
pub fn expired(requests: usize, grants: usize) {
    for (kind, count) in [(Expired::Request, requests), (Expired::Grant, grants)] {
        if count > 0 {
            metrics::counter!(EXPIRED, "kind" => kind.as_str())
                .increment(u64::try_from(count).unwrap_or(u64::MAX));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line_of<'a>(text: &'a str, start: &str) -> Option<&'a str> {
        text.lines().find(|l| l.starts_with(start))
    }

    #[test]
    fn installing_twice_gives_the_same_recorder_and_records_by_route_template() {
        let first = Exporter::install().expect("installed");
        let second = Exporter::install().expect("installed again");
        http_request(
            Some("/orgs/{org}/things"),
            "GET",
            200,
            Duration::from_millis(3),
        );
        http_request(None, "BREW", 404, Duration::from_micros(80));
        let text = second.render();
        // One recorder: what was recorded shows through either handle.
        assert!(first.render().contains(r#"route="/orgs/{org}/things""#));
        assert!(
            line_of(
                &text,
                r#"patgate_http_requests_total{route="/orgs/{org}/things",method="GET",status="200"} 1"#
            )
            .is_some(),
            "{text}"
        );
        assert!(
            line_of(
                &text,
                r#"patgate_http_requests_total{route="unmatched",method="other",status="404"} 1"#
            )
            .is_some(),
            "{text}"
        );
        assert!(
            line_of(
                &text,
                r#"patgate_http_request_duration_seconds_bucket{route="/orgs/{org}/things",method="GET",le="0.005"} 1"#
            )
            .is_some(),
            "{text}"
        );
        assert!(text.contains(&format!(
            "patgate_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        )));
    }

    #[test]
    fn every_closed_label_set_starts_at_zero_with_help() {
        let text = Exporter::install().expect("installed").render();
        for kind in Refused::ALL {
            let series = format!("patgate_auth_refusals_total{{kind=\"{}\"}}", kind.as_str());
            assert!(line_of(&text, &series).is_some(), "{series} missing");
        }
        for outcome in Outcome::ALL {
            let series = format!(
                "patgate_outbox_attempts_total{{outbox=\"email\",outcome=\"{}\"}}",
                outcome.as_str()
            );
            assert!(line_of(&text, &series).is_some(), "{series} missing");
        }
        assert!(text.contains("# HELP patgate_auth_refusals_total "));
        assert!(text.contains("# TYPE patgate_auth_refusals_total counter"));
    }

    #[test]
    fn methods_outside_the_standard_set_share_one_label() {
        assert_eq!(method_label("PATCH"), "PATCH");
        assert_eq!(method_label("get"), "other");
        assert_eq!(method_label("PROPFIND"), "other");
    }
}

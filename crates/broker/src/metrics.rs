//! The broker's Prometheus metrics (OpenMetrics text at `/metrics`), one registry per
//! [`crate::AppState`] so replicas in one test process each count their own.
//!
//! Labels are bounded: route templates, catalog app and function names (only once the catalog
//! knows them), error codes and fixed outcome words; never user ids, account ids or raw paths.

use hyper::Method;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// An HTTP request, by route template.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// Request method, from [`method_label`].
    pub method: &'static str,
    /// Route template, or `unmatched`.
    pub route: String,
    /// Response status.
    pub status: u16,
}

/// The method label of a request: the standard methods by name, any other as `other`. A client
/// chooses the method, and any token is one, so naming each would let it grow the label set
/// without bound.
pub fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

/// An invoke of a catalog function.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct InvokeLabels {
    /// Catalog app id.
    pub app: String,
    /// Catalog function name.
    pub function: String,
    /// `ok` or the error code.
    pub outcome: &'static str,
}

/// An app and a fixed outcome word.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AppOutcome {
    /// Catalog app id.
    pub app: String,
    /// Fixed word (a status class, an outcome, an error code).
    pub outcome: &'static str,
}

/// A fixed outcome word.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Outcome {
    /// Fixed word.
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

fn seconds() -> Histogram {
    // 1 ms to about 33 s: a proxied call through its whole retry deadline.
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

/// Every metric the broker keeps.
pub struct Metrics {
    registry: Registry,
    /// HTTP requests by method, route template and status.
    pub requests: Family<RequestLabels, Counter>,
    /// HTTP request latency by method, route template and status.
    pub request_seconds: Histograms<RequestLabels>,
    /// Invokes by app, function and outcome.
    pub invokes: Family<InvokeLabels, Counter>,
    /// Invoke latency by app, function and outcome (retries and refreshes included).
    pub invoke_seconds: Histograms<InvokeLabels>,
    /// Upstream answers to invoke requests by app and status class (`2xx`…`5xx`, `unanswered`).
    pub upstream_responses: Family<AppOutcome, Counter>,
    /// Token refreshes by outcome: `ok`, `rotated`, `invalid_grant`, `unavailable`, `error`.
    pub refreshes: Family<Outcome, Counter>,
    /// Callers that waited for another process's refresh lease.
    pub refresh_lease_waits: Counter,
    /// Connect attempts by app and outcome (`authorize`, `connected`, `reconnected` or the error code).
    pub connects: Family<AppOutcome, Counter>,
    /// Open database connections, read at each scrape.
    pub db_connections: Gauge,
    /// Rounds of the background refresher this process ran.
    pub background_rounds: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut metrics = Metrics {
            requests: Family::default(),
            request_seconds: Family::new_with_constructor(seconds),
            invokes: Family::default(),
            invoke_seconds: Family::new_with_constructor(seconds),
            upstream_responses: Family::default(),
            refreshes: Family::default(),
            refresh_lease_waits: Counter::default(),
            connects: Family::default(),
            db_connections: Gauge::default(),
            background_rounds: Counter::default(),
            registry: Registry::with_prefix("patchbay"),
        };
        let registry = &mut metrics.registry;
        registry.register(
            "http_requests",
            "HTTP requests by route template and status",
            metrics.requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route template and status",
            metrics.request_seconds.clone(),
        );
        registry.register(
            "invokes",
            "Function invokes by app, function and outcome",
            metrics.invokes.clone(),
        );
        registry.register(
            "invoke_duration_seconds",
            "Invoke latency, retries and refreshes included",
            metrics.invoke_seconds.clone(),
        );
        registry.register(
            "upstream_responses",
            "Upstream answers to invoke requests by app and status class",
            metrics.upstream_responses.clone(),
        );
        registry.register("oauth_refreshes", "OAuth token refreshes by outcome", metrics.refreshes.clone());
        registry.register(
            "oauth_refresh_lease_waits",
            "Callers that waited for another process's refresh of the same account",
            metrics.refresh_lease_waits.clone(),
        );
        registry.register("connects", "Connect attempts by app and outcome", metrics.connects.clone());
        registry.register("db_connections", "Open database connections", metrics.db_connections.clone());
        registry.register(
            "background_refresh_rounds",
            "Rounds of the background refresher in this process",
            metrics.background_rounds.clone(),
        );
        let build: Family<BuildLabels, Gauge> = Family::default();
        build.get_or_create(&BuildLabels { version: env!("CARGO_PKG_VERSION") }).set(1);
        registry.register("build_info", "The broker's version", build);
        metrics
    }
}

impl Metrics {
    /// The OpenMetrics text of every metric.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }

    /// Counts an upstream answer (`Some(status)`) or its absence for `app`.
    pub fn upstream(&self, app: &str, status: Option<u16>) {
        let outcome = match status {
            Some(100..=199) => "1xx",
            Some(200..=299) => "2xx",
            Some(300..=399) => "3xx",
            Some(400..=499) => "4xx",
            Some(_) => "5xx",
            None => "unanswered",
        };
        self.upstream_responses.get_or_create(&AppOutcome { app: app.to_owned(), outcome }).inc();
    }

    /// Counts a connect attempt's outcome for `app`.
    pub fn connect(&self, app: &str, outcome: &'static str) {
        self.connects.get_or_create(&AppOutcome { app: app.to_owned(), outcome }).inc();
    }

    /// Counts a refresh outcome.
    pub fn refresh(&self, outcome: &'static str) {
        self.refreshes.get_or_create(&Outcome { outcome }).inc();
    }
}

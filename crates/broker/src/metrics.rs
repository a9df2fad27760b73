//! The broker's Prometheus metrics (OpenMetrics text at `/metrics`), one registry per
//! [`crate::AppState`] so replicas in one test process each count their own.
//!
//! Labels are bounded: route templates, catalog app and function names (only once the catalog
//! knows them), error codes and fixed outcome words; never user ids, account ids or raw paths.

use std::hash::Hash;
use std::sync::{PoisonError, RwLock};

use hashbrown::{Equivalent, HashMap};
use hyper::Method;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// An HTTP request, by route template.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    /// Request method, from [`method_label`].
    method: &'static str,
    /// Route template, or `unmatched`.
    route: String,
    /// Response status.
    status: u16,
}

/// [`RequestLabels`], borrowed. Fields in the same order and of types that hash alike, so both
/// hash the same.
#[derive(Hash)]
struct RequestKey<'a> {
    method: &'static str,
    route: &'a str,
    status: u16,
}

impl Equivalent<RequestLabels> for RequestKey<'_> {
    fn equivalent(&self, labels: &RequestLabels) -> bool {
        self.method == labels.method && self.route == labels.route && self.status == labels.status
    }
}

/// The method label of a request: the standard methods by name, any other as `other`. A client
/// chooses the method, and any token is one, so naming each would let it grow the label set
/// without bound.
fn method_label(method: &Method) -> &'static str {
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
struct InvokeLabels {
    /// Catalog app id.
    app: String,
    /// Catalog function name.
    function: String,
    /// `ok` or the error code.
    outcome: &'static str,
}

/// [`InvokeLabels`], borrowed.
#[derive(Hash)]
struct InvokeKey<'a> {
    app: &'a str,
    function: &'a str,
    outcome: &'static str,
}

impl Equivalent<InvokeLabels> for InvokeKey<'_> {
    fn equivalent(&self, labels: &InvokeLabels) -> bool {
        self.app == labels.app && self.function == labels.function && self.outcome == labels.outcome
    }
}

/// An app and a fixed outcome word.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AppOutcome {
    /// Catalog app id.
    app: String,
    /// Fixed word (a status class, an outcome, an error code).
    outcome: &'static str,
}

/// [`AppOutcome`], borrowed.
#[derive(Hash)]
struct AppOutcomeKey<'a> {
    app: &'a str,
    outcome: &'static str,
}

impl Equivalent<AppOutcome> for AppOutcomeKey<'_> {
    fn equivalent(&self, labels: &AppOutcome) -> bool {
        self.app == labels.app && self.outcome == labels.outcome
    }
}

/// The handles of one label set's metrics, found by its labels borrowed.
///
/// A `Family` lookup takes owned labels and SipHashes them, once per metric, and the hot paths
/// record on every request and every invoke. One lookup here finds all of a label set's handles
/// without allocating; they share their values with the family's. The fast hash is safe because
/// every label is bounded and none is chosen freely by a caller.
struct Handles<K, V>(RwLock<HashMap<K, V>>);

impl<K, V> Default for Handles<K, V> {
    fn default() -> Self {
        Handles(RwLock::new(HashMap::new()))
    }
}

impl<K: Hash + Eq, V> Handles<K, V> {
    /// Runs `record` on the handles for `key`, made by `make` the first time.
    fn record<Q>(&self, key: &Q, make: impl FnOnce() -> (K, V), record: impl FnOnce(&V))
    where
        Q: Hash + Equivalent<K>,
    {
        if let Some(handles) = self.0.read().unwrap_or_else(PoisonError::into_inner).get(key) {
            return record(handles);
        }
        let (labels, handles) = make();
        record(self.0.write().unwrap_or_else(PoisonError::into_inner).entry(labels).or_insert(handles));
    }
}

/// A fixed outcome word.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    /// Fixed word.
    outcome: &'static str,
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

/// A count and a latency histogram over one label set, recorded together through their handles.
struct Timed<L> {
    counts: Family<L, Counter>,
    latencies: Histograms<L>,
    handles: Handles<L, (Counter, Histogram)>,
}

impl<L: Clone + Hash + Eq> Default for Timed<L> {
    fn default() -> Self {
        Timed {
            counts: Family::default(),
            latencies: Family::new_with_constructor(seconds),
            handles: Handles::default(),
        }
    }
}

impl<L: Clone + Hash + Eq> Timed<L> {
    /// Counts one event of `key`'s label set and records its latency; `labels` makes the owned
    /// labels the first time the set is seen.
    fn record<Q: Hash + Equivalent<L>>(&self, key: &Q, labels: impl FnOnce() -> L, seconds: f64) {
        let make = || {
            let labels = labels();
            let count = Counter::clone(&self.counts.get_or_create(&labels));
            let latency = Histogram::clone(&self.latencies.get_or_create(&labels));
            (labels, (count, latency))
        };
        self.handles.record(key, make, |(count, latency)| {
            count.inc();
            latency.observe(seconds);
        });
    }
}

/// Every metric the broker keeps.
pub struct Metrics {
    registry: Registry,
    /// HTTP requests and their latency by method, route template and status.
    requests: Timed<RequestLabels>,
    /// Invokes and their latency (retries and refreshes included) by app, function and outcome.
    invokes: Timed<InvokeLabels>,
    /// Upstream answers to invoke requests by app and status class (`2xx`…`5xx`, `unanswered`).
    upstream_responses: Family<AppOutcome, Counter>,
    upstream_handles: Handles<AppOutcome, Counter>,
    /// Token refreshes by outcome: `ok`, `rotated`, `invalid_grant`, `unavailable`, `error`.
    refreshes: Family<Outcome, Counter>,
    /// Callers that waited for another process's refresh lease.
    pub refresh_lease_waits: Counter,
    /// Connect attempts by app and outcome (`authorize`, `connected`, `reconnected` or the error code).
    connects: Family<AppOutcome, Counter>,
    /// Open database connections, read at each scrape.
    pub db_connections: Gauge,
    /// Rounds of the background refresher this process ran.
    pub background_rounds: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut metrics = Metrics {
            requests: Timed::default(),
            invokes: Timed::default(),
            upstream_responses: Family::default(),
            upstream_handles: Handles::default(),
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
            metrics.requests.counts.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route template and status",
            metrics.requests.latencies.clone(),
        );
        registry.register(
            "invokes",
            "Function invokes by app, function and outcome",
            metrics.invokes.counts.clone(),
        );
        registry.register(
            "invoke_duration_seconds",
            "Invoke latency, retries and refreshes included",
            metrics.invokes.latencies.clone(),
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

    /// Counts an HTTP request and records its latency, by route template (`unmatched` for none).
    pub fn request(&self, method: &Method, route: &str, status: u16, seconds: f64) {
        let method = method_label(method);
        let labels = || RequestLabels { method, route: route.to_owned(), status };
        self.requests.record(&RequestKey { method, route, status }, labels, seconds);
    }

    /// Counts an invoke of a catalog function and records its latency; `outcome` is `ok` or the
    /// error code.
    pub fn invoke(&self, app: &str, function: &str, outcome: &'static str, seconds: f64) {
        let labels = || InvokeLabels { app: app.to_owned(), function: function.to_owned(), outcome };
        self.invokes.record(&InvokeKey { app, function, outcome }, labels, seconds);
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
        let make = || {
            let labels = AppOutcome { app: app.to_owned(), outcome };
            let count = Counter::clone(&self.upstream_responses.get_or_create(&labels));
            (labels, count)
        };
        self.upstream_handles.record(&AppOutcomeKey { app, outcome }, make, |count| {
            count.inc();
        });
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The number after `line` in the OpenMetrics text, or 0 when the series is absent.
    fn value(text: &str, line: &str) -> u64 {
        text.lines().find_map(|l| l.strip_prefix(line)?.trim().parse().ok()).unwrap_or_default()
    }

    #[test]
    fn handles_record_into_their_families_and_are_found_by_borrowed_labels() {
        let metrics = Metrics::default();
        let route = String::from("/v1/functions/{name}/invoke");
        for _ in 0..3 {
            metrics.request(&Method::POST, &route, 200, 0.004);
            metrics.invoke("github", "list-repos", "ok", 0.003);
            metrics.upstream("github", Some(204));
        }
        metrics.request(&Method::POST, &route, 502, 0.01);
        metrics.invoke("github", "list-repos", "UPSTREAM_ERROR", 0.01);
        metrics.upstream("github", None);
        let text = metrics.encode();
        let request =
            r#"patchbay_http_requests_total{method="POST",route="/v1/functions/{name}/invoke",status=""#;
        assert_eq!(value(&text, &format!(r#"{request}200"}}"#)), 3, "{text}");
        assert_eq!(value(&text, &format!(r#"{request}502"}}"#)), 1);
        let latency = r#"patchbay_http_request_duration_seconds_count{method="POST",route="/v1/functions/{name}/invoke",status="200"}"#;
        assert_eq!(value(&text, latency), 3);
        let invoke = r#"patchbay_invokes_total{app="github",function="list-repos",outcome=""#;
        assert_eq!(value(&text, &format!(r#"{invoke}ok"}}"#)), 3);
        assert_eq!(value(&text, &format!(r#"{invoke}UPSTREAM_ERROR"}}"#)), 1);
        let invoke_latency =
            r#"patchbay_invoke_duration_seconds_count{app="github",function="list-repos",outcome="ok"}"#;
        assert_eq!(value(&text, invoke_latency), 3);
        assert_eq!(value(&text, r#"patchbay_upstream_responses_total{app="github",outcome="2xx"}"#), 3);
        assert_eq!(
            value(&text, r#"patchbay_upstream_responses_total{app="github",outcome="unanswered"}"#),
            1
        );

        // Borrowed labels hash as the owned ones do, or every record would take the slow path.
        let requests = metrics.requests.handles.0.read().expect("lock");
        assert!(requests.get(&RequestKey { method: "POST", route: &route, status: 200 }).is_some());
        let invokes = metrics.invokes.handles.0.read().expect("lock");
        assert!(invokes.get(&InvokeKey { app: "github", function: "list-repos", outcome: "ok" }).is_some());
        let upstream = metrics.upstream_handles.0.read().expect("lock");
        assert!(upstream.get(&AppOutcomeKey { app: "github", outcome: "2xx" }).is_some());
    }
}

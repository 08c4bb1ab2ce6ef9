//! Prometheus metrics at `/metrics`: requests by route and status, request and verification
//! latency, verification outcomes, cache hit ratio, throttled attempts and legacy-header use per
//! integrator key. Labels are bounded: routes are matched path templates, integrator keys are
//! capped. Nothing secret is ever a label.

use crate::state::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

type Labels = Vec<(&'static str, String)>;

/// Most distinct integrator keys labelled; the rest count under `other`.
const MAX_KEY_LABELS: usize = 1000;

/// The server's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<Labels, Counter>,
    request_seconds: Family<Labels, Histogram>,
    verifications: Family<Labels, Counter>,
    verification_seconds: Histogram,
    cache_hits: Gauge<u64, AtomicU64>,
    cache_misses: Gauge<u64, AtomicU64>,
    throttled: Family<Labels, Gauge<u64, AtomicU64>>,
    legacy_requests: Family<Labels, Counter>,
    legacy_key_labels: std::sync::Mutex<std::collections::HashSet<String>>,
}

fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.000_05, 2.0, 18))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("countersign");
        let requests = Family::<Labels, Counter>::default();
        let request_seconds = Family::<Labels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        let verifications = Family::<Labels, Counter>::default();
        let verification_seconds = latency_histogram();
        let cache_hits = Gauge::<u64, AtomicU64>::default();
        let cache_misses = Gauge::<u64, AtomicU64>::default();
        let throttled = Family::<Labels, Gauge<u64, AtomicU64>>::default();
        let legacy_requests = Family::<Labels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by route and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route",
            request_seconds.clone(),
        );
        registry.register(
            "verifications",
            "Verifications by method and outcome",
            verifications.clone(),
        );
        registry.register(
            "verification_duration_seconds",
            "Latency of /v1/verify and /v1/whoami",
            verification_seconds.clone(),
        );
        registry.register(
            "directory_cache_hits",
            "Directory cache hits since start",
            cache_hits.clone(),
        );
        registry.register(
            "directory_cache_misses",
            "Directory cache misses since start",
            cache_misses.clone(),
        );
        registry.register(
            "throttled_attempts",
            "Attempts refused by the throttle, by key kind",
            throttled.clone(),
        );
        registry.register(
            "legacy_header_requests",
            "Successful legacy-header authentications by integrator key id",
            legacy_requests.clone(),
        );
        Self {
            registry,
            requests,
            request_seconds,
            verifications,
            verification_seconds,
            cache_hits,
            cache_misses,
            throttled,
            legacy_requests,
            legacy_key_labels: Default::default(),
        }
    }
}

impl Metrics {
    /// Records one verification (`/v1/verify`, `/v1/whoami`) and its latency.
    pub fn verification(&self, method: &'static str, allowed: bool, started: Instant) {
        let outcome = if allowed { "allowed" } else { "refused" };
        self.verifications
            .get_or_create(&vec![
                ("method", method.to_owned()),
                ("outcome", outcome.to_owned()),
            ])
            .inc();
        self.verification_seconds
            .observe(started.elapsed().as_secs_f64());
    }

    /// Counts a successful legacy-header authentication under its integrator key id.
    pub fn legacy_request(&self, integrator_key_id: &str) {
        let label = {
            let mut seen = self
                .legacy_key_labels
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if seen.contains(integrator_key_id) || seen.len() < MAX_KEY_LABELS {
                seen.insert(integrator_key_id.to_owned());
                integrator_key_id.to_owned()
            } else {
                "other".to_owned()
            }
        };
        self.legacy_requests
            .get_or_create(&vec![("integrator_key_id", label)])
            .inc();
    }

    fn render(&self, state: &AppState) -> String {
        let (hits, misses) = state.cache.hit_counts();
        self.cache_hits.set(hits);
        self.cache_misses.set(misses);
        for (kind, count) in state.throttle.throttled_counts() {
            self.throttled
                .get_or_create(&vec![("kind", kind.to_owned())])
                .set(count);
        }
        let mut text = String::new();
        if prometheus_client::encoding::text::encode(&mut text, &self.registry).is_err() {
            text.clear();
        }
        text
    }
}

/// Middleware recording every request's route, status and latency.
pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let started = Instant::now();
    let response = next.run(request).await;
    let labels = vec![
        ("route", route.clone()),
        ("status", response.status().as_u16().to_string()),
    ];
    state.metrics.requests.get_or_create(&labels).inc();
    state
        .metrics
        .request_seconds
        .get_or_create(&vec![("route", route)])
        .observe(started.elapsed().as_secs_f64());
    response
}

/// Prometheus text exposition.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, description = "Prometheus metrics")))]
pub async fn metrics(State(state): State<AppState>) -> Response {
    let body = state.metrics.render(&state);
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    response
}

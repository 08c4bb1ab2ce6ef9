//! Prometheus metrics at `/metrics`: requests by route and status, request and verification
//! latency, verification outcomes, cache hit ratio, throttled attempts and legacy-header use per
//! integrator key. Labels are bounded: routes are matched path templates, integrator keys are
//! capped. Nothing secret is ever a label.

use crate::striped::{StripedCounter, StripedHistogram};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::exponential_buckets;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

type Labels = Vec<(&'static str, String)>;

/// Most distinct integrator keys labelled; the rest count under `other`.
const MAX_KEY_LABELS: usize = 1000;

/// The server's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<Labels, StripedCounter>,
    request_seconds: Family<Labels, StripedHistogram>,
    verification_seconds: StripedHistogram,
    /// `/v1/verify` requests answered from a worker thread's cache (see [`crate::hot`]).
    pub thread_cache_answers: StripedCounter,
    cache_hits: Gauge<u64, AtomicU64>,
    cache_misses: Gauge<u64, AtomicU64>,
    cache_invalidations: Gauge<u64, AtomicU64>,
    applied_version: Gauge<i64>,
    throttled: Family<Labels, Gauge<u64, AtomicU64>>,
    legacy_requests: Family<Labels, StripedCounter>,
    legacy_key_labels: std::sync::Mutex<std::collections::HashSet<String>>,
    /// Verification counters resolved once: `[method][allowed]`.
    verification_counters: [[StripedCounter; 2]; METHODS.len()],
    /// Distinguishes instances in the per-thread route-handle cache.
    instance: u64,
}

/// Metric handles of one route, cached per worker thread so that a request costs no label
/// allocation and no lookup in a shared family.
struct RouteHandles {
    seconds: StripedHistogram,
    by_status: Vec<(u16, StripedCounter)>,
}

thread_local! {
    static ROUTE_HANDLES: std::cell::RefCell<(u64, std::collections::HashMap<Box<str>, RouteHandles>)> =
        std::cell::RefCell::new((0, std::collections::HashMap::new()));
}

static NEXT_INSTANCE: AtomicU64 = AtomicU64::new(1);

const METHODS: [&str; 7] = [
    "api_user_token",
    "legacy_header",
    "legacy_header_sobo",
    "oauth_jwt",
    "oauth_code",
    "oauth_application",
    // An OAuth access token refused before its kind was known.
    "oauth_token",
];

fn latency_histogram() -> StripedHistogram {
    StripedHistogram::new(exponential_buckets(0.000_05, 2.0, 18))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("countersign");
        let requests = Family::<Labels, StripedCounter>::default();
        let request_seconds = Family::<Labels, StripedHistogram>::new_with_constructor(
            latency_histogram as fn() -> StripedHistogram,
        );
        let verifications = Family::<Labels, StripedCounter>::default();
        let verification_seconds = latency_histogram();
        let thread_cache_answers = StripedCounter::default();
        let cache_hits = Gauge::<u64, AtomicU64>::default();
        let cache_misses = Gauge::<u64, AtomicU64>::default();
        let cache_invalidations = Gauge::<u64, AtomicU64>::default();
        let applied_version = Gauge::<i64>::default();
        let throttled = Family::<Labels, Gauge<u64, AtomicU64>>::default();
        let legacy_requests = Family::<Labels, StripedCounter>::default();
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
            "thread_cache_answers",
            "Forward-auth requests answered from a worker thread's cache of verified credentials",
            thread_cache_answers.clone(),
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
            "directory_cache_invalidations",
            "Times this node's directory caches were emptied since start (one per directory change)",
            cache_invalidations.clone(),
        );
        registry.register(
            "directory_applied_version",
            "The directory version this node has applied (what revocation receipts report)",
            applied_version.clone(),
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
        let verification_counters = METHODS.map(|method| {
            ["refused", "allowed"].map(|outcome| {
                verifications
                    .get_or_create(&vec![
                        ("method", method.to_owned()),
                        ("outcome", outcome.to_owned()),
                    ])
                    .clone()
            })
        });
        Self {
            registry,
            requests,
            request_seconds,
            verification_seconds,
            thread_cache_answers,
            cache_hits,
            cache_misses,
            cache_invalidations,
            applied_version,
            throttled,
            legacy_requests,
            legacy_key_labels: Default::default(),
            verification_counters,
            instance: NEXT_INSTANCE.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        }
    }
}

impl Metrics {
    /// Records one verification (`/v1/verify`, `/v1/whoami`) and its latency.
    pub fn verification(&self, method: &'static str, allowed: bool, seconds: f64) {
        let index = METHODS.iter().position(|m| *m == method).unwrap_or(0);
        self.verification_counters[index][usize::from(allowed)].inc();
        self.verification_seconds.observe(seconds);
    }

    /// The counter of successful legacy-header authentications under an integrator key id
    /// (keys beyond the label cap share `other`); callers keep it to count later requests.
    pub fn legacy_counter(&self, integrator_key_id: &str) -> StripedCounter {
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
            .clone()
    }

    /// Records one request of `route` with `status` taking `seconds`.
    pub(crate) fn request(&self, route: &str, status: u16, seconds: f64) {
        ROUTE_HANDLES.with(|cell| {
            let mut cell = cell.borrow_mut();
            let (instance, routes) = &mut *cell;
            if *instance != self.instance {
                *instance = self.instance;
                routes.clear();
            }
            if !routes.contains_key(route) {
                let seconds = self
                    .request_seconds
                    .get_or_create(&vec![("route", route.to_owned())])
                    .clone();
                routes.insert(
                    route.into(),
                    RouteHandles {
                        seconds,
                        by_status: Vec::new(),
                    },
                );
            }
            let Some(handles) = routes.get_mut(route) else {
                return;
            };
            handles.seconds.observe(seconds);
            if let Some((_, counter)) = handles.by_status.iter().find(|(s, _)| *s == status) {
                counter.inc();
                return;
            }
            let counter = self
                .requests
                .get_or_create(&vec![
                    ("route", route.to_owned()),
                    ("status", status.to_string()),
                ])
                .clone();
            counter.inc();
            handles.by_status.push((status, counter));
        });
    }

    /// The text exposition, with the gauges read from the directory cache and the throttle.
    pub(crate) fn render(
        &self,
        cache: &countersign_directory::cache::DirectoryCache,
        throttled: [(&'static str, u64); 4],
    ) -> String {
        let (hits, misses) = cache.hit_counts();
        self.cache_hits.set(hits);
        self.cache_misses.set(misses);
        self.cache_invalidations.set(cache.epoch());
        self.applied_version.set(cache.applied_version());
        for (kind, count) in throttled {
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

//! Metrics that every request updates, split into per-thread stripes.
//!
//! A plain counter is one atomic every worker thread writes, and a histogram is one lock: on the
//! forward-auth path those shared writes cost more than the verification itself (see
//! [`crate::hot`]). Each thread updates its own cache-line-aligned stripe; `/metrics` adds the
//! stripes up. They encode exactly as prometheus-client's counter and histogram do.

use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::{MetricType, TypedMetric};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// Stripes per metric; threads beyond this share stripes (correct, only slower).
pub const STRIPES: usize = 16;

/// One stripe, alone on its cache lines.
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct Padded<T>(pub(crate) T);

/// The calling thread's stripe.
pub fn stripe() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static STRIPE: usize = NEXT.fetch_add(1, Ordering::Relaxed) % STRIPES;
    }
    STRIPE.with(|s| *s)
}

/// A monotonic counter.
#[derive(Clone, Debug, Default)]
pub struct StripedCounter {
    stripes: Arc<[Padded<AtomicU64>; STRIPES]>,
}

impl StripedCounter {
    /// Adds one.
    pub fn inc(&self) {
        self.stripes[stripe()].0.fetch_add(1, Ordering::Relaxed);
    }

    /// The total.
    pub fn get(&self) -> u64 {
        self.stripes
            .iter()
            .map(|s| s.0.load(Ordering::Relaxed))
            .fold(0u64, u64::wrapping_add)
    }
}

impl TypedMetric for StripedCounter {
    const TYPE: MetricType = MetricType::Counter;
}

impl EncodeMetric for StripedCounter {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        encoder.encode_counter::<NoLabelSet, _, u64>(&self.get(), None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

#[derive(Debug)]
struct HistogramStripe {
    sum: f64,
    count: u64,
    counts: Vec<u64>,
}

/// A histogram over fixed bucket bounds (plus `+Inf`).
#[derive(Clone, Debug)]
pub struct StripedHistogram {
    bounds: Arc<[f64]>,
    stripes: Arc<[Padded<Mutex<HistogramStripe>>]>,
}

impl StripedHistogram {
    /// A histogram with the given upper bounds (ascending); a `+Inf` bucket is added.
    pub fn new(bounds: impl IntoIterator<Item = f64>) -> Self {
        let bounds: Arc<[f64]> = bounds
            .into_iter()
            .chain(std::iter::once(f64::INFINITY))
            .collect();
        let stripes = (0..STRIPES)
            .map(|_| {
                Padded(Mutex::new(HistogramStripe {
                    sum: 0.0,
                    count: 0,
                    counts: vec![0; bounds.len()],
                }))
            })
            .collect();
        Self { bounds, stripes }
    }

    /// Records one observation.
    pub fn observe(&self, value: f64) {
        let bucket = self
            .bounds
            .iter()
            .position(|bound| value <= *bound)
            .unwrap_or(self.bounds.len() - 1);
        let mut stripe = self.stripes[stripe()]
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        stripe.sum += value;
        stripe.count += 1;
        stripe.counts[bucket] += 1;
    }

    /// Sum, count and per-bucket counts over every stripe.
    fn totals(&self) -> (f64, u64, Vec<(f64, u64)>) {
        let mut sum = 0.0;
        let mut count = 0;
        let mut buckets: Vec<(f64, u64)> = self.bounds.iter().map(|b| (*b, 0)).collect();
        for stripe in self.stripes.iter() {
            let stripe = stripe.0.lock().unwrap_or_else(PoisonError::into_inner);
            sum += stripe.sum;
            count += stripe.count;
            for (total, n) in buckets.iter_mut().zip(&stripe.counts) {
                total.1 += n;
            }
        }
        (sum, count, buckets)
    }
}

impl TypedMetric for StripedHistogram {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for StripedHistogram {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let (sum, count, buckets) = self.totals();
        encoder.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_adds_up_increments_from_several_threads() {
        let counter = StripedCounter::default();
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| (0..1000).for_each(|_| counter.inc()));
            }
        });
        assert_eq!(counter.get(), 4000);
    }

    #[test]
    fn histogram_counts_each_observation_in_its_bucket() {
        let histogram = StripedHistogram::new([0.1, 1.0]);
        std::thread::scope(|scope| {
            scope.spawn(|| histogram.observe(0.05));
            scope.spawn(|| histogram.observe(0.5));
            scope.spawn(|| histogram.observe(5.0));
        });
        let (sum, count, buckets) = histogram.totals();
        assert_eq!(count, 3);
        assert!((sum - 5.55).abs() < 1e-9);
        assert_eq!(
            buckets.iter().map(|b| b.1).collect::<Vec<_>>(),
            vec![1, 1, 1]
        );
    }
}

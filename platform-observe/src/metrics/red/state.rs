//! The shared series of the RED layer and their exposition.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::metrics::encode::{Exposition, MetricType};
use crate::metrics::family::Family;
use crate::metrics::primitives::{DurationHistogram, GaugeCell};
use crate::metrics::registry::Collector;

pub(crate) const REQUESTS: &str = "http_server_requests_total";
pub(crate) const DURATION: &str = "http_server_request_duration_seconds";
pub(crate) const IN_FLIGHT: &str = "http_server_requests_in_flight";

/// Status classes; the last slot counts calls that ended in an error, not a response.
pub(crate) const CLASSES: [&str; 6] = ["1xx", "2xx", "3xx", "4xx", "5xx", "error"];
pub(crate) const ERROR_CLASS: usize = 5;

pub(crate) fn class_of(status: http::StatusCode) -> usize {
    match status.as_u16() {
        100..=199 => 0,
        200..=299 => 1,
        300..=399 => 2,
        400..=499 => 3,
        _ => 4,
    }
}

/// Everything recorded for one route × method.
#[derive(Debug)]
pub(crate) struct RouteSeries {
    pub(crate) in_flight: GaugeCell,
    /// One latency histogram per status class; its count is the request count.
    pub(crate) by_class: [DurationHistogram; 6],
}

impl RouteSeries {
    pub(crate) fn finish(&self, class: usize, elapsed: Duration) {
        self.by_class[class].record(elapsed);
    }
}

/// Labels: route (unbounded), method (bounded).
#[derive(Debug)]
pub(crate) struct RedState {
    pub(crate) family: Family<RouteSeries, 2>,
}

impl RedState {
    pub(crate) fn new(cfg: &super::MetricsConfig) -> Self {
        let bounds = crate::metrics::primitives::bounds_to_nanos(&cfg.buckets);
        let family =
            Family::new(REQUESTS, [false, true], cfg.limits.clone(), move || RouteSeries {
                in_flight: GaugeCell::default(),
                by_class: std::array::from_fn(|_| DurationHistogram::new(Arc::clone(&bounds))),
            });
        Self { family }
    }
}

impl Collector for RedState {
    #[allow(clippy::cast_precision_loss)]
    fn collect(&self, out: &mut Exposition) {
        let mut series = Vec::new();
        self.family.collect(
            Instant::now(),
            |s| s.in_flight.get() == 0,
            |k, s| {
                series.push((
                    k[0].clone(),
                    k[1].clone(),
                    s.in_flight.get(),
                    s.by_class.each_ref().map(|h| h.snapshot()),
                ));
            },
        );
        out.family(
            REQUESTS,
            "HTTP requests served, by route template, method and status class.",
            MetricType::Counter,
        );
        for (route, method, _, snaps) in &series {
            for (class, (_, count, _)) in CLASSES.iter().zip(snaps) {
                if *count > 0 {
                    out.sample(
                        REQUESTS,
                        &[("route", route), ("method", method), ("status", class)],
                        *count as f64,
                    );
                }
            }
        }
        out.family(
            DURATION,
            "Time from receiving an HTTP request to its response headers, in seconds.",
            MetricType::Histogram,
        );
        for (route, method, _, snaps) in &series {
            for (class, (buckets, count, total)) in CLASSES.iter().zip(snaps) {
                if *count > 0 {
                    let labels = [("route", &**route), ("method", &**method), ("status", *class)];
                    out.histogram(DURATION, &labels, buckets, *count, *total);
                }
            }
        }
        out.family(
            IN_FLIGHT,
            "HTTP requests being served, by route template and method.",
            MetricType::Gauge,
        );
        for (route, method, in_flight, _) in &series {
            out.sample(IN_FLIGHT, &[("route", route), ("method", method)], *in_flight as f64);
        }
    }
}

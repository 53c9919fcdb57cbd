//! The metrics a [`ResourcePressure`] exports.

use crate::metrics::{Collector, Exposition, MetricType};

use super::resource::ResourcePressure;

impl Collector for ResourcePressure {
    #[allow(clippy::cast_precision_loss)]
    fn collect(&self, out: &mut Exposition) {
        let snap = self.snapshot();
        let r = snap.reading;
        out.family(
            "pressure_ratio",
            "Resource pressure seen by load shedding, per signal; 1 means at the limit.",
            MetricType::Gauge,
        );
        out.sample("pressure_ratio", &[("signal", "cpu")], r.cpu);
        out.sample("pressure_ratio", &[("signal", "memory")], r.memory);
        if let Some(q) = r.queue {
            out.sample("pressure_ratio", &[("signal", "queue")], q);
        }
        if let Some(c) = snap.cgroup {
            let gauges = [
                ("cgroup_cpu_limit_cores", "CPUs the cgroup may use.", c.cpu_limit),
                (
                    "cgroup_memory_limit_bytes",
                    "Memory limit of the cgroup (host memory when unlimited).",
                    c.memory_limit as f64,
                ),
                (
                    "cgroup_memory_used_bytes",
                    "Memory used by the cgroup, less reclaimable page cache.",
                    c.memory_used as f64,
                ),
            ];
            for (name, help, value) in gauges {
                out.family(name, help, MetricType::Gauge);
                out.sample(name, &[], value);
            }
        }
        if let Some(busy) = snap.busy_ratio {
            out.family(
                "tokio_busy_ratio",
                "Share of tokio worker time spent running tasks since the previous sample.",
                MetricType::Gauge,
            );
            out.sample("tokio_busy_ratio", &[], busy);
        }
        if let Some(lag) = snap.schedule_lag {
            out.family(
                "tokio_schedule_lag_seconds",
                "How late the pressure sampler's latest timer tick ran.",
                MetricType::Gauge,
            );
            out.sample("tokio_schedule_lag_seconds", &[], lag.as_secs_f64());
        }
        out.family(
            "pressure_sample_errors_total",
            "Pressure samples that failed; the last good reading stays.",
            MetricType::Counter,
        );
        out.sample("pressure_sample_errors_total", &[], self.sample_errors() as f64);
    }
}

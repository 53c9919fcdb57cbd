//! Load shedding driven by process pressure, least critical traffic first.
//!
//! A [`Pressure`] source says how close the process is to its CPU and memory limits
//! ([`CgroupPressure`] reads them from cgroup v1/v2 files; [`ManualPressure`] is set by
//! hand). [`LoadShed`] turns the pressure level — the highest enabled signal — into a
//! **shed probability that rises linearly** from 0 at a `start` level to 1 at a `full`
//! level, with separate ramps per request [`Criticality`], so sheddable traffic goes
//! first and critical traffic last. This is the ramp of Random Early Detection (Floyd and
//! Jacobson, 1993) applied to a resource signal instead of a queue length: shedding a
//! growing fraction keeps the process near its limit without the on/off oscillation of a
//! single threshold. `docs/resilience/load-shedding.md` explains the choice.
//!
//! The decision needs the request (for its criticality), so it is made in `call`; a shed
//! request fails at once with [`Overloaded`](crate::error::Overloaded) (→ 503) whose
//! reason names the signal, e.g. `"shed: cpu pressure"`. In shadow mode the decision is
//! reported (tracing target `platform::resilience::shed`, [`ShedEvent::Shed`] with
//! `shadow: true`) and the request goes through.
//!
//! ```
//! use std::sync::Arc;
//! use platform_core::error::Overloaded;
//! use platform_core::resilience::shed::{Criticality, LoadShedLayer, ManualPressure};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let pressure = Arc::new(ManualPressure::new());
//! let svc = ServiceBuilder::new()
//!     .layer(LoadShedLayer::new(pressure.clone()))
//!     .service(service_fn(|_req: http::Request<()>| async {
//!         Ok::<_, std::convert::Infallible>("ok")
//!     }));
//!
//! // Calm: everything passes.
//! assert_eq!(svc.clone().oneshot(http::Request::new(())).await.unwrap(), "ok");
//!
//! // CPU at 90% of the quota: every sheddable request is shed (its ramp is 0.60 → 0.85),
//! // critical ones pass (their ramp starts at 0.90).
//! pressure.set_cpu(0.9);
//! let sheddable = http::Request::builder().header("x-criticality", "sheddable").body(()).unwrap();
//! let err = svc.clone().oneshot(sheddable).await.unwrap_err();
//! assert_eq!(err.downcast_ref::<Overloaded>().unwrap().reason(), "shed: cpu pressure");
//! let mut critical = http::Request::new(());
//! critical.extensions_mut().insert(Criticality::Critical);
//! assert_eq!(svc.oneshot(critical).await.unwrap(), "ok");
//! # }
//! ```
//!
//! In production, sample the cgroup in the background:
//!
//! ```no_run
//! // no_run: reads the live cgroup of the machine running the example.
//! use std::time::Duration;
//! use platform_core::resilience::shed::{CgroupPressure, LoadShedLayer};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let pressure = CgroupPressure::detect()?;
//! let _sampling = pressure.spawn_sampler(Duration::from_millis(500)); // keep it alive
//! let layer = LoadShedLayer::new(pressure);
//! # let _ = layer; Ok(()) }
//! ```

mod cgroup;
mod config;
mod criticality;
pub mod future;
mod layer;
mod pressure;
mod sampler;
mod service;

pub use cgroup::{CgroupVersion, PressureError};
pub use config::{LoadShedConfig, ShedSignals, ShedThresholds};
pub use criticality::{Criticality, FixedCriticality, HttpCriticality, UnknownCriticality};
pub use layer::{LoadShedLayer, ShedEvent};
pub use pressure::{ManualPressure, Pressure, PressureReading, Signal};
pub use sampler::{CgroupPressure, CgroupPressureBuilder, CgroupSample, SamplerHandle};
pub use service::LoadShed;

#[cfg(test)]
mod tests;

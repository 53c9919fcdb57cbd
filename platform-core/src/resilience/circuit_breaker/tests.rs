//! Unit tests of the circuit breaker; shared fixtures here, tests by topic in `tests/`.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tower::{Layer, Service, ServiceExt, service_fn};

use super::*;
use crate::error::{BoxError, CircuitOpen};
use crate::resilience::Listeners;

mod ops;
mod states;
mod triggers;
mod window_props;

/// What the fake backend does with a call.
#[derive(Debug, Clone, Copy)]
enum Call {
    Ok,
    Fail,
    /// Succeeds after this long.
    Slow(Duration),
    /// Never answers.
    Hang,
    /// Fails with a local rejection (not counted).
    Reject,
}

fn backend() -> impl Service<
    Call,
    Response = &'static str,
    Error = BoxError,
    Future = impl Future<Output = Result<&'static str, BoxError>> + Send,
> + Clone {
    service_fn(|call: Call| async move {
        match call {
            Call::Ok => Ok("ok"),
            Call::Fail => Err::<_, BoxError>("backend failed".into()),
            Call::Slow(d) => {
                tokio::time::sleep(d).await;
                Ok("slow")
            }
            Call::Hang => std::future::pending().await,
            Call::Reject => {
                Err(Box::new(crate::error::Overloaded::new("inner bulkhead")) as BoxError)
            }
        }
    })
}

/// Events seen by a listener.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<CircuitBreakerEvent>>>);

impl Recorder {
    fn listeners(&self) -> Listeners<CircuitBreakerEvent> {
        let seen = self.0.clone();
        Listeners::new()
            .with(move |e: &CircuitBreakerEvent| seen.lock().expect("lock").push(e.clone()))
    }

    fn events(&self) -> Vec<CircuitBreakerEvent> {
        self.0.lock().expect("lock").clone()
    }

    fn transitions(&self) -> Vec<(CircuitState, TransitionReason, Option<Duration>)> {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                CircuitBreakerEvent::StateChanged { to, reason, open_for, .. } => {
                    Some((to, reason, open_for))
                }
                _ => None,
            })
            .collect()
    }
}

/// A layer from `builder` with a recorder attached.
fn build(builder: CircuitBreakerBuilder) -> (CircuitBreakerLayer, Recorder) {
    let rec = Recorder::default();
    let layer = builder.listeners(rec.listeners()).build().expect("valid config");
    (layer, rec)
}

async fn call(layer: &CircuitBreakerLayer, c: Call) -> Result<&'static str, BoxError> {
    layer.layer(backend()).oneshot(c).await
}

fn is_open_err(r: &Result<&'static str, BoxError>) -> Option<CircuitOpen> {
    r.as_ref().err().and_then(|e| e.downcast_ref::<CircuitOpen>()).cloned()
}

//! [`Consumer`]: drives a subscription through a handler stack.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tower::ServiceExt;
use tower_service::Service;

use super::{Delivery, Message, MessagingError, PoisonMessage, Subscription};
use crate::BoxError;

/// Settings of a [`Consumer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConsumerConfig {
    /// Most messages handled at once (default 16). Messages waiting for their key's turn
    /// in a [`KeyedOrderingLayer`](super::KeyedOrderingLayer) count.
    pub concurrency: usize,
    /// Redelivery delay after a handler error (default 1s).
    pub nack_delay: Duration,
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        Self { concurrency: 16, nack_delay: Duration::from_secs(1) }
    }
}

impl ConsumerConfig {
    /// Sets the concurrency (at least 1).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }
    /// Sets the nack delay.
    pub fn nack_delay(mut self, delay: Duration) -> Self {
        self.nack_delay = delay;
        self
    }
}

/// Runs a handler (`tower::Service<Message, Response = ()>`) over a [`Subscription`]:
/// calls it in delivery order, up to `concurrency` messages at once, and settles each
/// delivery by the outcome: `Ok` → ack; an error with a [`PoisonMessage`] in its chain →
/// dead-letter; any other error → nack with `nack_delay`.
///
/// ```
/// use std::time::Duration;
/// use platform_core::messaging::{
///     Consumer, ConsumerConfig, DeadLetterLayer, KeyedOrderingLayer, MemoryBroker, Message,
///     OutgoingMessage, Publisher, SubscribeOptions, Subscriber,
/// };
/// use tower::{ServiceBuilder, service_fn};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let broker = MemoryBroker::default();
/// let sub = broker.subscribe("orders", "billing", SubscribeOptions::default()).await?;
/// broker.publish(vec![OutgoingMessage::new("orders", "o-1").key("c-7")]).await?;
///
/// let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
/// let handler = ServiceBuilder::new()
///     .layer(DeadLetterLayer::new(5))
///     .layer(KeyedOrderingLayer::new())
///     .service(service_fn(move |msg: Message| {
///         let tx = tx.clone();
///         async move { tx.send(msg.payload).map_err(|_| "receiver gone") }
///     }));
/// let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
/// let run = tokio::spawn(Consumer::new(sub, handler).config(ConsumerConfig::default())
///     .run_until(async { let _ = stopped.await; }));
/// assert_eq!(&rx.recv().await.unwrap()[..], b"o-1");
/// stop.send(()).unwrap();
/// run.await??;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Consumer<S> {
    subscription: Subscription,
    service: S,
    config: ConsumerConfig,
}

impl<S> Consumer<S>
where
    S: Service<Message, Response = ()> + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    /// A consumer of `subscription` handled by `service`, with default settings.
    pub fn new(subscription: Subscription, service: S) -> Self {
        Self { subscription, service, config: ConsumerConfig::default() }
    }

    /// Replaces the settings.
    pub fn config(mut self, config: ConsumerConfig) -> Self {
        self.config = config;
        self
    }

    /// Runs until the subscription ends or fails.
    pub async fn run(self) -> Result<(), MessagingError> {
        self.run_until(std::future::pending()).await
    }

    /// Runs until `shutdown` completes (then takes no new deliveries and waits for the
    /// ones in progress), or the subscription ends or fails. A service that fails
    /// `poll_ready` stops the consumer with that error; deliveries it held are redelivered
    /// after the visibility timeout.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), MessagingError> {
        let Self { mut subscription, mut service, config } = self;
        let permits = Arc::new(Semaphore::new(config.concurrency.max(1)));
        let mut tasks = JoinSet::new();
        tokio::pin!(shutdown);
        let result = loop {
            let permit = tokio::select! {
                p = permits.clone().acquire_owned() => p.expect("never closed"),
                () = &mut shutdown => break Ok(()),
            };
            let delivery = tokio::select! {
                d = subscription.next() => d,
                () = &mut shutdown => break Ok(()),
            };
            let delivery = match delivery {
                Some(Ok(d)) => d,
                Some(Err(e)) => break Err(e),
                None => break Ok(()),
            };
            if let Err(e) = service.ready().await {
                break Err(MessagingError::backend("handler", e));
            }
            let message = delivery.message().clone();
            let fut = service.call(message);
            let nack_delay = config.nack_delay;
            tasks.spawn(async move {
                let outcome = fut.await.map_err(Into::into);
                settle(delivery, outcome, nack_delay).await;
                drop(permit);
            });
            while tasks.try_join_next().is_some() {}
        };
        while tasks.join_next().await.is_some() {}
        result
    }
}

async fn settle(delivery: Delivery, outcome: Result<(), BoxError>, nack_delay: Duration) {
    let id = delivery.message().id.clone();
    let res = match outcome {
        Ok(()) => delivery.ack().await,
        Err(e) => match PoisonMessage::find(&*e) {
            Some(poison) => {
                let reason = poison.reason().to_owned();
                tracing::warn!(target: "platform::messaging", %id, %reason, "dead-lettering message");
                delivery.dead_letter(reason).await
            }
            None => {
                tracing::debug!(target: "platform::messaging", %id, error = %e, "handler failed; nack");
                delivery.nack(nack_delay).await
            }
        },
    };
    if let Err(e) = res {
        tracing::warn!(target: "platform::messaging", %id, error = %e, "settlement failed");
    }
}

//! The broker connection (reconnected after a loss) and the confirm-mode publishing
//! channel.

use std::future::Future;
use std::time::Duration;

use lapin::Confirmation;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};

use crate::messaging::MessagingError;

pub(super) const BACKEND: &str = "rabbitmq";

pub(super) fn failed(e: impl Into<crate::BoxError>) -> MessagingError {
    MessagingError::backend(BACKEND, e)
}

/// Bounds one broker round trip.
pub(super) async fn within<T>(
    timeout: Duration,
    what: &str,
    fut: impl Future<Output = Result<T, MessagingError>>,
) -> Result<T, MessagingError> {
    match tokio::time::timeout(timeout, fut).await {
        Ok(res) => res,
        Err(_) => Err(failed(format!("{what}: no answer from the broker within {timeout:?}"))),
    }
}

/// One connection, made on first use and again once it is no longer connected.
pub(super) struct Connector {
    url: String,
    name: String,
    timeout: Duration,
    connection: tokio::sync::Mutex<Option<Connection>>,
    publisher: tokio::sync::Mutex<Option<Channel>>,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector").finish_non_exhaustive()
    }
}

impl Connector {
    pub(super) fn new(url: String, name: String, timeout: Duration) -> Self {
        Self {
            url,
            name,
            timeout,
            connection: tokio::sync::Mutex::new(None),
            publisher: tokio::sync::Mutex::new(None),
        }
    }

    /// A new channel on the live connection, reconnecting first when needed.
    pub(super) async fn channel(&self) -> Result<Channel, MessagingError> {
        let mut slot = self.connection.lock().await;
        if let Some(conn) = slot.as_ref().filter(|c| c.status().connected()) {
            match conn.create_channel().await {
                Ok(ch) => return Ok(ch),
                Err(e) => tracing::debug!(
                    target: "platform::messaging", error = %e,
                    "rabbitmq channel failed; reconnecting"
                ),
            }
        }
        let props = ConnectionProperties::default().with_connection_name(self.name.as_str().into());
        let connect = async { Connection::connect(&self.url, props).await.map_err(failed) };
        let conn = within(self.timeout, "connect", connect).await?;
        let ch = conn.create_channel().await.map_err(failed)?;
        *slot = Some(conn);
        Ok(ch)
    }

    /// Publishes each `(exchange, routing key, payload, properties)` with publisher
    /// confirms and `mandatory`, then waits for every confirmation: `Ok` only when the
    /// broker took responsibility for all of them (routed to at least one queue and,
    /// for persistent messages on durable queues, written).
    pub(super) async fn publish(
        &self,
        items: Vec<(String, String, Vec<u8>, BasicProperties)>,
    ) -> Result<(), MessagingError> {
        let mut slot = self.publisher.lock().await;
        let res = within(self.timeout, "publish", async {
            let ch = match slot.as_ref().filter(|c| c.status().connected()) {
                Some(ch) => ch.clone(),
                None => {
                    let ch = self.channel().await?;
                    ch.confirm_select(ConfirmSelectOptions::default()).await.map_err(failed)?;
                    *slot = Some(ch.clone());
                    ch
                }
            };
            let opts = BasicPublishOptions { mandatory: true, ..BasicPublishOptions::default() };
            let mut confirms = Vec::with_capacity(items.len());
            for (exchange, key, payload, props) in &items {
                let confirm = ch
                    .basic_publish(
                        exchange.as_str().into(),
                        key.as_str().into(),
                        opts,
                        payload,
                        props.clone(),
                    )
                    .await
                    .map_err(failed)?;
                confirms.push((key, confirm));
            }
            for (key, confirm) in confirms {
                match confirm.await.map_err(failed)? {
                    Confirmation::Ack(None) => {}
                    Confirmation::Ack(Some(_)) => {
                        return Err(MessagingError::Invalid(format!(
                            "no queue is bound for `{key}`: subscribe a consumer group to \
                             the topic before publishing (RabbitMQ drops unroutable messages)"
                        )));
                    }
                    Confirmation::Nack(_) => return Err(failed("the broker refused a message")),
                    Confirmation::NotRequested => {
                        return Err(failed("publisher confirms are not enabled"));
                    }
                }
            }
            Ok(())
        })
        .await;
        if matches!(res, Err(MessagingError::Backend { .. })) {
            *slot = None;
        }
        res
    }
}

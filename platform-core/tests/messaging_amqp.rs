//! The RabbitMQ backend through the shared conformance suite, against a real RabbitMQ
//! (skipped without `PLATFORM_TEST_AMQP_URL`), with classic and with quorum queues.

#![cfg(all(feature = "amqp", feature = "test-util"))]

use std::time::Duration;

use platform_core::messaging::conformance::Suite;
use platform_core::messaging::{RabbitMq, RabbitMqConfig};
use platform_core::test_util::{Service, unique_name};

fn config(url: &str) -> RabbitMqConfig {
    RabbitMqConfig::new(url).prefix("platform-test").queue_expires(Some(Duration::from_secs(60)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_classic() {
    let Some(url) = Service::Amqp.url_or_skip("messaging_amqp_classic").await else { return };
    let rabbit = RabbitMq::new(config(&url)).expect("config");
    Suite::new(rabbit, &unique_name("classic")).run_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_quorum() {
    let Some(url) = Service::Amqp.url_or_skip("messaging_amqp_quorum").await else { return };
    let rabbit = RabbitMq::new(config(&url).quorum(true)).expect("config");
    Suite::new(rabbit, &unique_name("quorum")).run_all().await;
}

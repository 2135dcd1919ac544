//! The JetStream bus against the bus contract suite, each case on its own
//! real nats-server.

use std::sync::Arc;

use tessera_core::bus::{Bus, JetStreamBus};
use tessera_testkit::nats::NatsServer;

async fn jetstream_bus() -> (Arc<dyn Bus>, NatsServer) {
    let server = NatsServer::start();
    let bus = JetStreamBus::connect(&server.url()).await.expect("connect to nats-server");
    (Arc::new(bus), server)
}

tessera_testkit::bus_contract_tests!(jetstream_bus());
tessera_testkit::serve_contract_tests!(jetstream_bus());

/// JetStream KV passes the key-value contract.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jetstream_kv_contract() {
    let server = NatsServer::start();
    let bus = JetStreamBus::connect(&server.url()).await.expect("connect to nats-server");
    let kv = tessera_core::kv::JetStreamKv::open(&bus, "contract", None).await.expect("bucket");
    // Opening again with the same settings is harmless (every service does at start-up).
    tessera_core::kv::JetStreamKv::open(&bus, "contract", None).await.expect("bucket again");
    tessera_testkit::kv_contract::all(&kv).await;
}

/// A fetch waiting when nats-server restarts returns (its pull request died
/// with the server), and the consumer then receives what is published.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetch_waiting_through_a_server_restart_returns_and_the_consumer_goes_on() {
    use std::time::{Duration, Instant};
    use tessera_core::bus::{ConsumerConfig, OutgoingMessage, Retention, StreamConfig};

    let mut server = NatsServer::start();
    let bus = JetStreamBus::connect(&server.url()).await.expect("connect to nats-server");
    let stream = StreamConfig {
        name: "RESTART".into(),
        subjects: vec!["restart.>".into()],
        retention: Retention::WorkQueue,
        duplicate_window: Duration::from_secs(60),
        max_age: None,
    };
    bus.ensure_stream(&stream).await.unwrap();
    let config = ConsumerConfig {
        durable: "waiter".into(),
        filter_subject: "restart.>".into(),
        ack_wait: Duration::from_secs(5),
        max_deliver: 3,
        max_ack_pending: 10,
        dead_letter_subject: None,
    };
    let consumer = bus.consumer("RESTART", &config).await.unwrap();
    let waiting = tokio::spawn(async move {
        let started = Instant::now();
        let got = consumer.fetch(1, Duration::from_secs(3)).await;
        (consumer, got, started.elapsed())
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    server.stop();
    tokio::time::sleep(Duration::from_secs(1)).await;
    server.restart();
    let (consumer, got, took) = tokio::time::timeout(Duration::from_secs(20), waiting)
        .await
        .expect("the fetch came back after the restart")
        .unwrap();
    assert!(got.map(|d| d.is_empty()).unwrap_or(true), "nothing was published");
    // Its 3 s wait plus the bus's 2 s grace for a lost request, and a little slack.
    assert!(took < Duration::from_millis(6500), "took {took:?}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while bus.publish(OutgoingMessage::json("restart.x", Some("m1".into()), &"after")).await.is_err() {
        assert!(Instant::now() < deadline, "publishing after the restart");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut received = Vec::new();
    while received.is_empty() {
        assert!(Instant::now() < deadline, "the consumer never received the message after the restart");
        received = consumer.fetch(1, Duration::from_secs(1)).await.unwrap_or_default();
    }
    received[0].ack().await.unwrap();
}

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

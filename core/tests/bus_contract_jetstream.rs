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

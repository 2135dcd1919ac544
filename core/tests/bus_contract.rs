//! The in-process bus against the bus contract suite (the JetStream bus runs
//! the same suite against a real nats-server).

use std::sync::Arc;

use tessera_core::bus::{Bus, MemoryBus};

async fn memory_bus() -> (Arc<dyn Bus>, ()) {
    (Arc::new(MemoryBus::new()), ())
}

tessera_testkit::bus_contract_tests!(memory_bus());
tessera_testkit::serve_contract_tests!(memory_bus());

/// The in-process bucket passes the key-value contract.
#[tokio::test]
async fn memory_kv_contract() {
    tessera_testkit::kv_contract::all(&tessera_core::kv::MemoryKv::new()).await;
}

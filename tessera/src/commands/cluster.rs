//! What the cluster services share on the command line: the NATS and store
//! flags, connecting to them, and stopping on SIGTERM or Ctrl-C.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use tessera_coordinator::CoordinatorDeps;
use tessera_core::bus::JetStreamBus;
use tessera_core::kv::JetStreamKv;
use tessera_core::roster;
use tessera_core::topology::EVENTS_MAX_AGE;
use tessera_core::wire::{
    CANCELLED_BUCKET, IDEMPOTENCY_BUCKET, JOBS_BUCKET, LIVE_BUCKET, STREAM_KEYS_BUCKET, WORKERS_BUCKET,
};
use tessera_core::Store;
use tokio_util::sync::CancellationToken;

/// The NATS server and object store every service uses.
#[derive(Debug, Clone, Args)]
pub struct ClusterArgs {
    /// NATS server URL (JetStream enabled, nats-server >= 2.10).
    /// Several comma-separated URLs of one NATS cluster are tried in turn, and the
    /// client follows the cluster's other nodes when one goes away.
    #[arg(long, env = "TESSERA_NATS", default_value = "nats://127.0.0.1:4222")]
    pub nats: String,
    /// Copies of each JetStream stream and key-value bucket: 1 on a single
    /// server, 3 on a 3-node JetStream cluster (rides through losing a node).
    #[arg(long, env = "TESSERA_NATS_REPLICAS", default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=5))]
    pub nats_replicas: u8,
    /// Object store for uploads, sources and outputs: s3://bucket/prefix, gs://..., az://...,
    /// file:///dir or a folder. S3 settings come from AWS_* variables (AWS_ENDPOINT_URL,
    /// AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_ALLOW_HTTP for plain HTTP).
    #[arg(long, env = "TESSERA_STORE")]
    pub store: String,
    /// Seconds work waits out a store or NATS outage, retrying in place with
    /// back-off, before a task or event counts as failed once.
    #[arg(long, env = "TESSERA_OUTAGE_WINDOW", default_value_t = 900)]
    pub outage_window: u64,
}

/// A connected bus, store and buckets (what a coordinator works with; workers
/// and the packager use part of it).
pub struct Connected {
    /// Bus, store and buckets.
    pub deps: CoordinatorDeps,
    /// Whether NATS is reachable right now (readiness).
    pub ready: Arc<dyn Fn() -> bool + Send + Sync>,
}

/// How long idempotency keys are remembered.
const IDEMPOTENCY_TTL: Duration = Duration::from_secs(24 * 60 * 60);

impl ClusterArgs {
    /// The outage window as a duration.
    pub fn outage_window(&self) -> Duration {
        Duration::from_secs(self.outage_window)
    }

    /// Connects to NATS (waiting for it if it is not up yet), opens the store
    /// and creates or updates the streams and buckets.
    pub async fn connect(&self) -> anyhow::Result<Connected> {
        let store = Store::open(&self.store)?;
        let bus = JetStreamBus::connect(&self.nats)
            .await
            .with_context(|| format!("cannot reach NATS at {}", self.nats))?
            .with_replicas(usize::from(self.nats_replicas));
        tessera_core::topology::ensure_streams(&bus).await?;
        let window = self.outage_window();
        let jobs = open_bucket(&bus, JOBS_BUCKET, None, window).await?;
        let idempotency = open_bucket(&bus, IDEMPOTENCY_BUCKET, Some(IDEMPOTENCY_TTL), window).await?;
        let channels = open_bucket(&bus, LIVE_BUCKET, None, window).await?;
        let stream_keys = open_bucket(&bus, STREAM_KEYS_BUCKET, None, window).await?;
        let workers = open_bucket(&bus, WORKERS_BUCKET, Some(roster::BUCKET_MAX_AGE), window).await?;
        // A cancel matters while its job's tasks can still run: as long as its events are kept.
        let cancelled = open_bucket(&bus, CANCELLED_BUCKET, Some(EVENTS_MAX_AGE), window).await?;
        let probe = bus.clone();
        Ok(Connected {
            ready: Arc::new(move || probe.is_connected()),
            deps: CoordinatorDeps {
                bus: Arc::new(bus),
                store,
                jobs: Arc::new(jobs),
                idempotency: Arc::new(idempotency),
                channels: Arc::new(channels),
                stream_keys: Arc::new(stream_keys),
                workers: Arc::new(workers),
                cancelled: Arc::new(cancelled),
            },
        })
    }
}

/// Opens (creates or updates) a bucket, waiting out a cluster that does not
/// answer in time (starting, loaded or electing leaders) for `window`.
async fn open_bucket(
    bus: &JetStreamBus,
    name: &str,
    max_age: Option<Duration>,
    window: Duration,
) -> Result<JetStreamKv, tessera_core::kv::KvError> {
    let mut backoff = tessera_core::backoff::Backoff::new(window);
    loop {
        match JetStreamKv::open(bus, name, max_age).await {
            Err(tessera_core::kv::KvError::Connection(e)) if backoff.wait().await => {
                tracing::warn!(error = %e, bucket = name, "cannot open the bucket yet; retrying")
            }
            opened => return opened,
        }
    }
}

/// A token cancelled on SIGTERM or Ctrl-C (a second one exits at once).
pub fn stop_on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        let terminate = async {
            #[cfg(unix)]
            {
                if let Ok(mut sigterm) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    sigterm.recv().await;
                    return;
                }
            }
            std::future::pending::<()>().await;
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate => {}
        }
        tracing::info!("stopping: finishing what is in hand");
        eprintln!("stopping (again to exit at once)");
        cancel.cancel();
        let _ = tokio::signal::ctrl_c().await;
        std::process::exit(130);
    });
    token
}

/// A multi-threaded runtime.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")
}

/// Runs a service to its end, then exits without waiting for encoder threads
/// still busy with tasks that were handed back or cancelled (their results
/// are dropped anyway), so a drained worker exits within its drain timeout.
pub fn run_service(service: impl std::future::Future<Output = anyhow::Result<()>>) -> anyhow::Result<()> {
    let runtime = runtime()?;
    let result = runtime.block_on(service);
    runtime.shutdown_timeout(Duration::from_secs(1));
    result
}

//! The coordinator service: the HTTP API, the segmenting of submitted jobs
//! and the tracking of job records, over any bus and key-value buckets.
//! It keeps no state of its own: everything is in the bus, the buckets and
//! the store, so coordinators can be restarted or run side by side.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::records::channels::ChannelBook;
use crate::records::jobs::JobBook;
use tessera_core::bus::Bus;
use tessera_core::cancel::Cancellations;
use tessera_core::kv::KeyValue;
use tessera_core::roster::Roster;
use tessera_core::Store;
use tessera_media::Limits;
use tokio_util::sync::CancellationToken;

use crate::api::{self, ApiConfig, ApiState};
use crate::error::CoordinatorError;
use crate::live::{self, broadcast::ChannelGate, broadcast::LiveDeps};
use crate::metrics::Metrics;
use crate::submissions::{self, Segmenting};
use crate::tracker::{self, Tracking};
use crate::webhook_policy::PolicyResolver;

/// How a coordinator runs.
#[derive(Debug, Clone)]
pub struct CoordinatorConfig {
    /// Where the HTTP API listens.
    pub listen: SocketAddr,
    /// API settings.
    pub api: ApiConfig,
    /// Jobs segmented at once.
    pub segmenting_slots: usize,
    /// Input limits.
    pub limits: Limits,
    /// Where the RTMP server listens (none: no RTMP ingest).
    pub rtmp_listen: Option<SocketAddr>,
    /// Where the RTMPS server listens, and its certificate (none: no RTMPS ingest).
    pub rtmps: Option<RtmpsConfig>,
    /// Where the SRT server listens, UDP (none: no SRT ingest).
    pub srt_listen: Option<SocketAddr>,
    /// How long a broadcast whose publisher dropped waits for it to reconnect.
    pub live_grace: std::time::Duration,
    /// Routes served under `/files` (`tessera dev`'s outputs, through the packager's origin).
    pub files: Option<axum::Router>,
    /// How long store and bus errors are retried in place before work counts as failed once.
    pub outage_window: std::time::Duration,
    /// Where uploads are cut (a child process in the services, so a parser
    /// crash fails its job instead of the coordinator).
    pub cutter: crate::cutting::Cutter,
}

/// RTMPS: RTMP inside TLS.
#[derive(Debug, Clone)]
pub struct RtmpsConfig {
    /// Where it listens.
    pub listen: SocketAddr,
    /// PEM certificate chain.
    pub certificates: std::path::PathBuf,
    /// PEM private key.
    pub key: std::path::PathBuf,
}

/// What a coordinator works with.
#[derive(Clone)]
pub struct CoordinatorDeps {
    /// The bus.
    pub bus: Arc<dyn Bus>,
    /// Uploads, sources and outputs.
    pub store: Store,
    /// The job-records bucket.
    pub jobs: Arc<dyn KeyValue>,
    /// The idempotency-keys bucket.
    pub idempotency: Arc<dyn KeyValue>,
    /// The live-channels bucket.
    pub channels: Arc<dyn KeyValue>,
    /// The stream-keys bucket.
    pub stream_keys: Arc<dyn KeyValue>,
    /// The worker-roster bucket.
    pub workers: Arc<dyn KeyValue>,
    /// The cancelled-jobs bucket ([`CANCELLED_BUCKET`](tessera_core::wire::CANCELLED_BUCKET)).
    pub cancelled: Arc<dyn KeyValue>,
}

/// Runs the coordinator until `shutdown`: stops accepting requests, hands
/// the jobs it is segmenting back to the queue, then returns.
pub async fn run(
    deps: CoordinatorDeps,
    config: CoordinatorConfig,
    shutdown: CancellationToken,
) -> Result<(), CoordinatorError> {
    tessera_core::topology::ensure_streams(deps.bus.as_ref()).await?;
    let jobs = JobBook::new(deps.jobs.clone());
    let cancels = Cancellations::follow(deps.cancelled.clone());
    let metrics = Metrics::new();
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| CoordinatorError::Internal(format!("cannot listen on {}: {e}", config.listen)))?;
    let address = listener.local_addr().map_err(|e| CoordinatorError::Internal(e.to_string()))?;
    tracing::info!(%address, store = %deps.store.describe(), "coordinator API listening");
    if config.api.api_tokens.is_empty() {
        tracing::warn!("no --api-token: the /v1 API is open to anyone who can reach {address}");
    }

    let channels = ChannelBook::new(deps.channels.clone(), deps.stream_keys.clone());
    if config.rtmp_listen.is_some() || config.rtmps.is_some() || config.srt_listen.is_some() {
        let live = LiveDeps {
            bus: deps.bus.clone(),
            store: deps.store.clone(),
            jobs: jobs.clone(),
            channels: channels.clone(),
        };
        let gate: Arc<ChannelGate> = Arc::new(ChannelGate::new(live.clone()));
        if let Some(address) = config.rtmp_listen {
            let rtmp = live::rtmp::bind(address).await?;
            tracing::info!(address = %rtmp.local_addr().map_err(|e| CoordinatorError::Internal(e.to_string()))?, "RTMP ingest listening");
            tokio::spawn(live::rtmp::serve(rtmp, None, gate.clone(), shutdown.clone()));
        }
        if let Some(rtmps) = &config.rtmps {
            let tls = live::rtmp::tls_acceptor(&rtmps.certificates, &rtmps.key)?;
            let listener = live::rtmp::bind(rtmps.listen).await?;
            tracing::info!(address = %listener.local_addr().map_err(|e| CoordinatorError::Internal(e.to_string()))?, "RTMPS ingest listening");
            tokio::spawn(live::rtmp::serve(listener, Some(tls), gate.clone(), shutdown.clone()));
        }
        if let Some(address) = config.srt_listen {
            let srt = live::srt::bind(address).await?;
            tracing::info!(address = %srt.local_addr(), "SRT ingest listening");
            tokio::spawn(live::srt::serve(srt, gate, shutdown.clone()));
        }
        tokio::spawn(live::sweeper::run(live, config.live_grace, shutdown.clone()));
    }
    let state = ApiState {
        bus: deps.bus.clone(),
        store: deps.store.clone(),
        jobs: jobs.clone(),
        idempotency: deps.idempotency.clone(),
        channels,
        roster: Roster::new(deps.workers.clone()),
        cancels: cancels.clone(),
        config: Arc::new(config.api.clone()),
        metrics: metrics.clone(),
    };
    let mut router = api::router(state);
    if let Some(files) = config.files.clone() {
        // Players fetch playlists and fragments from another origin in
        // development: the files' routes carry their own CORS (reads only),
        // never the control API.
        router = router.nest("/files", files);
    }
    let server_shutdown = shutdown.clone();
    let server = axum::serve(listener, router).with_graceful_shutdown(async move { server_shutdown.cancelled().await });
    let segmenting = Segmenting {
        bus: deps.bus.clone(),
        store: deps.store.clone(),
        jobs: jobs.clone(),
        cancels: cancels.clone(),
        limits: config.limits,
        slots: config.segmenting_slots,
        cutter: config.cutter.clone(),
        outage_window: config.outage_window,
        metrics: metrics.clone(),
    };
    // One policy for the check before each delivery and the resolver behind it.
    let webhook_policy = Arc::new(config.api.webhook_policy.clone());
    let tracking = Tracking {
        bus: deps.bus.clone(),
        jobs,
        cancels: cancels.clone(),
        // Webhooks are not redirected: a receiver cannot bounce the coordinator elsewhere.
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(PolicyResolver::new(webhook_policy.clone())))
            .build()
            .map_err(|e| CoordinatorError::Internal(format!("HTTP client: {e}")))?,
        webhook_secret: Arc::new(config.api.webhook_secret.clone().into_bytes()),
        webhook_policy,
        outage_window: config.outage_window,
        store: deps.store.clone(),
        metrics,
    };
    tokio::spawn(crate::queues::run(deps.bus.clone(), shutdown.clone()));
    let (served, segmented, tracked) = tokio::join!(
        async { server.await.map_err(|e| CoordinatorError::Internal(format!("HTTP server: {e}"))) },
        submissions::run(segmenting, shutdown.clone()),
        tracker::run(tracking, shutdown.clone()),
    );
    served?;
    segmented?;
    tracked
}

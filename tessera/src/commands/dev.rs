//! `tessera dev`: the whole system in one process for trying it out: the
//! coordinator (HTTP API and RTMP ingest), workers and the packager over the
//! in-process bus and buckets, outputs in a local folder served over HTTP.
//! Nothing else to install: push from OBS or ffmpeg and watch.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use tessera_coordinator::api::ApiConfig;
use tessera_coordinator::cutting::Cutter;
use tessera_coordinator::webhook_policy::WebhookPolicy;
use tessera_coordinator::{CoordinatorConfig, CoordinatorDeps};
use tessera_core::backoff::DEFAULT_OUTAGE_WINDOW;
use tessera_core::bus::{Bus, MemoryBus};
use tessera_core::cancel::Cancellations;
use tessera_core::kv::{KeyValue, MemoryKv};
use tessera_core::roster::Roster;
use tessera_core::Store;
use tessera_media::Limits;
use tessera_worker::{WorkerBooks, WorkerConfig, WorkerStores};

use super::cluster::{run_service, stop_on_signal};

/// Dev-server flags.
#[derive(Debug, Args)]
pub struct DevArgs {
    /// Address of the HTTP API, the outputs (under /files) and, later, the dashboard.
    #[arg(long, env = "TESSERA_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Address of the RTMP ingest server.
    #[arg(long, env = "TESSERA_RTMP", default_value = "127.0.0.1:1935")]
    rtmp: SocketAddr,
    /// Address of the SRT ingest server (UDP).
    #[arg(long, env = "TESSERA_SRT", default_value = "127.0.0.1:9000")]
    srt: SocketAddr,
    /// Folder for uploads, sources and outputs (created if missing).
    #[arg(long, env = "TESSERA_OUT", default_value = "tessera-out")]
    out: PathBuf,
    /// Seconds a broadcast whose publisher dropped waits for it to reconnect.
    #[arg(long, env = "TESSERA_LIVE_GRACE", default_value_t = 10)]
    live_grace: u64,
    /// Secret that signs completion webhooks (HMAC-SHA256). Webhooks may go
    /// to loopback in development, where receivers run.
    #[arg(long, env = "TESSERA_WEBHOOK_SECRET", default_value = "tessera-dev", hide_env_values = true)]
    webhook_secret: String,
    /// Tasks encoded at once (default: the number of CPU cores).
    #[arg(long, env = "TESSERA_SLOTS")]
    slots: Option<usize>,
}

/// Runs everything until Ctrl-C.
pub fn run(args: DevArgs) -> anyhow::Result<()> {
    let store = Store::local_dir(&args.out)?;
    let out = std::fs::canonicalize(&args.out)?;
    run_service(async move {
        let shutdown = stop_on_signal();
        let bus: Arc<dyn Bus> = Arc::new(MemoryBus::new());
        tessera_core::topology::ensure_streams(bus.as_ref()).await?;
        let jobs: Arc<dyn KeyValue> = Arc::new(MemoryKv::new());
        let workers: Arc<dyn KeyValue> = Arc::new(MemoryKv::new());
        let cancelled: Arc<dyn KeyValue> = Arc::new(MemoryKv::new());
        let deps = CoordinatorDeps {
            bus: bus.clone(),
            store: store.clone(),
            jobs: jobs.clone(),
            idempotency: Arc::new(MemoryKv::new()),
            channels: Arc::new(MemoryKv::new()),
            stream_keys: Arc::new(MemoryKv::new()),
            workers: workers.clone(),
            cancelled: cancelled.clone(),
        };
        let config = CoordinatorConfig {
            listen: args.listen,
            api: ApiConfig {
                api_tokens: Vec::new(),
                max_upload_bytes: 10 << 30,
                webhook_secret: args.webhook_secret.clone(),
                rtmp_port: Some(args.rtmp.port()),
                rtmp_public_url: None,
                rtmps_port: None,
                rtmps_public_url: None,
                srt_port: Some(args.srt.port()),
                srt_public_url: None,
                playback_base_url: Some(format!("http://{}/files", args.listen)),
                default_ladder: None,
                webhook_policy: WebhookPolicy::loopback(),
            },
            segmenting_slots: 2,
            limits: Limits::default(),
            rtmp_listen: Some(args.rtmp),
            rtmps: None,
            srt_listen: Some(args.srt),
            live_grace: std::time::Duration::from_secs(args.live_grace),
            files: Some(tessera_packager::origin::router(store.clone())),
            outage_window: DEFAULT_OUTAGE_WINDOW,
            cutter: Cutter::Child(std::env::current_exe()?),
        };
        let default = WorkerConfig::default();
        let worker_config = WorkerConfig {
            slots: args.slots.unwrap_or(default.slots).max(1),
            encode_child: Some(std::env::current_exe()?),
            ..default
        };
        let stores = WorkerStores { sources: store.clone(), outputs: store.clone() };
        let mut services = tokio::task::JoinSet::new();
        let (b, s) = (bus.clone(), shutdown.clone());
        let books = WorkerBooks { cancels: Some(Cancellations::follow(cancelled)), roster: Some(Roster::new(workers)) };
        services.spawn(async move {
            Ok::<_, anyhow::Error>(tessera_worker::run(b, stores, worker_config, books, s).await?)
        });
        let (b, o, s) = (bus.clone(), store.clone(), shutdown.clone());
        services.spawn(async move { Ok(tessera_packager::run(b, o, DEFAULT_OUTAGE_WINDOW, s).await?) });
        let s = shutdown.clone();
        services.spawn(async move { Ok(tessera_coordinator::service::run(deps, config, s).await?) });
        eprintln!("tessera dev: API http://{} (OpenAPI at /v1/openapi.json)", args.listen);
        eprintln!("  outputs in {} served at http://{}/files/", out.display(), args.listen);
        eprintln!(
            "  live: curl -X POST http://{}/v1/live  (then publish to the rtmp_url or srt_url it returns)",
            args.listen
        );
        eprintln!("  VOD:  tessera submit FILE.mp4 --server http://{} --wait", args.listen);
        eprintln!("  webhooks may go to loopback, signed with --webhook-secret (TESSERA_WEBHOOK_SECRET)");
        while let Some(stopped) = services.join_next().await {
            if let Err(e) = stopped.map_err(anyhow::Error::from).and_then(|r| r) {
                shutdown.cancel();
                return Err(e);
            }
        }
        Ok(())
    })
}

//! `tessera coordinator`: the HTTP API, segmenting and job records over NATS and a store.

use std::net::SocketAddr;

use clap::Args;
use tessera_coordinator::api::ApiConfig;
use tessera_coordinator::cutting::Cutter;
use tessera_coordinator::service::RtmpsConfig;
use tessera_coordinator::webhook_policy::WebhookPolicy;
use tessera_coordinator::CoordinatorConfig;
use tessera_media::Limits;

use super::cluster::{run_service, stop_on_signal, ClusterArgs};

/// Coordinator flags.
#[derive(Debug, Args)]
pub struct CoordinatorArgs {
    #[command(flatten)]
    cluster: ClusterArgs,
    /// Address the HTTP API listens on.
    #[arg(long, env = "TESSERA_LISTEN", default_value = "0.0.0.0:8080")]
    listen: SocketAddr,
    /// Bearer token accepted by the /v1 API (repeat, or comma-separate in the
    /// variable, for several; none: the API is open).
    #[arg(long = "api-token", env = "TESSERA_API_TOKEN", value_delimiter = ',', hide_env_values = true)]
    api_tokens: Vec<String>,
    /// Largest accepted upload in bytes (larger: 413).
    #[arg(long, env = "TESSERA_MAX_UPLOAD_BYTES", default_value_t = 10 << 30)]
    max_upload_bytes: u64,
    /// Secret that signs completion webhooks (HMAC-SHA256); without it jobs cannot ask for webhooks.
    #[arg(long, env = "TESSERA_WEBHOOK_SECRET", hide_env_values = true)]
    webhook_secret: Option<String>,
    /// Webhook destinations allowed although internal: networks (10.1.0.0/16),
    /// addresses or host names (repeat, or comma-separate in the variable).
    /// Loopback, private, link-local and metadata addresses are refused otherwise.
    #[arg(long = "webhook-allow", env = "TESSERA_WEBHOOK_ALLOW", value_delimiter = ',')]
    webhook_allow: Vec<String>,
    /// Address of the RTMP ingest server ("off" to run without live ingest).
    #[arg(long, env = "TESSERA_RTMP", default_value = "0.0.0.0:1935")]
    rtmp: String,
    /// Public RTMP URL up to the application that channels show to publishers
    /// (default: rtmp://<the API request's host>:<rtmp port>/live).
    #[arg(long, env = "TESSERA_RTMP_PUBLIC_URL")]
    rtmp_public_url: Option<String>,
    /// Address of the RTMPS ingest server (RTMP in TLS; default off), with
    /// --rtmps-cert and --rtmps-key.
    #[arg(long, env = "TESSERA_RTMPS", requires_all = ["rtmps_cert", "rtmps_key"])]
    rtmps: Option<SocketAddr>,
    /// PEM certificate chain RTMPS presents.
    #[arg(long, env = "TESSERA_RTMPS_CERT")]
    rtmps_cert: Option<std::path::PathBuf>,
    /// PEM private key of the RTMPS certificate.
    #[arg(long, env = "TESSERA_RTMPS_KEY")]
    rtmps_key: Option<std::path::PathBuf>,
    /// Public RTMPS URL up to the application that channels show
    /// (default: rtmps://<the API request's host>:<rtmps port>/live).
    #[arg(long, env = "TESSERA_RTMPS_PUBLIC_URL")]
    rtmps_public_url: Option<String>,
    /// Address of the SRT ingest server, UDP ("off" to run without it).
    #[arg(long, env = "TESSERA_SRT", default_value = "0.0.0.0:9000")]
    srt: String,
    /// Public SRT URL (`srt://live.example.com:9000`) that channels show to
    /// publishers (default: srt://<the API request's host>:<srt port>).
    #[arg(long, env = "TESSERA_SRT_PUBLIC_URL")]
    srt_public_url: Option<String>,
    /// Public base URL of the store's objects (a CDN or bucket URL), for playback URLs.
    #[arg(long, env = "TESSERA_PLAYBACK_BASE_URL")]
    playback_base_url: Option<String>,
    /// Seconds a broadcast whose publisher's connection dropped waits for it
    /// to reconnect and continue, before it is finalized.
    #[arg(long, env = "TESSERA_LIVE_GRACE", default_value_t = 10)]
    live_grace: u64,
    /// Ladder file (JSON, or TOML by its .toml extension) for jobs and channels
    /// that give none; the codecs a request asks for pick its rungs (default:
    /// the built-in ladder).
    #[arg(long, env = "TESSERA_LADDER")]
    ladder: Option<std::path::PathBuf>,
    /// Jobs this coordinator segments at once.
    #[arg(long, env = "TESSERA_SEGMENTING_SLOTS", default_value_t = 2)]
    segmenting_slots: usize,
}

/// Runs the coordinator until SIGTERM.
pub fn run(args: CoordinatorArgs) -> anyhow::Result<()> {
    let rtmp_listen = match args.rtmp.as_str() {
        "off" | "" => None,
        address => Some(address.parse::<SocketAddr>().map_err(|e| anyhow::anyhow!("--rtmp {address}: {e}"))?),
    };
    let srt_listen = match args.srt.as_str() {
        "off" | "" => None,
        address => Some(address.parse::<SocketAddr>().map_err(|e| anyhow::anyhow!("--srt {address}: {e}"))?),
    };
    let rtmps = match (args.rtmps, args.rtmps_cert, args.rtmps_key) {
        (Some(listen), Some(certificates), Some(key)) => Some(RtmpsConfig { listen, certificates, key }),
        _ => None,
    };
    let default_ladder = args.ladder.as_deref().map(super::read_ladder).transpose()?;
    let webhook_policy =
        WebhookPolicy::parse(&args.webhook_allow).map_err(|e| anyhow::anyhow!("--webhook-allow: {e}"))?;
    run_service(async move {
        let shutdown = stop_on_signal();
        let deps = args.cluster.connect().await?.deps;
        let config = CoordinatorConfig {
            listen: args.listen,
            api: ApiConfig {
                api_tokens: args.api_tokens.into_iter().filter(|t| !t.is_empty()).collect(),
                max_upload_bytes: args.max_upload_bytes,
                webhook_secret: args.webhook_secret.unwrap_or_default(),
                rtmp_port: rtmp_listen.map(|a| a.port()),
                rtmp_public_url: args.rtmp_public_url,
                rtmps_port: args.rtmps.map(|a| a.port()),
                rtmps_public_url: args.rtmps_public_url,
                srt_port: srt_listen.map(|a| a.port()),
                srt_public_url: args.srt_public_url,
                playback_base_url: args.playback_base_url,
                default_ladder,
                webhook_policy,
            },
            segmenting_slots: args.segmenting_slots.max(1),
            limits: Limits::default(),
            rtmp_listen,
            rtmps,
            srt_listen,
            live_grace: std::time::Duration::from_secs(args.live_grace),
            files: None,
            outage_window: args.cluster.outage_window(),
            cutter: Cutter::Child(std::env::current_exe()?),
        };
        tessera_coordinator::service::run(deps, config, shutdown).await?;
        Ok(())
    })
}

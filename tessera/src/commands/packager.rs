//! `tessera packager`: writes manifests as jobs' segments complete.

use clap::Args;

use super::cluster::{run_service, stop_on_signal, ClusterArgs};

/// Packager flags.
#[derive(Debug, Args)]
pub struct PackagerArgs {
    #[command(flatten)]
    cluster: ClusterArgs,
    /// Address of /healthz, /readyz and /metrics (none: not served).
    #[arg(long, env = "TESSERA_OPS_LISTEN")]
    listen: Option<std::net::SocketAddr>,
    /// Address of the origin: the outputs over HTTP from the store, with
    /// LL-HLS blocking playlist reloads (none: not served). Point the
    /// coordinator's --playback-base-url at it.
    #[arg(long, env = "TESSERA_ORIGIN_LISTEN")]
    origin: Option<std::net::SocketAddr>,
}

/// Runs the packager until SIGTERM.
pub fn run(args: PackagerArgs) -> anyhow::Result<()> {
    run_service(async move {
        let shutdown = stop_on_signal();
        let connected = args.cluster.connect().await?;
        if let Some(listen) = args.listen {
            // Up until the process exits, through the drain: probes and scrapes still answer.
            tokio::spawn(super::ops::serve(listen, connected.ready.clone()));
        }
        if let Some(address) = args.origin {
            let listener = tokio::net::TcpListener::bind(address)
                .await
                .map_err(|e| anyhow::anyhow!("cannot listen for the origin on {address}: {e}"))?;
            let origin = tessera_packager::origin::router(connected.deps.store.clone());
            let stop = shutdown.clone();
            tokio::spawn(async move {
                let served =
                    axum::serve(listener, origin).with_graceful_shutdown(async move { stop.cancelled().await });
                if let Err(e) = served.await {
                    tracing::error!(error = %e, "origin stopped");
                }
            });
            tracing::info!(%address, "origin listening");
        }
        tracing::info!("packager started");
        let window = args.cluster.outage_window();
        tessera_packager::run(connected.deps.bus, connected.deps.store, window, shutdown).await?;
        Ok(())
    })
}

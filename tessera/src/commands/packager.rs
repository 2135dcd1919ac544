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
        tracing::info!("packager started");
        let window = args.cluster.outage_window();
        tessera_packager::run(connected.deps.bus, connected.deps.store, window, shutdown).await?;
        Ok(())
    })
}

//! `tessera origin`: the outputs over HTTP from the store, with LL-HLS
//! blocking playlist reloads (`tessera_packager::origin`). Stateless: run as
//! many as the viewers' players need, behind a CDN.

use clap::Args;
use tessera_core::Store;

use super::cluster::{run_service, stop_on_signal};

/// Origin flags.
#[derive(Debug, Args)]
pub struct OriginArgs {
    /// Address to serve on.
    #[arg(long, env = "TESSERA_LISTEN", default_value = "0.0.0.0:8090")]
    listen: std::net::SocketAddr,
    /// Object store the outputs are in (as the other services' --store).
    #[arg(long, env = "TESSERA_STORE")]
    store: String,
}

/// Serves until SIGTERM.
pub fn run(args: OriginArgs) -> anyhow::Result<()> {
    let store = Store::open(&args.store)?;
    run_service(async move {
        let shutdown = stop_on_signal();
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", args.listen))?;
        tracing::info!(address = %args.listen, store = %store.describe(), "origin listening");
        let routes = tessera_packager::origin::router(store);
        axum::serve(listener, routes).with_graceful_shutdown(async move { shutdown.cancelled().await }).await?;
        Ok(())
    })
}

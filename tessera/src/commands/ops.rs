//! The operations endpoints of the worker and packager processes (the
//! coordinator serves its own with its API): `/healthz` (the process
//! answers), `/readyz` (NATS is connected) and `/metrics` (Prometheus text of
//! the process-wide registry).

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

/// Serves the endpoints on `listen` for as long as the process runs.
pub async fn serve(listen: SocketAddr, ready: Arc<dyn Fn() -> bool + Send + Sync>) -> anyhow::Result<()> {
    let router = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(move || {
                let ready = ready();
                async move {
                    if ready {
                        (StatusCode::OK, "ready")
                    } else {
                        (StatusCode::SERVICE_UNAVAILABLE, "not connected to NATS")
                    }
                }
            }),
        )
        .route(
            "/metrics",
            get(|| async {
                let text = tessera_core::telemetry::prometheus_text();
                ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
            }),
        );
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    tracing::info!(address = %listen, "health and metrics endpoints listening");
    axum::serve(listener, router).await?;
    Ok(())
}

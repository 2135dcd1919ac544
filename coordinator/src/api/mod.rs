//! The coordinator's HTTP API (axum): jobs, uploads, health, metrics and the
//! OpenAPI document. `/v1` routes need a bearer token when tokens are
//! configured; `/healthz`, `/readyz` and `/metrics` are open (for probes and
//! scrapers inside the cluster).

pub mod auth;
pub mod cluster;
pub mod dashboard;
pub mod error;
mod idempotency;
pub mod job_views;
pub mod jobs;
mod keys;
pub mod live;
pub mod ownership;
pub mod request;
pub mod settings;
pub mod uploads;

use std::sync::Arc;
use std::time::Duration;

use crate::records::channels::ChannelBook;
use crate::records::jobs::JobBook;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use tessera_core::bus::Bus;
use tessera_core::kv::KeyValue;
use tessera_core::roster::Roster;
use tessera_core::Store;
use utoipa::OpenApi;

use crate::metrics::Metrics;

/// API settings.
#[derive(Debug, Clone, Default)]
pub struct ApiConfig {
    /// Accepted bearer tokens (empty: no authentication).
    pub api_tokens: Vec<String>,
    /// Largest accepted upload in bytes.
    pub max_upload_bytes: u64,
    /// Secret that signs webhooks (empty: webhooks refused).
    pub webhook_secret: String,
    /// Port of the RTMP server (for the URLs channels show).
    pub rtmp_port: Option<u16>,
    /// Public RTMP URL up to the application (`rtmp://live.example.com/live`), if not this host.
    pub rtmp_public_url: Option<String>,
    /// Port of the RTMPS server (none: RTMPS is not served).
    pub rtmps_port: Option<u16>,
    /// Public RTMPS URL up to the application (`rtmps://live.example.com/live`), if not this host.
    pub rtmps_public_url: Option<String>,
    /// Port of the SRT server (none: SRT is not served).
    pub srt_port: Option<u16>,
    /// Public SRT URL (`srt://live.example.com:9000`), if not this host.
    pub srt_public_url: Option<String>,
    /// Public base URL of the store's outputs, for playback URLs (none: store keys).
    pub playback_base_url: Option<String>,
    /// The ladder of jobs and channels that give none (none: the built-in ladder).
    pub default_ladder: Option<tessera_core::Ladder>,
    /// Where webhooks may go (default: the public internet only).
    pub webhook_policy: crate::webhook_policy::WebhookPolicy,
}

/// What every handler shares.
#[derive(Clone)]
pub struct ApiState {
    /// The bus (submissions, cancellations).
    pub bus: Arc<dyn Bus>,
    /// The store (uploads, sources).
    pub store: Store,
    /// Job records.
    pub jobs: JobBook,
    /// Idempotency keys.
    pub idempotency: Arc<dyn KeyValue>,
    /// Live channels.
    pub channels: ChannelBook,
    /// The worker roster.
    pub roster: Roster,
    /// Cancelled jobs: a cancel is signalled here, for the workers and segmenters.
    pub cancels: tessera_core::cancel::Cancellations,
    /// Settings.
    pub config: Arc<ApiConfig>,
    /// Metrics.
    pub metrics: Metrics,
}

/// The OpenAPI description of the API.
#[derive(OpenApi)]
#[openapi(
    info(title = "Tessera coordinator API", description = "Submit transcoding jobs and follow them."),
    paths(jobs::create, jobs::get, jobs::list, jobs::cancel, jobs::report, uploads::upload, live::create,
        live::list, live::get, live::end, cluster::get),
    components(schemas(jobs::CreateJob, jobs::SourceRef, jobs::SubtitleRequest, job_views::JobView, job_views::JobPage,
        job_views::Progress, job_views::RenditionView, job_views::JobErrorView, uploads::UploadView, error::ErrorBody, error::ErrorDetail,
        settings::EncodingRequest, live::CreateChannel, live::ChannelView, live::ChannelList, job_views::Playback, cluster::ClusterView,
        cluster::WorkerView, cluster::TaskView, crate::queues::QueueView)),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The router with every route.
pub fn router(state: ApiState) -> Router {
    let v1 = Router::new()
        .route("/v1/jobs", get(jobs::list).post(jobs::create))
        .route("/v1/jobs/{id}", get(jobs::get).delete(jobs::cancel))
        .route("/v1/jobs/{id}/report", get(jobs::report))
        .route("/v1/cluster", get(cluster::get))
        .route("/v1/uploads", put(uploads::upload).layer(DefaultBodyLimit::disable()))
        .route("/v1/live", get(live::list).post(live::create))
        .route("/v1/live/{id}", get(live::get).delete(live::end))
        .route("/v1/openapi.json", get(openapi))
        .layer(middleware::from_fn_with_state(state.clone(), auth::require_token));
    Router::new()
        .merge(v1)
        .merge(dashboard::routes())
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .fallback(|| async { error::ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route") })
        .layer(middleware::from_fn_with_state(state.clone(), count_requests))
        .with_state(state)
}

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// Ready when the job records answer (the bus and its key-value bucket are up).
async fn ready(State(api): State<ApiState>) -> Response {
    match tokio::time::timeout(Duration::from_secs(2), api.jobs.get("readyz")).await {
        Ok(Ok(_)) => (StatusCode::OK, "ready").into_response(),
        Ok(Err(e)) => (StatusCode::SERVICE_UNAVAILABLE, format!("job records unavailable: {e}")).into_response(),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "job records did not answer within 2 s").into_response(),
    }
}

async fn metrics() -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], tessera_core::telemetry::prometheus_text()).into_response()
}

async fn count_requests(State(api): State<ApiState>, request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", |p| p.as_str()).to_string();
    // Only standard methods become labels: made-up ones would grow the series without bound.
    let method = match request.method().as_str() {
        m @ ("GET" | "POST" | "PUT" | "DELETE" | "HEAD" | "OPTIONS" | "PATCH") => m.to_string(),
        _ => "OTHER".to_string(),
    };
    let response = next.run(request).await;
    api.metrics.request(&format!("{method} {route}"), response.status().as_u16());
    response
}

//! `GET /v1/cluster`: the workers in the roster (class, codecs, slots, what
//! they run) and the task queues' depths, for the dashboard and operators.

use axum::extract::State;
use axum::Json;
use serde::Serialize;
use tessera_core::clock::now_ms;
use tessera_core::roster::WorkerStatus;
use utoipa::ToSchema;

use super::error::ApiError;
use super::job_views::rfc3339;
use super::ApiState;
use crate::queues::{self, QueueView};

/// A task a worker is running.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaskView {
    /// Job id.
    pub job: String,
    /// Segment number.
    pub segment: u32,
    /// Rendition, e.g. `h264-720p`.
    pub rendition: String,
    /// When the worker took it (RFC 3339).
    pub started_at: String,
}

/// A worker seen in the last 15 s.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkerView {
    /// Roster id (host and a random suffix).
    pub id: String,
    /// Host (pod) name.
    pub host: String,
    /// `cpu` or `gpu`.
    pub class: String,
    /// Codecs it takes tasks for.
    pub codecs: Vec<String>,
    /// Tasks it runs at once.
    pub slots: u32,
    /// When it started (RFC 3339).
    pub started_at: String,
    /// Its latest status (RFC 3339).
    pub last_seen: String,
    /// What it is running now.
    pub tasks: Vec<TaskView>,
}

/// Workers and queues.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClusterView {
    /// Live workers, by id.
    pub workers: Vec<WorkerView>,
    /// Task queues (as of the last poll, every 5 s; empty when the bus could not be read for 15 s).
    pub queues: Vec<QueueView>,
}

impl From<WorkerStatus> for WorkerView {
    fn from(w: WorkerStatus) -> Self {
        Self {
            id: w.id,
            host: w.host,
            class: w.class.as_str().into(),
            codecs: w.codecs.iter().map(|c| c.as_str().to_string()).collect(),
            slots: w.slots,
            started_at: rfc3339(w.started_at_ms),
            last_seen: rfc3339(w.last_seen_ms),
            tasks: w
                .tasks
                .into_iter()
                .map(|t| TaskView {
                    job: t.job,
                    segment: t.segment,
                    rendition: t.rendition,
                    started_at: rfc3339(t.started_at_ms),
                })
                .collect(),
        }
    }
}

/// Workers and task queues.
#[utoipa::path(get, path = "/v1/cluster", responses((status = 200, body = ClusterView)), security(("bearer" = [])))]
pub async fn get(State(api): State<ApiState>) -> Result<Json<ClusterView>, ApiError> {
    let workers = api.roster.list(now_ms()).await.map_err(ApiError::unavailable)?;
    Ok(Json(ClusterView { workers: workers.into_iter().map(WorkerView::from).collect(), queues: queues::snapshot() }))
}

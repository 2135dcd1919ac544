//! What the API shows of a job: its view (state, progress, renditions,
//! playback URLs), a page of them, and the answer to a created job.

use crate::records::jobs::{JobRecord, JobState};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use super::ApiState;

/// Tasks done out of all.
#[derive(Debug, Serialize, ToSchema)]
pub struct Progress {
    /// Tasks done.
    pub done: u64,
    /// Tasks in all (0 until planned).
    pub total: u64,
    /// Percentage done.
    pub percent: f64,
}

/// One rendition's status.
#[derive(Debug, Serialize, ToSchema)]
pub struct RenditionView {
    /// Name, e.g. `h264-720p`.
    pub name: String,
    /// Segments done.
    pub done: u32,
    /// Segments in all.
    pub total: u32,
    /// `pending`, `running` or `done`.
    pub state: &'static str,
}

/// A job's error.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobErrorView {
    /// The first failing segment, rendition and reason.
    pub reason: String,
    /// True when the input is at fault.
    pub bad_input: bool,
}

/// What `GET /v1/jobs/{id}` says.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobView {
    /// Job id.
    pub id: String,
    /// queued, running, completed, failed or cancelled.
    pub state: String,
    /// Submission time (RFC 3339).
    pub created_at: String,
    /// Last change (RFC 3339).
    pub updated_at: String,
    /// Progress.
    pub progress: Progress,
    /// Per-rendition status (empty until planned).
    pub renditions: Vec<RenditionView>,
    /// Output prefix in the store.
    pub output_prefix: String,
    /// Manifest and report keys, once completed.
    pub outputs: Vec<String>,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<JobErrorView>,
    /// The latest transient failure (being retried).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_retry: Option<String>,
    /// Webhook delivery: pending, delivered or failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook: Option<String>,
    /// When the first rendition became playable while the rest of the
    /// ladder was being encoded (RFC 3339): the master playlist lists it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub playable_at: Option<String>,
    /// Seconds from submission to [`JobView::playable_at`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub playable_after_secs: Option<f64>,
    /// Master playlist and MPD URLs (under `--playback-base-url`), once
    /// playable (the MPD is written when the job completes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub playback: Option<Playback>,
}

impl JobView {
    /// The view of a record, with playback URLs once it is playable (or
    /// completed) and the coordinator knows where outputs are served.
    pub(crate) fn of(api: &ApiState, record: &JobRecord) -> Self {
        let playable =
            record.state == JobState::Completed || (record.playable_at_ms.is_some() && !record.state.is_terminal());
        let served = api.config.playback_base_url.is_some() && playable;
        Self { playback: served.then(|| playback(api, &record.submission.output_prefix)), ..Self::from(record) }
    }
}

/// Milliseconds since the Unix epoch as RFC 3339.
pub(crate) fn rfc3339(ms: u64) -> String {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms);
    humantime::format_rfc3339_millis(time).to_string()
}

impl From<&JobRecord> for JobView {
    fn from(record: &JobRecord) -> Self {
        let (done, total) = record.progress();
        let percent = if total == 0 { 0.0 } else { (done as f64 * 1000.0 / total as f64).round() / 10.0 };
        Self {
            id: record.id().to_string(),
            state: record.state.as_str().to_string(),
            created_at: rfc3339(record.created_at_ms),
            updated_at: rfc3339(record.updated_at_ms),
            progress: Progress { done, total, percent },
            renditions: record
                .renditions
                .iter()
                .map(|r| {
                    let done = u32::try_from(r.done.len()).unwrap_or(u32::MAX);
                    let state = match done {
                        0 => "pending",
                        d if d >= r.total => "done",
                        _ => "running",
                    };
                    RenditionView { name: r.name.clone(), done, total: r.total, state }
                })
                .collect(),
            output_prefix: record.submission.output_prefix.clone(),
            outputs: record.outputs.clone(),
            error: record.error.as_ref().map(|e| JobErrorView { reason: e.reason.clone(), bad_input: e.bad_input }),
            last_retry: record.last_retry.clone().filter(|_| !record.state.is_terminal()),
            webhook: record.webhook.as_ref().map(|h| format!("{:?}", h.delivery).to_ascii_lowercase()),
            playable_at: record.playable_at_ms.map(rfc3339),
            playable_after_secs: record
                .playable_at_ms
                .map(|at| (at.saturating_sub(record.created_at_ms) as f64 / 100.0).round() / 10.0),
            playback: None,
        }
    }
}

/// A page of jobs.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobPage {
    /// Jobs, newest first (for generated ids).
    pub jobs: Vec<JobView>,
    /// Pass as `after` for the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// Playback URLs (or store keys when no public base URL is configured).
#[derive(Debug, Serialize, ToSchema)]
pub struct Playback {
    /// HLS multivariant playlist.
    pub hls: String,
    /// DASH MPD.
    pub dash: String,
}

/// The master playlist and MPD URLs of outputs under `prefix`: under
/// `--playback-base-url` when set, else the bare store keys.
pub(crate) fn playback(api: &ApiState, prefix: &str) -> Playback {
    let base = api.config.playback_base_url.as_deref().map(|b| b.trim_end_matches('/'));
    let url = |name: &str| match base {
        Some(base) => format!("{base}/{prefix}/{name}"),
        None => format!("{prefix}/{name}"),
    };
    Playback { hls: url("master.m3u8"), dash: url("manifest.mpd") }
}

/// The answer to a created (or replayed) job: its view, with its `Location`.
pub(crate) fn created(record: &JobRecord, status: StatusCode, replayed: bool) -> Response {
    let mut response = (status, Json(JobView::from(record))).into_response();
    if let Ok(location) = HeaderValue::from_str(&format!("/v1/jobs/{}", record.id())) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    if replayed {
        response.headers_mut().insert("Idempotent-Replayed", HeaderValue::from_static("true"));
    }
    response
}

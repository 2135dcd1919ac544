//! `/v1/jobs`: submit, inspect, list and cancel jobs.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tessera_core::bus::OutgoingMessage;
use tessera_core::jobs::DEFAULT_THUMBNAIL_INTERVAL_SECS;
use tessera_core::jobs::{JobBookError, JobRecord, JobState, JobSubmission};
use tessera_core::kv::KvError;
use tessera_core::telemetry::TraceParent;
use tessera_core::wire::{upload_key, validate_id, JobEvent, JobEventKind, JOB_SUBMISSIONS_SUBJECT, TRACEPARENT};
use tessera_core::{SegmentDuration, StoreError};
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use super::live::Playback;
use super::ownership;
use super::request::read_request;
use super::settings::{EncodingRequest, Settings};
use super::ApiState;
use crate::subtitles::subtitle_track;
use tessera_core::wire::SubtitleTrack;

/// Where the source is: exactly one of the two.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceRef {
    /// An id returned by `PUT /v1/uploads`.
    pub upload_id: Option<String>,
    /// An object URL inside the coordinator's store (e.g. `s3://bucket/prefix/in.mp4`).
    pub url: Option<String>,
}

/// `POST /v1/jobs` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateJob {
    /// Job id (1-64 of `A-Z a-z 0-9 - _`); a time-ordered one is made when absent.
    pub id: Option<String>,
    /// The source.
    pub source: SourceRef,
    /// Codecs, ladder, speed, worker class, output prefix.
    #[serde(flatten)]
    pub encoding: EncodingRequest,
    /// Target segment duration in seconds, 1-30 (default 4).
    pub segment_duration: Option<f64>,
    /// URL POSTed (signed) when the job completes, fails or is cancelled.
    pub webhook_url: Option<String>,
    /// Seconds between seek-bar thumbnails, 1-60 (default 2); 0: no
    /// thumbnails and no poster.
    pub thumbnail_interval: Option<f64>,
    /// Audio languages to keep, as the source tags its tracks (`["eng",
    /// "fra"]`); default: every audio track. A source with none of them fails the job.
    pub audio_languages: Option<Vec<String>>,
    /// Subtitle files (WebVTT or SRT, in the store like the source) to add
    /// as subtitle renditions.
    pub subtitles: Option<Vec<SubtitleRequest>>,
}

/// A subtitle file sent with a job.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubtitleRequest {
    /// Where the file is (an upload id or a store URL).
    pub source: SourceRef,
    /// Its language, a BCP 47 tag (`en`, `pt-BR`).
    pub language: String,
    /// The name players show (default: the language tag).
    pub name: Option<String>,
    /// Shown unless the viewer turns it off (at most one).
    #[serde(default)]
    pub default: bool,
}

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
        Self {
            playback: served.then(|| super::live::playback(api, &record.submission.output_prefix)),
            ..Self::from(record)
        }
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

/// A store key from a client: relative, no empty, `.` or `..` parts, safe characters only.
pub(crate) fn check_key(what: &'static str, code: &'static str, key: &str) -> Result<(), ApiError> {
    let safe_chars = key.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/'));
    let safe_parts = !key.is_empty() && key.split('/').all(|p| !p.is_empty() && p != "." && p != "..");
    if safe_chars && safe_parts && key.len() <= 512 {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            code,
            format!("{what} '{key}' must be a relative path of A-Z a-z 0-9 - _ . / without empty, '.' or '..' parts"),
        ))
    }
}

/// The store key of the requested source.
fn source_key(api: &ApiState, source: &SourceRef) -> Result<String, ApiError> {
    match (&source.upload_id, &source.url) {
        (Some(upload), None) => {
            validate_id("upload id", upload).map_err(|e| ApiError::bad_request("invalid_source", e.to_string()))?;
            Ok(upload_key(upload))
        }
        (None, Some(url)) => {
            let base = api.store.describe().trim_end_matches('/');
            let key = url.strip_prefix(base).and_then(|rest| rest.strip_prefix('/')).ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_source",
                    format!("source url '{url}' is not inside this coordinator's store ({base}/...)"),
                )
            })?;
            check_key("source key", "invalid_source", key)?;
            Ok(key.to_string())
        }
        _ => Err(ApiError::bad_request("invalid_source", "source needs exactly one of upload_id and url")),
    }
}

/// Turns a request into a submission (everything checked), less the job id's uniqueness.
fn submission(api: &ApiState, request: &CreateJob, job: &str) -> Result<JobSubmission, ApiError> {
    let source_key = source_key(api, &request.source)?;
    let segment_duration = SegmentDuration::vod(request.segment_duration)
        .map_err(|e| ApiError::bad_request("invalid_request", format!("segment_duration: {e}")))?;
    let settings = Settings::parse(&api.config, &request.encoding, &format!("outputs/{job}"))?;
    let mut submission = JobSubmission::new(job, &source_key, settings.ladder, &settings.output_prefix);
    submission.segment_duration = segment_duration;
    let interval = request.thumbnail_interval.unwrap_or(DEFAULT_THUMBNAIL_INTERVAL_SECS);
    if interval != 0.0 && !(1.0..=60.0).contains(&interval) {
        return Err(ApiError::bad_request("invalid_request", "thumbnail_interval must be 0 (none) or 1-60 seconds"));
    }
    submission.thumbnail_interval_secs = interval;
    let languages = request.audio_languages.clone().unwrap_or_default();
    if languages
        .iter()
        .any(|l| l.is_empty() || l.len() > 35 || !l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
    {
        return Err(ApiError::bad_request(
            "invalid_request",
            "audio_languages holds language tags such as \"eng\" or \"pt-BR\"",
        ));
    }
    submission.audio_languages = languages;
    submission.speed = settings.speed;
    submission.class = settings.class;
    Ok(submission)
}

/// Reads and checks a job's subtitle files (a bad one is a 400 naming it).
async fn read_subtitles(api: &ApiState, requests: &[SubtitleRequest]) -> Result<Vec<SubtitleTrack>, ApiError> {
    if requests.iter().filter(|r| r.default).count() > 1 {
        return Err(ApiError::bad_request("invalid_subtitles", "at most one subtitle track can be the default"));
    }
    let mut tracks = Vec::new();
    for request in requests {
        let key = source_key(api, &request.source)?;
        let bytes = match api.store.get(&key).await {
            Ok(bytes) => bytes,
            Err(StoreError::NotFound(_) | StoreError::InvalidKey(_)) => {
                return Err(ApiError::bad_request("source_not_found", format!("the subtitles '{key}' do not exist")))
            }
            Err(e) => return Err(ApiError::unavailable(e)),
        };
        let track = subtitle_track(&bytes, &request.language, request.name.as_deref(), &tracks)
            .map_err(|e| ApiError::bad_request("invalid_subtitles", e.to_string()))?;
        tracks.push(SubtitleTrack { default: request.default, ..track });
    }
    Ok(tracks)
}

async fn check_webhook(api: &ApiState, url: Option<&str>) -> Result<(), ApiError> {
    let Some(url) = url else { return Ok(()) };
    let parsed =
        url::Url::parse(url).map_err(|e| ApiError::bad_request("invalid_webhook", format!("webhook_url: {e}")))?;
    api.config.webhook_policy.check(&parsed).await.map_err(|e| ApiError::bad_request("invalid_webhook", e))?;
    if api.config.webhook_secret.is_empty() {
        return Err(ApiError::bad_request(
            "webhook_unavailable",
            "this coordinator has no webhook secret (--webhook-secret) to sign webhooks with",
        ));
    }
    Ok(())
}

/// The job's span context (a child of a valid incoming `traceparent`, else a
/// new trace) and the incoming one.
fn trace_context(headers: &HeaderMap) -> (String, Option<String>) {
    let given = headers.get(TRACEPARENT).and_then(|v| v.to_str().ok()).and_then(TraceParent::parse);
    let job = given.map_or_else(TraceParent::new_root, |parent| parent.new_child());
    (job.header(), given.map(|g| g.header()))
}

/// What an idempotency key remembers.
#[derive(Serialize, Deserialize)]
struct Remembered {
    job: String,
    request_sha256: String,
}

fn created(record: &JobRecord, status: StatusCode, replayed: bool) -> Response {
    let mut response = (status, Json(JobView::from(record))).into_response();
    if let Ok(location) = HeaderValue::from_str(&format!("/v1/jobs/{}", record.id())) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    if replayed {
        response.headers_mut().insert("Idempotent-Replayed", HeaderValue::from_static("true"));
    }
    response
}

/// Publishes the job's submission (deduplicated by job id, so repeating it is harmless).
async fn enqueue(api: &ApiState, submission: &JobSubmission) -> Result<(), ApiError> {
    let mut message = OutgoingMessage::json(JOB_SUBMISSIONS_SUBJECT, Some(submission.job.clone()), submission);
    if let Some(t) = &submission.traceparent {
        message.headers.push((TRACEPARENT.into(), t.clone()));
    }
    api.bus.publish(message).await.map_err(ApiError::unavailable)?;
    Ok(())
}

/// Submit a job.
#[utoipa::path(post, path = "/v1/jobs", request_body = CreateJob,
    params(("Idempotency-Key" = Option<String>, Header, description = "Repeat-safe submission key")),
    responses((status = 201, body = JobView), (status = 200, description = "Replayed idempotent submission", body = JobView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(State(api): State<ApiState>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let request: CreateJob = read_request(&headers, &body, "job request")?;
    let job = match &request.id {
        Some(id) => {
            validate_id("job id", id).map_err(|e| ApiError::bad_request("invalid_job_id", e.to_string()))?;
            id.clone()
        }
        None => uuid::Uuid::now_v7().simple().to_string(),
    };
    let mut submission = submission(&api, &request, &job)?;
    submission.subtitles = read_subtitles(&api, request.subtitles.as_deref().unwrap_or_default()).await?;
    check_webhook(&api, request.webhook_url.as_deref()).await?;
    match api.store.exists(&submission.source_key).await {
        Ok(true) => {}
        Ok(false) => {
            return Err(ApiError::bad_request(
                "source_not_found",
                format!("the source '{}' does not exist in the store", submission.source_key),
            ))
        }
        Err(StoreError::InvalidKey(k)) => {
            return Err(ApiError::bad_request("invalid_source", format!("invalid source key '{k}'")))
        }
        Err(e) => return Err(ApiError::unavailable(e)),
    }
    let (traceparent, request_traceparent) = trace_context(&headers);
    submission.traceparent = Some(traceparent);
    submission.request_traceparent = request_traceparent;

    let mut claimed = None;
    if let Some(key) = headers.get("Idempotency-Key").and_then(|v| v.to_str().ok()) {
        let request_sha256 = hex::encode(Sha256::digest(&body));
        // Keys are per client: the same key from two tokens names two requests.
        let client = headers.get(header::AUTHORIZATION).map(|v| v.as_bytes()).unwrap_or_default();
        let slot = hex::encode(Sha256::digest([client, b"\n", key.as_bytes()].concat()));
        let remembered = Remembered { job: job.clone(), request_sha256: request_sha256.clone() };
        let value = Bytes::from(serde_json::to_vec(&remembered).unwrap_or_default());
        match api.idempotency.create(&slot, value).await {
            Ok(_) => claimed = Some(slot),
            Err(KvError::AlreadyExists(_)) => {
                let entry = api.idempotency.get(&slot).await.map_err(ApiError::unavailable)?;
                let earlier: Remembered = entry
                    .and_then(|e| serde_json::from_slice(&e.value).ok())
                    .ok_or_else(|| ApiError::internal("an idempotency record is unreadable"))?;
                if earlier.request_sha256 != request_sha256 {
                    return Err(ApiError::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "idempotency_key_reused",
                        "this Idempotency-Key was used for a different request",
                    ));
                }
                return replay(&api, &earlier.job).await;
            }
            Err(e) => return Err(ApiError::unavailable(e)),
        }
    }

    let owner = format!("job-{job}");
    let outcome = match ownership::claim(&api.store, &submission.output_prefix, &owner).await {
        Ok(fresh) => {
            let record = JobRecord::queued(submission.clone(), request.webhook_url.clone());
            let outcome = create_and_enqueue(&api, &record).await;
            if outcome.is_err() && fresh {
                ownership::release(&api.store, &submission.output_prefix, &owner).await;
            }
            outcome
        }
        Err(e) => Err(e),
    };
    if let (Err(_), Some(slot)) = (&outcome, &claimed) {
        // The key did not get its job: free it so the client's retry can.
        if let Err(e) = api.idempotency.delete(slot).await {
            tracing::warn!(error = %e, "could not release an idempotency key");
        }
    }
    outcome
}

/// Creates the record and queues the submission. A job id that exists with
/// the same submission still queued is the retry of a request whose queueing
/// failed: it is queued again (deduplicated by job id) and answered with 200.
async fn create_and_enqueue(api: &ApiState, record: &JobRecord) -> Result<Response, ApiError> {
    let job = record.id();
    match api.jobs.create(record).await {
        Ok(()) => {
            enqueue(api, &record.submission).await?;
            api.metrics.job_submitted();
            tracing::info!(%job, source = %record.submission.source_key, "job submitted");
            Ok(created(record, StatusCode::CREATED, false))
        }
        Err(JobBookError::Kv(KvError::AlreadyExists(_))) => {
            let existing = api.jobs.get(job).await.map_err(ApiError::unavailable)?;
            if let Some((existing, _)) = existing {
                let same = JobSubmission {
                    traceparent: existing.submission.traceparent.clone(),
                    request_traceparent: existing.submission.request_traceparent.clone(),
                    submitted_at_ms: existing.submission.submitted_at_ms,
                    ..record.submission.clone()
                };
                if existing.state == JobState::Queued
                    && existing.submission == same
                    && existing.webhook == record.webhook
                {
                    enqueue(api, &existing.submission).await?;
                    return Ok(created(&existing, StatusCode::OK, true));
                }
            }
            Err(ApiError::new(StatusCode::CONFLICT, "job_exists", format!("a job with id '{job}' exists")))
        }
        Err(e) => Err(ApiError::unavailable(e)),
    }
}

/// The answer to a repeated idempotent submission; re-publishes the
/// submission in case the first attempt stopped between record and queue.
async fn replay(api: &ApiState, job: &str) -> Result<Response, ApiError> {
    // The first request may still be between claiming the key and creating the record.
    for _ in 0..50 {
        if let Some((record, _)) = api.jobs.get(job).await.map_err(ApiError::unavailable)? {
            if record.state == JobState::Queued {
                enqueue(api, &record.submission).await?;
            }
            return Ok(created(&record, StatusCode::OK, true));
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    Err(ApiError::new(StatusCode::CONFLICT, "job_exists", "the first request with this Idempotency-Key did not finish"))
}

async fn record(api: &ApiState, id: &str) -> Result<JobRecord, ApiError> {
    validate_id("job id", id).map_err(|e| ApiError::bad_request("invalid_job_id", e.to_string()))?;
    match api.jobs.get(id).await {
        Ok(Some((record, _))) => Ok(record),
        Ok(None) => Err(ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("no job '{id}'"))),
        Err(e) => Err(ApiError::unavailable(e)),
    }
}

/// A job's state, progress, renditions and error.
#[utoipa::path(get, path = "/v1/jobs/{id}", params(("id" = String, Path, description = "Job id")),
    responses((status = 200, body = JobView), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(State(api): State<ApiState>, Path(id): Path<String>) -> Result<Json<JobView>, ApiError> {
    Ok(Json(JobView::of(&api, &record(&api, &id).await?)))
}

/// A completed job's report (`report.json`: source, and per rendition its
/// size, bitrates, PSNR and encode CPU time).
#[utoipa::path(get, path = "/v1/jobs/{id}/report", params(("id" = String, Path, description = "Job id")),
    responses((status = 200, description = "report.json", content_type = "application/json"),
        (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn report(State(api): State<ApiState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let record = record(&api, &id).await?;
    let not_yet = || ApiError::new(StatusCode::NOT_FOUND, "no_report", format!("job '{id}' has no report yet"));
    if record.state != JobState::Completed {
        return Err(not_yet());
    }
    let key = format!("{}/report.json", record.submission.output_prefix);
    match api.store.get(&key).await {
        Ok(bytes) => Ok(([(header::CONTENT_TYPE, "application/json")], bytes).into_response()),
        Err(StoreError::NotFound(_)) => Err(not_yet()),
        Err(e) => Err(ApiError::unavailable(e)),
    }
}

/// Cancel a job: queued tasks are dropped, running ones stop at their next check.
#[utoipa::path(delete, path = "/v1/jobs/{id}", params(("id" = String, Path, description = "Job id")),
    responses((status = 202, body = JobView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn cancel(State(api): State<ApiState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let before = record(&api, &id).await?;
    let kind = JobEventKind::Cancelled { reason: "cancelled through the API".into() };
    if before.state == JobState::Cancelled {
        // A retry of a cancel whose event may not have gone out: send it again (deduplicated).
        api.bus.publish(JobEvent::new(&id, kind).to_message()).await.map_err(ApiError::unavailable)?;
        return Ok((StatusCode::ACCEPTED, Json(JobView::of(&api, &before))).into_response());
    }
    if before.state.is_terminal() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "job_ended",
            format!("job '{id}' already ended ({})", before.state.as_str()),
        ));
    }
    let after = api.jobs.update(&id, |r| r.apply(&kind)).await.map_err(ApiError::unavailable)?;
    if after.state != JobState::Cancelled {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "job_ended",
            format!("job '{id}' ended ({}) before it could be cancelled", after.state.as_str()),
        ));
    }
    // Tells the packager (nothing more is written) and the trackers.
    api.bus.publish(JobEvent::new(&id, kind).to_message()).await.map_err(ApiError::unavailable)?;
    api.metrics.job_ended(JobState::Cancelled.as_str());
    tracing::info!(job = %id, "job cancelled");
    Ok((StatusCode::ACCEPTED, Json(JobView::of(&api, &after))).into_response())
}

/// `GET /v1/jobs` paging.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ListParams {
    /// Page size, 1-200 (default 50).
    pub limit: Option<usize>,
    /// The `next` of the previous page.
    pub after: Option<String>,
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

/// List jobs, newest first.
#[utoipa::path(get, path = "/v1/jobs", params(ListParams),
    responses((status = 200, body = JobPage), (status = 401, body = ErrorBody)), security(("bearer" = [])))]
pub async fn list(State(api): State<ApiState>, Query(params): Query<ListParams>) -> Result<Json<JobPage>, ApiError> {
    let limit = params.limit.unwrap_or(50).clamp(1, 200);
    let ids = api.jobs.ids().await.map_err(ApiError::unavailable)?;
    let start = match &params.after {
        Some(after) => ids.iter().position(|id| id.as_str() < after.as_str()).unwrap_or(ids.len()),
        None => 0,
    };
    let page: Vec<&String> = ids.iter().skip(start).take(limit).collect();
    let mut jobs = Vec::with_capacity(page.len());
    for id in &page {
        if let Some((record, _)) = api.jobs.get(id).await.map_err(ApiError::unavailable)? {
            jobs.push(JobView::of(&api, &record));
        }
    }
    let next = (start + page.len() < ids.len()).then(|| page.last().map(|id| (*id).clone())).flatten();
    Ok(Json(JobPage { jobs, next }))
}

//! `/v1/jobs`: submit, inspect, list and cancel jobs.

use crate::records::jobs::{JobRecord, JobState};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use tessera_core::bus::OutgoingMessage;
use tessera_core::kv::KvError;
use tessera_core::kv::RecordError;
use tessera_core::telemetry::TraceParent;
use tessera_core::wire::JobSubmission;
use tessera_core::wire::DEFAULT_THUMBNAIL_INTERVAL_SECS;
use tessera_core::wire::{validate_id, JobEvent, JobEventKind, JOB_SUBMISSIONS_SUBJECT, TRACEPARENT};
use tessera_core::{SegmentDuration, StoreError};
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use super::idempotency::{self, Claim};
use super::job_views::{created, JobPage, JobView};
use super::keys::source_key;
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

    let claimed = match idempotency::claim(&api, &headers, &body, &job).await? {
        Claim::Replay(earlier) => return replay(&api, &earlier).await,
        Claim::Claimed(slot) => Some(slot),
        Claim::None => None,
    };

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
        idempotency::release(&api, slot).await;
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
        Err(RecordError::Kv(KvError::AlreadyExists(_))) => {
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

/// Cancel a job: queued tasks are dropped, running ones stop at once.
#[utoipa::path(delete, path = "/v1/jobs/{id}", params(("id" = String, Path, description = "Job id")),
    responses((status = 202, body = JobView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn cancel(State(api): State<ApiState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let before = record(&api, &id).await?;
    let kind = JobEventKind::Cancelled { reason: "cancelled through the API".into() };
    if before.state == JobState::Cancelled {
        // A retry of a cancel whose signal or event may not have gone out: send them again.
        api.cancels.cancel(&id).await.map_err(ApiError::unavailable)?;
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
    // The signal first: it stops the job's work wherever it runs, whatever happens next.
    api.cancels.cancel(&id).await.map_err(ApiError::unavailable)?;
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

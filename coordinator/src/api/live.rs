//! `/v1/live`: create, inspect and end live channels.

use super::settings::LadderRequest;
use crate::records::channels::{ChannelInput, ChannelRecord, ChannelState};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use tessera_core::clock::now_ms;
use tessera_core::kv::KvError;
use tessera_core::kv::RecordError;
use tessera_core::wire::validate_id;
use tessera_core::SegmentDuration;
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use super::job_views::{playback, rfc3339, Playback};
use super::ownership;
use super::request::read_request;
use super::settings::{EncodingRequest, Settings};
use super::ApiState;

/// `POST /v1/live` body.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateChannel {
    /// Channel id (1-64 of `A-Z a-z 0-9 - _`); made when absent.
    pub id: Option<String>,
    /// Codecs, ladder (not `"auto"`: a per-title ladder needs the whole
    /// upload before it starts), speed, worker class, output prefix.
    #[serde(flatten)]
    pub encoding: EncodingRequest,
    /// Target segment duration in seconds, 1-10 (default 2); segments last
    /// at least the publisher's keyframe interval.
    pub segment_duration: Option<f64>,
    /// Segments in the live playlists, 3-100 (default 6).
    pub window: Option<u32>,
    /// Passphrase (10-79 characters) SRT publishers must encrypt with; none: SRT unencrypted.
    pub srt_passphrase: Option<String>,
    /// Low-Latency HLS: parts of `part_duration` stream out of the workers as
    /// they are encoded (H.264 rungs only). Default false.
    pub low_latency: Option<bool>,
    /// LL-HLS part duration in seconds, 0.25-1 (default 0.5).
    pub part_duration: Option<f64>,
}

/// A channel as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelView {
    /// Channel id (also the broadcast's job id in `/v1/jobs`).
    pub id: String,
    /// idle, live or ended.
    pub state: String,
    /// The secret stream key: shown only when the channel is created.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_key: Option<String>,
    /// Where to publish (RTMP URL with the key) - only when created.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtmp_url: Option<String>,
    /// The RTMP server and application, without the key.
    pub rtmp_server: String,
    /// Where to publish over RTMPS (RTMP in TLS) - only when created and when
    /// the coordinator serves RTMPS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtmps_url: Option<String>,
    /// Where to publish over SRT (the key in the stream id) - only when created
    /// and when the coordinator serves SRT.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub srt_url: Option<String>,
    /// True when SRT publishes must be encrypted with the channel's passphrase.
    pub srt_encrypted: bool,
    /// LL-HLS part duration (s), when the channel is low-latency.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub part_duration: Option<f64>,
    /// What the latest publish sends (protocol, video, audio).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub input: Option<ChannelInput>,
    /// Where to watch, live and afterwards.
    pub playback: Playback,
    /// Segments cut so far.
    pub segments: u32,
    /// Target segment duration (s).
    pub segment_duration: f64,
    /// Segments in the live window.
    pub window: u32,
    /// Creation time (RFC 3339).
    pub created_at: String,
    /// Broadcast start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    /// Broadcast end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<String>,
    /// Why the broadcast stopped, when it was not the publisher's choice.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The RTMP server URL (`rtmp://host:port/live`) clients should publish to.
fn rtmp_server(api: &ApiState, headers: &HeaderMap) -> String {
    if let Some(url) = &api.config.rtmp_public_url {
        return url.trim_end_matches('/').to_string();
    }
    format!("rtmp://{}:{}/live", request_host(headers), api.config.rtmp_port.unwrap_or(1935))
}

/// The host clients reach this API by (the request's `Host`, without its port).
fn request_host(headers: &HeaderMap) -> &str {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

/// The RTMPS URL with `stream_key`, when RTMPS is served.
fn rtmps_url(api: &ApiState, headers: &HeaderMap, stream_key: &str) -> Option<String> {
    let base = match &api.config.rtmps_public_url {
        Some(url) => url.trim_end_matches('/').to_string(),
        None => format!("rtmps://{}:{}/live", request_host(headers), api.config.rtmps_port?),
    };
    Some(format!("{base}/{stream_key}"))
}

/// The SRT URL with `stream_key` in its stream id, when SRT is served.
fn srt_url(api: &ApiState, headers: &HeaderMap, stream_key: &str) -> Option<String> {
    let base = match &api.config.srt_public_url {
        Some(url) => url.trim_end_matches(['/', '?']).to_string(),
        None => format!("srt://{}:{}", request_host(headers), api.config.srt_port?),
    };
    Some(format!("{base}?streamid=live/{stream_key}"))
}

fn view(api: &ApiState, headers: &HeaderMap, c: &ChannelRecord, stream_key: Option<String>) -> ChannelView {
    let server = rtmp_server(api, headers);
    ChannelView {
        id: c.id.clone(),
        state: c.state.as_str().into(),
        rtmp_url: stream_key.as_ref().map(|k| format!("{server}/{k}")),
        rtmps_url: stream_key.as_deref().and_then(|k| rtmps_url(api, headers, k)),
        srt_url: stream_key.as_deref().and_then(|k| srt_url(api, headers, k)),
        srt_encrypted: c.srt_passphrase.is_some(),
        input: c.input.clone(),
        part_duration: c.part_secs,
        stream_key,
        rtmp_server: server,
        playback: playback(api, &c.output_prefix),
        segments: c.segments,
        segment_duration: c.segment_duration.secs(),
        window: c.window,
        created_at: rfc3339(c.created_at_ms),
        started_at: c.started_at_ms.map(rfc3339),
        ended_at: c.ended_at_ms.map(rfc3339),
        error: c.error.clone(),
    }
}

/// Create a live channel: its stream key, RTMP URL and playback URLs.
#[utoipa::path(post, path = "/v1/live", request_body = CreateChannel,
    responses((status = 201, body = ChannelView), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 415, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(api): State<ApiState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let request: CreateChannel = read_request(&headers, &body, "channel request")?;
    let id = match &request.id {
        Some(id) => {
            validate_id("channel id", id).map_err(|e| ApiError::bad_request("invalid_job_id", e.to_string()))?;
            id.clone()
        }
        None => uuid::Uuid::now_v7().simple().to_string(),
    };
    let segment_duration = SegmentDuration::live(request.segment_duration)
        .map_err(|e| ApiError::bad_request("invalid_request", format!("segment_duration: {e}")))?;
    let window = request.window.unwrap_or(6);
    // RFC 8216 6.2.2: a live playlist must span at least three target durations.
    if !(3..=100).contains(&window) {
        return Err(ApiError::bad_request("invalid_request", "window must be within 3-100 segments"));
    }
    if let Some(passphrase) = &request.srt_passphrase {
        if !(10..=79).contains(&passphrase.len()) {
            return Err(ApiError::bad_request(
                "invalid_request",
                "srt_passphrase must be 10-79 characters (SRT's limits)",
            ));
        }
    }
    if request.encoding.ladder == Some(LadderRequest::Auto) {
        return Err(ApiError::bad_request(
            "invalid_ladder",
            "a live channel takes a fixed ladder: a per-title (\"auto\") ladder needs the whole upload before it starts",
        ));
    }
    let mut settings = Settings::parse(&api.config, &request.encoding, &format!("live/{id}"))?;
    // A coordinator's per-title default ladder is for uploads; live uses its rungs as they are.
    settings.ladder.per_title = false;
    let part_secs = match (request.low_latency.unwrap_or(false), request.part_duration) {
        (false, None) => None,
        (false, Some(_)) => {
            return Err(ApiError::bad_request("invalid_request", "part_duration needs \"low_latency\": true"));
        }
        (true, part) => {
            let part = part.unwrap_or(0.5);
            if !(0.25..=1.0).contains(&part) || part > segment_duration.secs() / 2.0 {
                return Err(ApiError::bad_request(
                    "invalid_request",
                    "part_duration must be within 0.25-1 s and at most half the segment duration",
                ));
            }
            if let Some(rung) = settings.ladder.rungs.iter().find(|r| r.codec != tessera_media::VideoCodec::H264) {
                return Err(ApiError::bad_request(
                    "invalid_ladder",
                    format!(
                        "rung {}: a low-latency channel takes H.264 rungs (AV1 has no low-delay mode here yet)",
                        rung.name()
                    ),
                ));
            }
            Some(part)
        }
    };
    let record = ChannelRecord {
        id: id.clone(),
        ladder: settings.ladder,
        segment_duration,
        window,
        speed: settings.speed,
        class: settings.class,
        output_prefix: settings.output_prefix,
        state: ChannelState::Idle,
        created_at_ms: now_ms(),
        started_at_ms: None,
        ended_at_ms: None,
        segments: 0,
        error: None,
        renditions: Vec::new(),
        frame_rate: 0.0,
        timeline_end_secs: 0.0,
        broadcasting: false,
        publisher: None,
        origin_ms: 0,
        video_size: None,
        pending: None,
        last_activity_ms: 0,
        finalized: false,
        srt_passphrase: request.srt_passphrase.clone(),
        input: None,
        part_secs,
    };
    let stream_key = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
    let owner = format!("channel-{id}");
    let fresh = ownership::claim(&api.store, &record.output_prefix, &owner).await?;
    let created = match api.channels.create(&record, &stream_key).await {
        Ok(()) => Ok(()),
        Err(RecordError::Kv(KvError::AlreadyExists(_))) => {
            Err(ApiError::new(StatusCode::CONFLICT, "job_exists", format!("a channel with id '{id}' exists")))
        }
        Err(e) => Err(ApiError::unavailable(e)),
    };
    if let Err(e) = created {
        if fresh {
            ownership::release(&api.store, &record.output_prefix, &owner).await;
        }
        return Err(e);
    }
    tracing::info!(channel = %id, "live channel created");
    Ok((StatusCode::CREATED, Json(view(&api, &headers, &record, Some(stream_key)))).into_response())
}

async fn channel(api: &ApiState, id: &str) -> Result<ChannelRecord, ApiError> {
    validate_id("channel id", id).map_err(|e| ApiError::bad_request("invalid_job_id", e.to_string()))?;
    match api.channels.get(id).await {
        Ok(Some((record, _))) => Ok(record),
        Ok(None) => Err(ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("no channel '{id}'"))),
        Err(e) => Err(ApiError::unavailable(e)),
    }
}

/// Every channel (newest first; stream keys are never shown again).
#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelList {
    /// The channels.
    pub channels: Vec<ChannelView>,
}

/// List channels, newest first.
#[utoipa::path(get, path = "/v1/live", responses((status = 200, body = ChannelList)), security(("bearer" = [])))]
pub async fn list(State(api): State<ApiState>, headers: HeaderMap) -> Result<Json<ChannelList>, ApiError> {
    let mut records = Vec::new();
    for id in api.channels.ids().await.map_err(ApiError::unavailable)? {
        if let Some((record, _)) = api.channels.get(&id).await.map_err(ApiError::unavailable)? {
            records.push(record);
        }
    }
    records.sort_by(|a, b| b.created_at_ms.cmp(&a.created_at_ms).then_with(|| a.id.cmp(&b.id)));
    Ok(Json(ChannelList { channels: records.iter().map(|c| view(&api, &headers, c, None)).collect() }))
}

/// A channel's state and figures.
#[utoipa::path(get, path = "/v1/live/{id}", params(("id" = String, Path, description = "Channel id")),
    responses((status = 200, body = ChannelView), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn get(
    State(api): State<ApiState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<ChannelView>, ApiError> {
    let record = channel(&api, &id).await?;
    Ok(Json(view(&api, &headers, &record, None)))
}

/// End a channel's broadcast: the playlists are finalized as VOD.
#[utoipa::path(delete, path = "/v1/live/{id}", params(("id" = String, Path, description = "Channel id")),
    responses((status = 202, body = ChannelView), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn end(
    State(api): State<ApiState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    channel(&api, &id).await?;
    let record = api.channels.end(&id, None).await.map_err(ApiError::unavailable)?;
    tracing::info!(channel = %id, "live channel ended through the API");
    Ok((StatusCode::ACCEPTED, Json(view(&api, &headers, &record, None))).into_response())
}

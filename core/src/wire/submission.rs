//! A job as submitted: the body of the job-submission message.

use serde::{Deserialize, Serialize};
use tessera_codec::SpeedPreset;

use super::{SubtitleTrack, WorkerClass, WIRE_VERSION};
use crate::clock::now_ms;
use crate::ladder::Ladder;
use crate::settings::SegmentDuration;

/// A job as submitted: everything a coordinator needs to segment it. It is
/// the body of the job-submission message and part of the job record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobSubmission {
    /// Wire version.
    pub version: u32,
    /// Job id.
    pub job: String,
    /// Key of the source MP4 in the store.
    pub source_key: String,
    /// The ladder (already limited to the requested codecs).
    pub ladder: Ladder,
    /// Target segment duration.
    #[serde(rename = "segment_duration_secs")]
    pub segment_duration: SegmentDuration,
    /// Encoder speed for rungs that name none.
    pub speed: SpeedPreset,
    /// Output prefix in the store (`outputs/{job}` unless given).
    pub output_prefix: String,
    /// Worker class that gets the tasks.
    pub class: WorkerClass,
    /// W3C `traceparent` of the job's span: the parent of every span of the
    /// job, on every task and event; the span itself is recorded when the job ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
    /// The `traceparent` the submitting request came with, if any: the job span's parent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_traceparent: Option<String>,
    /// When the upload was submitted (ms since the Unix epoch): the report
    /// counts the wait for the first playable rendition from here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submitted_at_ms: Option<u64>,
    /// Seconds between seek-bar thumbnails (0: no thumbnails or poster).
    #[serde(default = "default_thumbnail_interval")]
    pub thumbnail_interval_secs: f64,
    /// Audio languages to keep (empty: every audio track of the source).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audio_languages: Vec<String>,
    /// Subtitle files sent with the job, read into WebVTT at submission.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subtitles: Vec<SubtitleTrack>,
}

/// Seconds between thumbnails unless a job says otherwise.
pub const DEFAULT_THUMBNAIL_INTERVAL_SECS: f64 = 2.0;

fn default_thumbnail_interval() -> f64 {
    DEFAULT_THUMBNAIL_INTERVAL_SECS
}

impl JobSubmission {
    /// A current-version submission with default settings.
    pub fn new(job: &str, source_key: &str, ladder: Ladder, output_prefix: &str) -> Self {
        Self {
            version: WIRE_VERSION,
            job: job.to_string(),
            source_key: source_key.to_string(),
            ladder,
            segment_duration: SegmentDuration::default(),
            speed: SpeedPreset::default(),
            output_prefix: output_prefix.to_string(),
            class: WorkerClass::Cpu,
            traceparent: None,
            request_traceparent: None,
            submitted_at_ms: Some(now_ms()),
            thumbnail_interval_secs: DEFAULT_THUMBNAIL_INTERVAL_SECS,
            audio_languages: Vec::new(),
            subtitles: Vec::new(),
        }
    }
}

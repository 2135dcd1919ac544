//! Tasks: one segment of one rendition, and the queue it is routed to.

use serde::{Deserialize, Serialize};

use crate::error::CoreError;
use crate::ladder::Rung;

/// A class of workers: each pulls from its own subjects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkerClass {
    /// CPU encoders.
    Cpu,
    /// GPU encoders (falling back to the CPU encoders where no GPU is present).
    Gpu,
}

impl WorkerClass {
    /// The subject token.
    pub fn as_str(self) -> &'static str {
        match self {
            WorkerClass::Cpu => "cpu",
            WorkerClass::Gpu => "gpu",
        }
    }
}

impl std::str::FromStr for WorkerClass {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "cpu" => Ok(WorkerClass::Cpu),
            "gpu" => Ok(WorkerClass::Gpu),
            other => Err(format!("unknown worker class '{other}': expected cpu or gpu")),
        }
    }
}

impl std::fmt::Display for WorkerClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a task produces, which picks the consumer that serves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskCodec {
    /// H.264 video.
    H264,
    /// AV1 video.
    Av1,
    /// AAC audio (stream copy).
    Aac,
    /// JPEG pictures: thumbnails and the poster.
    Image,
}

impl TaskCodec {
    /// Every task codec.
    pub const ALL: [TaskCodec; 4] = [TaskCodec::H264, TaskCodec::Av1, TaskCodec::Aac, TaskCodec::Image];

    /// The subject token.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskCodec::H264 => "h264",
            TaskCodec::Av1 => "av1",
            TaskCodec::Aac => "aac",
            TaskCodec::Image => "image",
        }
    }
}

impl std::str::FromStr for TaskCodec {
    type Err = CoreError;
    fn from_str(s: &str) -> Result<Self, CoreError> {
        TaskCodec::ALL.into_iter().find(|c| c.as_str().eq_ignore_ascii_case(s.trim())).ok_or_else(|| {
            CoreError::InvalidValue(format!("unknown task codec '{s}' (expected h264, av1, aac or image)"))
        })
    }
}

/// How soon a task is wanted. Each class and codec has a queue per
/// priority, and a worker takes from every `First` queue it serves before
/// any other, so an upload's first playable rendition (one video rung and
/// the audio, see [`JobPlan::first`]) is encoded ahead of the rest of its
/// ladder and of other jobs' long tails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskPriority {
    /// The rendition a VOD job plays first.
    First,
    /// Everything else (live tasks too: each live segment is due at once anyway).
    Rest,
}

impl TaskPriority {
    /// Both priorities, the first first.
    pub const ALL: [TaskPriority; 2] = [TaskPriority::First, TaskPriority::Rest];

    /// The subject and consumer suffix (`Rest` has none, so its names are those of a single queue).
    pub(crate) fn suffix(self) -> &'static str {
        match self {
            TaskPriority::First => ".first",
            TaskPriority::Rest => "",
        }
    }
}

/// One rendition of a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RenditionSpec {
    /// A video rung, encoded from the decoded source.
    Video {
        /// The rung (its speed filled in with the job's default).
        rung: Rung,
    },
    /// The source's AAC track, copied.
    Audio {
        /// The source track's average bitrate, for its name and manifests.
        bitrate_kbps: u32,
        /// Encoder priming to skip, in the track's timescale (the source's
        /// edit-list media time): written as the rendition's edit list.
        #[serde(default)]
        priming: u64,
        /// Which of the job's audio tracks, with its language and name.
        #[serde(default)]
        track: AudioTrack,
    },
    /// Seek-bar thumbnails (a JPEG sprite per segment) and the poster.
    Thumbnails(ThumbnailSpec),
}

/// One of a job's audio tracks (a job keeps every track of its source, or
/// the languages it asked for), as its rendition is labelled in manifests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AudioTrack {
    /// Track number within the job's source segments (0: the first kept).
    pub index: u8,
    /// Language as the source tags it (ISO 639-2 or BCP 47), if it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// The name players show (the source's title for the track, else its language).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The track players pick unless told otherwise.
    pub default: bool,
}

impl Default for AudioTrack {
    /// A job's only audio track.
    fn default() -> Self {
        Self { index: 0, language: None, label: None, default: true }
    }
}

/// What thumbnails a job gets.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ThumbnailSpec {
    /// Seconds between thumbnails.
    pub interval_secs: f64,
    /// Long side of a thumbnail in pixels.
    pub long_side: u32,
    /// The poster's time, seconds from the start.
    pub poster_at_secs: f64,
    /// Long side of the poster in pixels (at most the picture's).
    pub poster_long_side: u32,
}

impl ThumbnailSpec {
    /// Thumbnails every `interval_secs` of a video lasting `duration_secs`:
    /// 160 px on the long side (the size players' seek-bar previews use),
    /// and a poster from the middle, 1280 px on the long side.
    pub fn every(interval_secs: f64, duration_secs: f64) -> Self {
        Self { interval_secs, long_side: 160, poster_at_secs: duration_secs / 2.0, poster_long_side: 1280 }
    }
}

/// Store key of the poster, next to the thumbnails folder of a thumbnail
/// sprite's key (`…/thumbnails/000003.jpg` -> `…/poster.jpg`).
pub fn poster_key(sprite_key: &str) -> String {
    match sprite_key.rsplit_once("thumbnails/") {
        Some((prefix, _)) => format!("{prefix}poster.jpg"),
        None => "poster.jpg".into(),
    }
}

impl RenditionSpec {
    /// Rendition name: `h264-720p`, `av1-360p`, `aac-128k`.
    pub fn name(&self) -> String {
        match self {
            RenditionSpec::Video { rung } => rung.name(),
            // The first track keeps the single-track name, so one-track jobs read as before.
            RenditionSpec::Audio { bitrate_kbps, track, .. } => match track.index {
                0 => format!("aac-{bitrate_kbps}k"),
                n => format!("aac-{bitrate_kbps}k-{n}"),
            },
            RenditionSpec::Thumbnails(_) => "thumbnails".into(),
        }
    }

    /// The file of segment `seq`, relative to the output prefix:
    /// `h264-720p/000012.m4s`, `thumbnails/000012.jpg`.
    pub fn segment_file(&self, seq: u32) -> String {
        let extension = if matches!(self, RenditionSpec::Thumbnails(_)) { "jpg" } else { "m4s" };
        format!("{}/{seq:06}.{extension}", self.name())
    }

    /// True for a rendition players play (video or audio), not pictures.
    pub fn is_media(&self) -> bool {
        !matches!(self, RenditionSpec::Thumbnails(_))
    }

    /// The codec that routes its tasks.
    pub fn codec(&self) -> TaskCodec {
        match self {
            RenditionSpec::Video { rung } => match rung.codec {
                tessera_codec::VideoCodec::H264 => TaskCodec::H264,
                tessera_codec::VideoCodec::Av1 => TaskCodec::Av1,
            },
            RenditionSpec::Audio { .. } => TaskCodec::Aac,
            RenditionSpec::Thumbnails(_) => TaskCodec::Image,
        }
    }
}

/// One segment x rendition of a job: references, never media bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    /// [`WIRE_VERSION`].
    pub version: u32,
    /// Job id.
    pub job: String,
    /// Segment number from 0.
    pub seq: u32,
    /// What to produce.
    pub rendition: RenditionSpec,
    /// Source segment key in the sources store.
    pub source_key: String,
    /// Output fragment key in the outputs store.
    pub output_key: String,
    /// The whole source's nominal frame rate (0: take the segment's). Every
    /// segment of a rendition must be encoded for the same rate, or the
    /// codec level (and so the init segment) could differ between segments.
    #[serde(default)]
    pub frame_rate: f64,
    /// When the coordinator published it (ms since the Unix epoch): the start
    /// of its queue wait.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_at_ms: Option<u64>,
    /// A low-latency live segment: its source streams in chunks
    /// ([`source_chunk_key`]) while it is cut, and the rendition goes out in
    /// parts of this many seconds as they are encoded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part_secs: Option<f64>,
    /// Report the source pictures' closed captions with the segment (the
    /// first rendition's tasks: one continuous track for the WebVTT).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub report_captions: bool,
    /// Also store the video fragment's leading keyframe alone, at
    /// [`key_frame_key`] (on-demand H.264 rungs: DASH trick mode).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub key_frame_fragment: bool,
}

impl Task {
    /// Stable id, `{job}/{rendition}/{seq}`: the bus deduplicates on it.
    pub fn id(&self) -> String {
        format!("{}/{}/{}", self.job, self.rendition.name(), self.seq)
    }
}

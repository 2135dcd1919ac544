//! The wire contract: tasks and job events, serialized as JSON with a version
//! field, and the names of the subjects, streams and consumers they travel on.
//! Decoding tolerates unknown fields so services can be upgraded one by one.

use serde::{Deserialize, Serialize};
use tessera_media::aac::AacConfig;
use tessera_media::av1::Av1Config;
use tessera_media::h264::AvcConfig;
use tessera_media::CodecConfig;

use crate::error::CoreError;
use crate::ladder::Rung;

/// Version written into every task and event.
pub const WIRE_VERSION: u32 = 1;

/// Stream of tasks (work-queue retention: a task is gone once acked).
pub const TASKS_STREAM: &str = "TESSERA_TASKS";
/// Subjects of [`TASKS_STREAM`].
pub const TASKS_SUBJECTS: &str = "tessera.tasks.>";
/// Stream of job events (limits retention: the packager can replay a job).
pub const EVENTS_STREAM: &str = "TESSERA_EVENTS";
/// Subjects of [`EVENTS_STREAM`].
pub const EVENTS_SUBJECTS: &str = "tessera.events.>";
/// Durable consumer of the packager on [`EVENTS_STREAM`].
pub const PACKAGER_CONSUMER: &str = "packager";
/// Header carrying the W3C trace context of the job a message belongs to.
pub const TRACEPARENT: &str = "traceparent";
/// Work-queue stream of submitted jobs waiting for a coordinator to segment them.
pub const JOBS_STREAM: &str = "TESSERA_JOBS";
/// Subject of VOD job submissions (the only subject of [`JOBS_STREAM`]).
pub const JOB_SUBMISSIONS_SUBJECT: &str = "tessera.jobs.vod";
/// Durable consumer the coordinators share on [`JOBS_STREAM`].
pub const INGEST_CONSUMER: &str = "coordinator-ingest";
/// Durable consumer the coordinators share on [`EVENTS_STREAM`] to keep job state.
pub const TRACKER_CONSUMER: &str = "coordinator-tracker";
/// Key-value bucket of job records (see `jobs`).
pub const JOBS_BUCKET: &str = "tessera_jobs";
/// Key-value bucket of live channels.
pub const LIVE_BUCKET: &str = "tessera_live";
/// Key-value bucket from stream-key digests to channels.
pub const STREAM_KEYS_BUCKET: &str = "tessera_stream_keys";
/// Key-value bucket mapping `Idempotency-Key`s to the jobs they created.
pub const IDEMPOTENCY_BUCKET: &str = "tessera_idempotency";
/// Key-value bucket of worker statuses (see `roster`).
pub const WORKERS_BUCKET: &str = "tessera_workers";
/// Store key of an upload: `uploads/{id}`.
pub fn upload_key(id: &str) -> String {
    format!("uploads/{id}")
}

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
    fn suffix(self) -> &'static str {
        match self {
            TaskPriority::First => ".first",
            TaskPriority::Rest => "",
        }
    }
}

/// Subject of the tasks for one class, codec and priority:
/// `tessera.tasks.cpu.h264` and `tessera.tasks.cpu.h264.first`.
pub fn task_subject(class: WorkerClass, codec: TaskCodec, priority: TaskPriority) -> String {
    format!("tessera.tasks.{}.{}{}", class.as_str(), codec.as_str(), priority.suffix())
}

/// Durable consumer name for one class, codec and priority (work-queue
/// consumers must not overlap, so there is one per subject):
/// `worker-cpu-h264`, `worker-cpu-h264-first`.
pub fn task_consumer(class: WorkerClass, codec: TaskCodec, priority: TaskPriority) -> String {
    format!("worker-{}-{}{}", class.as_str(), codec.as_str(), priority.suffix().replace('.', "-"))
}

/// Subject of one job's events.
pub fn job_events_subject(job: &str) -> String {
    format!("tessera.events.job.{job}")
}

/// Subject on which the bus reports tasks of `consumer` that ran out of deliveries.
pub fn dead_letter_subject(consumer: &str) -> String {
    format!("tessera.events.deadletter.{consumer}")
}

/// Source segment key: `sources/{job}/{seq:06}.mp4`.
pub fn source_segment_key(job: &str, seq: u32) -> String {
    format!("sources/{job}/{seq:06}.seg")
}

/// Key of chunk `index` of a streamed live source segment.
pub fn source_chunk_key(job: &str, seq: u32, index: u32) -> String {
    format!("sources/{job}/{seq:06}.{index:04}.chunk")
}

/// Key of part `index` of a rendition segment whose key is `segment_key` (`…/000012.m4s` -> `…/000012.3.m4s`).
pub fn part_key(segment_key: &str, index: u32) -> String {
    let stem = segment_key.strip_suffix(".m4s").unwrap_or(segment_key);
    format!("{stem}.{index}.m4s")
}

/// Key of the keyframe-only fragment of a rendition segment whose key is
/// `segment_key` (`…/000012.m4s` -> `…/000012.key.m4s`).
pub fn key_frame_key(segment_key: &str) -> String {
    let stem = segment_key.strip_suffix(".m4s").unwrap_or(segment_key);
    format!("{stem}.key.m4s")
}

/// Joins an output prefix (possibly empty) and a relative key.
pub fn output_key(prefix: &str, relative: &str) -> String {
    let prefix = prefix.trim_end_matches('/');
    if prefix.is_empty() {
        relative.to_string()
    } else {
        format!("{prefix}/{relative}")
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
                tessera_media::VideoCodec::H264 => TaskCodec::H264,
                tessera_media::VideoCodec::Av1 => TaskCodec::Av1,
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

/// Base64 for byte fields in JSON.
mod base64_bytes {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        STANDARD.decode(String::deserialize(d)?).map_err(serde::de::Error::custom)
    }

    /// A list of byte strings.
    pub mod list {
        use super::*;

        pub fn serialize<S: Serializer>(items: &[Vec<u8>], s: S) -> Result<S::Ok, S::Error> {
            s.collect_seq(items.iter().map(|b| STANDARD.encode(b)))
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<u8>>, D::Error> {
            Vec::<String>::deserialize(d)?
                .into_iter()
                .map(|s| STANDARD.decode(s).map_err(serde::de::Error::custom))
                .collect()
        }
    }
}

/// A rendition's decoder configuration as it travels in events, from which
/// the packager writes `init.mp4`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TrackConfig {
    /// H.264: the parameter sets of avcC (4-byte NAL lengths).
    Avc {
        /// SPS and PPS NAL units.
        #[serde(with = "base64_bytes::list")]
        parameter_sets: Vec<Vec<u8>>,
    },
    /// AV1: av1C fields and the sequence header OBU.
    Av1 {
        /// seq_profile.
        profile: u8,
        /// seq_level_idx_0.
        level_idx: u8,
        /// seq_tier_0.
        high_tier: bool,
        /// The sequence header OBU.
        #[serde(with = "base64_bytes")]
        sequence_header: Vec<u8>,
    },
    /// JPEG pictures (thumbnails): nothing to configure.
    Jpeg,
    /// AAC: the AudioSpecificConfig.
    Aac {
        /// AudioSpecificConfig bytes.
        #[serde(with = "base64_bytes")]
        asc: Vec<u8>,
        /// Channel count as the source's sample entry declares it.
        channels: u16,
    },
}

/// A decoder configuration rebuilt from its wire form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaConfig {
    /// Video.
    Video(CodecConfig),
    /// AAC audio.
    Aac(AacConfig),
}

impl TrackConfig {
    /// The wire form of a video configuration.
    pub fn from_video(config: &CodecConfig) -> Self {
        match config {
            CodecConfig::Avc(c) => TrackConfig::Avc { parameter_sets: c.sps.iter().chain(&c.pps).cloned().collect() },
            CodecConfig::Av1(c) => TrackConfig::Av1 {
                profile: c.profile,
                level_idx: c.level_idx,
                high_tier: c.high_tier,
                sequence_header: c.sequence_header.clone(),
            },
        }
    }

    /// The wire form of an AAC configuration.
    pub fn from_aac(config: &AacConfig) -> Self {
        TrackConfig::Aac { asc: config.asc.clone(), channels: config.channels }
    }

    /// Rebuilds the media configuration.
    pub fn to_media(&self) -> Result<MediaConfig, CoreError> {
        Ok(match self {
            TrackConfig::Avc { parameter_sets } => MediaConfig::Video(CodecConfig::Avc(
                AvcConfig::from_parameter_sets(parameter_sets.iter().map(Vec::as_slice))?,
            )),
            TrackConfig::Av1 { profile, level_idx, high_tier, sequence_header } => {
                MediaConfig::Video(CodecConfig::Av1(Av1Config {
                    profile: *profile,
                    level_idx: *level_idx,
                    high_tier: *high_tier,
                    sequence_header: sequence_header.clone(),
                }))
            }
            TrackConfig::Aac { asc, channels } => {
                let mut config = AacConfig::from_asc(asc)?;
                config.channels = *channels;
                MediaConfig::Aac(config)
            }
            TrackConfig::Jpeg => {
                return Err(CoreError::InvalidValue("JPEG pictures have no track configuration".into()))
            }
        })
    }
}

/// What the coordinator learned about the source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceInfo {
    /// Video width.
    pub width: u32,
    /// Video height.
    pub height: u32,
    /// Average frame rate.
    pub frame_rate: f64,
    /// Duration in seconds.
    pub duration_secs: f64,
    /// Number of video frames.
    pub frames: u64,
}

/// The job's plan: every task it will publish.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobPlan {
    /// Number of segments (each rendition has one task per segment).
    pub segments: u32,
    /// Renditions, video rungs first, audio last.
    pub renditions: Vec<RenditionSpec>,
    /// The source.
    pub source: SourceInfo,
    /// Where outputs go in the outputs store (empty: its root).
    pub output_prefix: String,
    /// The video rendition played first: its tasks, the audio's and the thumbnails' go out
    /// at [`TaskPriority::First`], and the packager lists it in the
    /// master playlist as soon as its first segment is done, while the rest
    /// of the ladder is still being encoded (none: packaged at the end only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first: Option<String>,
    /// When the upload was received (ms since the Unix epoch): the start of
    /// the wait for the first playable rendition in the report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submitted_at_ms: Option<u64>,
    /// Subtitle files sent with the job, as WebVTT: subtitle renditions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subtitles: Vec<SubtitleTrack>,
}

/// A subtitle rendition: a WebVTT track with its language and name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubtitleTrack {
    /// File stem under `subtitles/` (`en`, `fr-2`, `cc1`).
    pub name: String,
    /// Language (BCP 47), if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// The name players show.
    pub label: String,
    /// Shown unless the viewer turns it off.
    #[serde(default)]
    pub default: bool,
    /// Closed captions (transcribed dialogue and sounds) rather than subtitles.
    #[serde(default)]
    pub closed_captions: bool,
    /// The WebVTT file.
    pub webvtt: String,
}

impl JobPlan {
    /// Number of tasks.
    pub fn tasks(&self) -> u64 {
        u64::from(self.segments) * self.renditions.len() as u64
    }
}

/// A live broadcast's plan, published when its first segment is cut (the
/// renditions follow the source's size, known only then).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LivePlan {
    /// Renditions, video rungs first, audio last.
    pub renditions: Vec<RenditionSpec>,
    /// The source as the publisher sends it (duration and frames 0).
    pub source: SourceInfo,
    /// Where outputs go.
    pub output_prefix: String,
    /// Segments in the live playlists' sliding window.
    pub window: u32,
    /// Target segment duration in seconds.
    pub target_duration_secs: f64,
    /// Wall-clock time (ms since the Unix epoch) of presentation time 0.
    pub started_at_ms: u64,
    /// Low-latency HLS: the part target in seconds (none: segments only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part_secs: Option<f64>,
}

/// A part of a low-latency live segment was written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartDone {
    /// Rendition name.
    pub rendition: String,
    /// Segment number.
    pub seq: u32,
    /// Part number within the segment, from 0.
    pub part: u32,
    /// Duration in seconds.
    pub duration_secs: f64,
    /// True when the part starts with a keyframe.
    pub independent: bool,
    /// Bytes written.
    pub bytes: u64,
    /// When the source chunk that completed it was cut at ingest (ms since
    /// the Unix epoch): about when the part's last frame arrived.
    #[serde(default)]
    pub source_cut_at_ms: u64,
}

/// A live source segment was cut and its tasks published.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveSegmentCut {
    /// Segment number.
    pub seq: u32,
    /// Presentation start, seconds from the broadcast's start.
    pub start_secs: f64,
    /// Duration in seconds.
    pub duration_secs: f64,
    /// The first segment after the publisher reconnected.
    #[serde(default)]
    pub discontinuity: bool,
}

/// A finished segment x rendition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentDone {
    /// Rendition name.
    pub rendition: String,
    /// Segment number.
    pub seq: u32,
    /// Output key of the fragment.
    pub key: String,
    /// Presentation start (= `tfdt`) in `timescale`.
    pub start: u64,
    /// Duration in `timescale`.
    pub duration: u64,
    /// Timescale of the rendition's track.
    pub timescale: u32,
    /// Fragment size in bytes.
    pub bytes: u64,
    /// Video: bytes from the fragment's start through its leading keyframe
    /// (moof, mdat header, the keyframe's data), the byte range of its entry
    /// in the rendition's I-frame playlist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_frame_bytes: Option<u64>,
    /// Video: the size of the keyframe-only fragment stored at
    /// [`key_frame_key`] of `key`, when the task asked for one
    /// ([`Task::key_frame_fragment`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_frame_fragment_bytes: Option<u64>,
    /// Video: it carries the source's closed captions (CEA-608/708 in SEI).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub closed_captions: bool,
    /// The source pictures' captions, when the task asked for them
    /// ([`Task::report_captions`]): the packager decodes them to WebVTT.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub caption_frames: Vec<CaptionFrame>,
    /// Video frames or audio frames.
    pub frames: u32,
    /// Width (0 for audio).
    pub width: u32,
    /// Height (0 for audio).
    pub height: u32,
    /// RFC 6381 codec string.
    pub codec_string: String,
    /// Decoder configuration (the same in every segment of a rendition).
    pub config: TrackConfig,
    /// Mean PSNR (all planes) against the scaled source frames (video only).
    pub psnr: Option<f64>,
    /// Mean PSNR of luma against the scaled source frames (video only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psnr_y: Option<f64>,
    /// Mean SSIM of luma against the scaled source frames (video only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssim: Option<f64>,
    /// CPU seconds spent on the task.
    pub cpu_secs: f64,
    /// When the coordinator published the task (copied from it), so the
    /// queue wait is `started_at_ms - queued_at_ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queued_at_ms: Option<u64>,
    /// When the worker started the task (ms since the Unix epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at_ms: Option<u64>,
    /// When the fragment was written (ms since the Unix epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at_ms: Option<u64>,
}

/// The first rendition of an unfinished VOD job became playable: the master
/// playlist lists it (and the audio) while the rest of the ladder is encoded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Playable {
    /// The renditions the master playlist lists now.
    pub renditions: Vec<String>,
    /// When the master playlist was written (ms since the Unix epoch).
    pub at_ms: u64,
}

impl SegmentDone {
    /// A report of segment `seq` of `rendition` with no figures yet (filled in with struct update syntax).
    pub fn new(rendition: &str, seq: u32) -> Self {
        Self {
            rendition: rendition.to_string(),
            seq,
            key: String::new(),
            start: 0,
            duration: 0,
            timescale: 0,
            bytes: 0,
            key_frame_bytes: None,
            key_frame_fragment_bytes: None,
            closed_captions: false,
            caption_frames: Vec::new(),
            frames: 0,
            width: 0,
            height: 0,
            codec_string: String::new(),
            config: TrackConfig::Jpeg,
            psnr: None,
            psnr_y: None,
            ssim: None,
            cpu_secs: 0.0,
            queued_at_ms: None,
            started_at_ms: None,
            finished_at_ms: None,
        }
    }
}

/// One picture's closed captions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptionFrame {
    /// Presentation time in the segment's timescale.
    pub pts: i64,
    /// A/53 `cc_data` triplets.
    #[serde(with = "base64_bytes")]
    pub data: Vec<u8>,
}

/// A task that will not succeed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentFailed {
    /// Rendition name.
    pub rendition: String,
    /// Segment number.
    pub seq: u32,
    /// Why.
    pub reason: String,
    /// True when the input is at fault (not retried); false when the task ran
    /// out of deliveries.
    pub bad_input: bool,
}

/// What happened in a job; published on [`job_events_subject`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum JobEventKind {
    /// Segmenting started: the plan.
    Planned(JobPlan),
    /// A task finished.
    SegmentDone(SegmentDone),
    /// A task failed for good.
    SegmentFailed(SegmentFailed),
    /// The first rendition of a VOD job can be played (published once per job).
    Playable(Playable),
    /// A task failed for a reason that may pass; it will be retried.
    TaskRetry {
        /// Task id.
        task: String,
        /// Why.
        reason: String,
    },
    /// Every manifest is written.
    Packaged {
        /// Keys of the manifests and report.
        outputs: Vec<String>,
    },
    /// The job failed.
    Failed {
        /// Why (the first failing segment, rendition and reason).
        reason: String,
        /// True when the input is at fault.
        bad_input: bool,
    },
    /// A live broadcast started: its plan.
    LivePlanned(LivePlan),
    /// A live segment was cut.
    LiveSegment(LiveSegmentCut),
    /// A part of a low-latency live segment was written.
    PartDone(PartDone),
    /// The broadcast ended after `segments` segments: finalize as VOD.
    LiveEnded {
        /// Segments in all.
        segments: u32,
    },
    /// The job was cancelled through the API: nothing more is written for it.
    Cancelled {
        /// Who or what cancelled it.
        reason: String,
    },
    /// An event type this version does not know.
    #[serde(other)]
    Unknown,
}

/// A job event with its envelope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobEvent {
    /// [`WIRE_VERSION`].
    pub version: u32,
    /// Job id.
    pub job: String,
    /// What happened.
    #[serde(flatten)]
    pub kind: JobEventKind,
}

impl JobEvent {
    /// A current-version event.
    pub fn new(job: &str, kind: JobEventKind) -> Self {
        Self { version: WIRE_VERSION, job: job.to_string(), kind }
    }

    /// The event as a bus message on its job's subject, with its dedupe id.
    pub fn to_message(&self) -> crate::bus::OutgoingMessage {
        crate::bus::OutgoingMessage::json(job_events_subject(&self.job), self.message_id(), self)
    }

    /// The bus message id that deduplicates a re-published event.
    pub fn message_id(&self) -> Option<String> {
        match &self.kind {
            JobEventKind::Planned(_) => Some(format!("{}/planned", self.job)),
            JobEventKind::SegmentDone(d) => Some(format!("{}/{}/{}/done", self.job, d.rendition, d.seq)),
            JobEventKind::SegmentFailed(f) => Some(format!("{}/{}/{}/failed", self.job, f.rendition, f.seq)),
            JobEventKind::Packaged { .. } => Some(format!("{}/packaged", self.job)),
            JobEventKind::Playable(_) => Some(format!("{}/playable", self.job)),
            JobEventKind::Failed { .. } => Some(format!("{}/failed", self.job)),
            JobEventKind::Cancelled { .. } => Some(format!("{}/cancelled", self.job)),
            JobEventKind::LivePlanned(_) => Some(format!("{}/live-planned", self.job)),
            JobEventKind::LiveSegment(cut) => Some(format!("{}/live/{}", self.job, cut.seq)),
            JobEventKind::PartDone(p) => Some(format!("{}/{}/{}/{}/part", self.job, p.rendition, p.seq, p.part)),
            JobEventKind::LiveEnded { .. } => Some(format!("{}/live-ended", self.job)),
            JobEventKind::TaskRetry { .. } | JobEventKind::Unknown => None,
        }
    }
}

/// Checks a job id or similar token: 1-64 of `[A-Za-z0-9_-]`, so it is safe
/// in subjects and storage keys.
pub fn validate_id(what: &str, id: &str) -> Result<(), CoreError> {
    let ok =
        !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(CoreError::InvalidValue(format!("{what} '{id}' must be 1-64 characters of A-Z a-z 0-9 - _")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_media::{SpeedPreset, VideoCodec};

    fn rung() -> Rung {
        Rung {
            codec: VideoCodec::Av1,
            height: 360,
            bitrate_kbps: 450,
            encoder: Some(tessera_media::EncoderKind::SvtAv1),
            crf: Some(35),
            max_frame_rate: None,
            speed: Some(SpeedPreset::Fast),
        }
    }

    #[test]
    fn each_priority_has_its_own_subject_and_consumer() {
        let (class, codec) = (WorkerClass::Cpu, TaskCodec::H264);
        assert_eq!(task_subject(class, codec, TaskPriority::Rest), "tessera.tasks.cpu.h264");
        assert_eq!(task_subject(class, codec, TaskPriority::First), "tessera.tasks.cpu.h264.first");
        assert_eq!(task_consumer(class, codec, TaskPriority::Rest), "worker-cpu-h264");
        assert_eq!(task_consumer(WorkerClass::Gpu, TaskCodec::Aac, TaskPriority::First), "worker-gpu-aac-first");
        // Work-queue consumers must not overlap.
        let (first, rest) =
            (task_subject(class, codec, TaskPriority::First), task_subject(class, codec, TaskPriority::Rest));
        assert!(!crate::bus::subject::overlap(&first, &rest));
    }

    #[test]
    fn task_round_trips_and_tolerates_unknown_fields() {
        let task = Task {
            version: WIRE_VERSION,
            job: "j1".into(),
            seq: 7,
            rendition: RenditionSpec::Video { rung: rung() },
            source_key: source_segment_key("j1", 7),
            output_key: output_key("outputs/j1", "av1-360p/000007.m4s"),
            frame_rate: 30.0,
            published_at_ms: None,
            part_secs: None,
            report_captions: false,
            key_frame_fragment: true,
        };
        assert_eq!(task.id(), "j1/av1-360p/7");
        assert_eq!(key_frame_key(&task.output_key), "outputs/j1/av1-360p/000007.key.m4s");
        assert_eq!(task.source_key, "sources/j1/000007.seg");
        let json = serde_json::to_string(&task).unwrap();
        assert_eq!(serde_json::from_str::<Task>(&json).unwrap(), task);
        let mut value: serde_json::Value = serde_json::from_str(&json).unwrap();
        value["added_later"] = serde_json::json!(1);
        assert_eq!(serde_json::from_value::<Task>(value).unwrap(), task);
        let audio = RenditionSpec::Audio { bitrate_kbps: 128, priming: 1024, track: AudioTrack::default() };
        assert_eq!((audio.name(), audio.codec()), ("aac-128k".to_string(), TaskCodec::Aac));
    }

    #[test]
    fn events_round_trip_with_version_and_type() {
        let done = JobEvent::new(
            "j1",
            JobEventKind::SegmentDone(SegmentDone {
                rendition: "aac-128k".into(),
                seq: 0,
                key: "aac-128k/000000.m4s".into(),
                start: 0,
                duration: 96000,
                timescale: 48000,
                bytes: 32000,
                key_frame_bytes: None,
                key_frame_fragment_bytes: None,
                closed_captions: false,
                caption_frames: Vec::new(),
                frames: 94,
                width: 0,
                height: 0,
                codec_string: "mp4a.40.2".into(),
                config: TrackConfig::Aac { asc: vec![0x11, 0x90], channels: 2 },
                psnr: None,
                psnr_y: None,
                ssim: None,
                cpu_secs: 0.01,
                queued_at_ms: Some(0),
                started_at_ms: Some(1),
                finished_at_ms: Some(2),
            }),
        );
        let json = serde_json::to_string(&done).unwrap();
        assert!(json.contains(r#""type":"segment_done""#) && json.contains(r#""asc":"EZA=""#), "{json}");
        assert_eq!(serde_json::from_str::<JobEvent>(&json).unwrap(), done);
        assert_eq!(done.message_id().unwrap(), "j1/aac-128k/0/done");
        let newer = r#"{"version":2,"job":"j1","type":"from_the_future","x":1}"#;
        assert_eq!(serde_json::from_str::<JobEvent>(newer).unwrap().kind, JobEventKind::Unknown);
    }

    #[test]
    fn track_config_rebuilds_media_config() {
        let av1 = TrackConfig::Av1 { profile: 0, level_idx: 4, high_tier: false, sequence_header: vec![0x0a, 1, 2] };
        match av1.to_media().unwrap() {
            MediaConfig::Video(CodecConfig::Av1(c)) => assert_eq!(c.level_idx, 4),
            other => panic!("{other:?}"),
        }
        let bad = TrackConfig::Avc { parameter_sets: vec![vec![0x67, 1]] };
        assert!(bad.to_media().is_err());
    }

    #[test]
    fn ids_are_checked() {
        assert!(validate_id("job id", "job_1-a").is_ok());
        for bad in ["", "../x", "a/b", "a.b", "a b", &"x".repeat(65)] {
            assert!(validate_id("job id", bad).is_err(), "{bad}");
        }
    }
}

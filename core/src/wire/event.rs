//! Job events: what a job's plan is and what became of each of its tasks,
//! in order on the job's subject.

use serde::{Deserialize, Serialize};

use super::{job_events_subject, RenditionSpec, TrackConfig, WIRE_VERSION};

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
    #[serde(with = "super::base64_bytes")]
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

//! A VOD job from the coordinator's side: open the source, plan its segments
//! and renditions, publish the plan, then write each source segment to the
//! store and publish its tasks, one segment at a time so workers start while
//! the rest is still being cut. The source is read (libavformat) on a
//! blocking thread or in a child process ([`crate::cutting`]); store writes
//! and publishes are async.

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use tessera_core::backoff::Backoff;
use tessera_core::bus::{Bus, OutgoingMessage};
use tessera_core::wire::{
    output_key, source_segment_key, task_subject, validate_id, AudioTrack, JobEvent, JobEventKind, JobPlan,
    RenditionSpec, SubtitleTrack, Task, TaskCodec, TaskPriority, ThumbnailSpec, WorkerClass, TRACEPARENT, WIRE_VERSION,
};
use tessera_core::{Ladder, SegmentDuration, Store};
use tessera_media::{Limits, SpeedPreset};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::cutting::{cut_in_child, cut_in_process, CutRequest, Cutter};
use crate::error::CoordinatorError;
use crate::upload::{AudioSummary, PlanSummary};

/// What to do with one source.
#[derive(Debug, Clone)]
pub struct VodJobSpec {
    /// Job id (1-64 of `[A-Za-z0-9_-]`).
    pub job: String,
    /// The ladder before fitting it to the source.
    pub ladder: Ladder,
    /// Target segment duration (every segment but the last lasts it, within a frame).
    pub segment_duration: SegmentDuration,
    /// Encoder speed for rungs that name none.
    pub speed: SpeedPreset,
    /// Where outputs go in the outputs store (empty: its root).
    pub output_prefix: String,
    /// Worker class whose subjects get the tasks.
    pub class: WorkerClass,
    /// Input limits.
    pub limits: Limits,
    /// W3C `traceparent` put on every task and event of the job.
    pub traceparent: Option<String>,
    /// Where the upload is cut (services: a child process).
    pub cutter: Cutter,
    /// How long writing a source segment and publishing its tasks ride out a
    /// store or bus outage, retrying in place, before the job's segmenting fails once.
    pub outage_window: Duration,
    /// When the upload was submitted (ms since the Unix epoch), if known.
    pub submitted_at_ms: Option<u64>,
    /// Seconds between seek-bar thumbnails (0: no thumbnails or poster).
    pub thumbnail_interval_secs: f64,
    /// Audio languages to keep (empty: every audio track of the source).
    pub audio_languages: Vec<String>,
    /// Subtitle files sent with the job, read into WebVTT.
    pub subtitles: Vec<SubtitleTrack>,
}

/// The renditions of a job on this source: fitting video rungs (keyed on the
/// picture's short side, so a portrait source keeps its ladder), then the
/// audio rendition if the source has audio, then the thumbnails if asked for.
pub fn plan_renditions(plan: &PlanSummary, spec: &VodJobSpec) -> Result<Vec<RenditionSpec>, CoordinatorError> {
    let short_side = plan.source.width.min(plan.source.height);
    let mut rungs = spec.ladder.for_source(short_side)?;
    if spec.ladder.per_title {
        rungs = Ladder::fit_to_probe(&rungs, &plan.per_title);
        let chosen: Vec<String> = rungs.iter().map(|r| format!("{} {} kbit/s", r.name(), r.bitrate_kbps)).collect();
        tracing::info!(job = %spec.job, ladder = %chosen.join(", "), "per-title ladder");
    }
    let mut renditions: Vec<RenditionSpec> = rungs
        .into_iter()
        .map(|mut rung| {
            rung.speed = Some(rung.speed.unwrap_or(spec.speed));
            RenditionSpec::Video { rung }
        })
        .collect();
    renditions.extend(audio_renditions(&plan.audio));
    if spec.thumbnail_interval_secs > 0.0 {
        let thumbnails = ThumbnailSpec::every(spec.thumbnail_interval_secs, plan.source.duration_secs);
        renditions.push(RenditionSpec::Thumbnails(thumbnails));
    }
    Ok(renditions)
}

/// One audio rendition per kept track, labelled from the container (its
/// title, else its language, else its number; repeated labels numbered), the
/// container's default track (else the first) marked default.
fn audio_renditions(tracks: &[AudioSummary]) -> Vec<RenditionSpec> {
    let default = tracks.iter().position(|t| t.default).unwrap_or(0);
    let mut labels: Vec<String> = Vec::new();
    tracks
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let base = t.title.clone().or_else(|| t.language.clone()).unwrap_or_else(|| format!("Audio {}", i + 1));
            let repeats = labels.iter().filter(|l| l.starts_with(&base)).count();
            let label = if repeats == 0 { base } else { format!("{base} ({})", repeats + 1) };
            labels.push(label.clone());
            RenditionSpec::Audio {
                bitrate_kbps: t.bitrate_kbps,
                priming: t.priming,
                track: AudioTrack {
                    index: u8::try_from(i).unwrap_or(u8::MAX),
                    language: t.language.clone(),
                    label: Some(label),
                    default: i == default,
                },
            }
        })
        .collect()
}

/// Lines of the rung a job plays first, when the ladder has it: enough to
/// judge an upload, and among the cheapest to encode.
pub const FIRST_RUNG_LINES: u32 = 360;

/// The video rendition played first while the rest is encoded: the lowest
/// H.264 rung of at least [`FIRST_RUNG_LINES`] lines (H.264 encodes fastest
/// and plays everywhere), else the tallest H.264 rung below it, else the
/// same among the AV1 rungs.
pub fn first_rendition(renditions: &[RenditionSpec]) -> Option<String> {
    let pick = |codec: tessera_media::VideoCodec| {
        let rungs: Vec<&tessera_core::Rung> = renditions
            .iter()
            .filter_map(|r| match r {
                RenditionSpec::Video { rung } if rung.codec == codec => Some(rung),
                _ => None,
            })
            .collect();
        let tall_enough = rungs.iter().filter(|r| r.height >= FIRST_RUNG_LINES).min_by_key(|r| r.height);
        tall_enough.or_else(|| rungs.iter().max_by_key(|r| r.height)).map(|r| r.name())
    };
    pick(tessera_media::VideoCodec::H264).or_else(|| pick(tessera_media::VideoCodec::Av1))
}

/// Runs a VOD job's coordinator side to the last published task and returns
/// the plan. On bad input a `failed` event is published with the reason;
/// other errors are returned for the caller to retry or give up on; when
/// `cancel` fires it stops between segments with [`CoordinatorError::Cancelled`]
/// (the API publishes the cancellation). Running it again on the same input
/// is harmless: segments are cut identically and the plan, tasks and events
/// carry dedupe ids.
pub async fn run_vod_job(
    bus: &dyn Bus,
    sources: &Store,
    spec: &VodJobSpec,
    source: PathBuf,
    cancel: &CancellationToken,
) -> Result<JobPlan, CoordinatorError> {
    let result = publish_job(bus, sources, spec, source, cancel).await;
    if let Some(e) = result.as_ref().err().filter(|e| e.is_bad_input()) {
        let event = JobEvent::new(&spec.job, JobEventKind::Failed { reason: e.to_string(), bad_input: true });
        if let Err(publish_error) = bus.publish(with_trace(event.to_message(), spec)).await {
            tracing::error!(job = %spec.job, error = %publish_error, "could not publish the job's failure");
        }
    }
    result
}

async fn publish_job(
    bus: &dyn Bus,
    sources: &Store,
    spec: &VodJobSpec,
    path: PathBuf,
    cancel: &CancellationToken,
) -> Result<JobPlan, CoordinatorError> {
    validate_id("job id", &spec.job)?;
    tessera_core::topology::ensure_streams(bus).await?;
    // One segment in flight at a time: the channel bounds memory.
    let (tx, mut rx) = mpsc::channel(2);
    let (plan_tx, plan_rx) = tokio::sync::oneshot::channel();
    let request = CutRequest {
        path,
        segment_duration: spec.segment_duration,
        limits: spec.limits,
        probe_ladder: spec.ladder.per_title.then(|| spec.ladder.clone()),
        audio_languages: spec.audio_languages.clone(),
    };
    let cutter = match &spec.cutter {
        // libavformat reads synchronously: a blocking thread.
        Cutter::InProcess => tokio::task::spawn_blocking(move || cut_in_process(&request, plan_tx, tx)),
        Cutter::Child(program) => {
            let program = program.clone();
            tokio::spawn(async move { cut_in_child(&program, request, plan_tx, tx).await })
        }
    };
    let planned = plan_rx.await.map_err(|_| CoordinatorError::Internal("the ingest thread stopped".into()))??;
    let renditions = plan_renditions(&planned, spec)?;
    let plan = JobPlan {
        segments: planned.segments,
        first: first_rendition(&renditions),
        renditions: renditions.clone(),
        source: planned.source,
        output_prefix: spec.output_prefix.clone(),
        submitted_at_ms: spec.submitted_at_ms,
        subtitles: spec.subtitles.clone(),
    };
    let planned_event = JobEvent::new(&spec.job, JobEventKind::Planned(plan.clone()));
    bus.publish(with_trace(planned_event.to_message(), spec)).await?;

    loop {
        let cut = tokio::select! {
            _ = cancel.cancelled() => return Err(CoordinatorError::Cancelled),
            cut = rx.recv() => cut,
        };
        let Some(cut) = cut else { break };
        let (seq, bytes) = cut?;
        let target = SegmentTarget {
            job: &spec.job,
            class: spec.class,
            output_prefix: &spec.output_prefix,
            renditions: &renditions,
            frame_rate: plan.source.frame_rate,
            traceparent: spec.traceparent.as_deref(),
            part_secs: None,
            first: plan.first.as_deref(),
            trick_play: true,
        };
        let mut backoff = Backoff::new(spec.outage_window);
        loop {
            match publish_segment(bus, sources, &target, seq, bytes.clone()).await {
                Err(e) if e.is_transient() && backoff.wait().await => {
                    tracing::warn!(job = %spec.job, seq, error = %e, "store or bus unavailable; publishing the segment again");
                }
                published => break published?,
            }
        }
    }
    cutter.await.map_err(|e| CoordinatorError::Internal(format!("the ingest thread failed: {e}")))?;
    Ok(plan)
}

/// Adds the job's trace context to a message.
fn with_trace(message: OutgoingMessage, spec: &VodJobSpec) -> OutgoingMessage {
    traced(message, spec.traceparent.as_deref())
}

/// Adds a trace context to a message.
pub(crate) fn traced(mut message: OutgoingMessage, traceparent: Option<&str>) -> OutgoingMessage {
    if let Some(traceparent) = traceparent {
        message.headers.push((TRACEPARENT.to_string(), traceparent.to_string()));
    }
    message
}

/// Where a job's source segments and tasks go (VOD and live alike).
pub(crate) struct SegmentTarget<'a> {
    /// Job id.
    pub job: &'a str,
    /// Worker class of the tasks.
    pub class: WorkerClass,
    /// Output prefix.
    pub output_prefix: &'a str,
    /// One task per rendition.
    pub renditions: &'a [RenditionSpec],
    /// The source's nominal frame rate.
    pub frame_rate: f64,
    /// Trace context for the tasks.
    pub traceparent: Option<&'a str>,
    /// Low-latency live: the source streams in chunks and renditions go out in parts of this many seconds.
    pub part_secs: Option<f64>,
    /// The video rendition played first ([`JobPlan::first`]): its tasks, the
    /// audio's and the thumbnails' go out at [`TaskPriority::First`] (none: all at `Rest`).
    pub first: Option<&'a str>,
    /// Store each H.264 fragment's leading keyframe alone too
    /// ([`Task::key_frame_fragment`]): on demand, for DASH trick mode.
    pub trick_play: bool,
}

impl SegmentTarget<'_> {
    /// The priority of a rendition's tasks.
    fn priority(&self, rendition: &RenditionSpec) -> TaskPriority {
        let Some(first) = self.first else { return TaskPriority::Rest };
        match rendition {
            // Thumbnails too: the poster and seek-bar pictures are wanted with the first rendition.
            RenditionSpec::Audio { .. } | RenditionSpec::Thumbnails(_) => TaskPriority::First,
            RenditionSpec::Video { rung } if rung.name() == first => TaskPriority::First,
            RenditionSpec::Video { .. } => TaskPriority::Rest,
        }
    }
}

/// Writes one source segment and publishes its tasks, one per rendition.
pub(crate) async fn publish_segment(
    bus: &dyn Bus,
    sources: &Store,
    target: &SegmentTarget<'_>,
    seq: u32,
    bytes: Vec<u8>,
) -> Result<(), CoordinatorError> {
    sources.put(&source_segment_key(target.job, seq), Bytes::from(bytes)).await?;
    publish_tasks(bus, target, seq).await
}

/// Publishes the tasks of a written source segment, one per rendition
/// (deduplicated by task id, so repeating it is harmless).
pub(crate) async fn publish_tasks(bus: &dyn Bus, target: &SegmentTarget<'_>, seq: u32) -> Result<(), CoordinatorError> {
    let source_key = source_segment_key(target.job, seq);
    for rendition in target.renditions {
        let task = Task {
            version: WIRE_VERSION,
            job: target.job.to_string(),
            seq,
            output_key: output_key(target.output_prefix, &rendition.segment_file(seq)),
            rendition: rendition.clone(),
            source_key: source_key.clone(),
            frame_rate: target.frame_rate,
            published_at_ms: Some(tessera_core::clock::now_ms()),
            part_secs: target.part_secs,
            report_captions: target.first.is_some_and(|first| rendition.name() == first),
            key_frame_fragment: target.trick_play && rendition.codec() == TaskCodec::H264,
        };
        let subject = task_subject(target.class, rendition.codec(), target.priority(rendition));
        bus.publish(traced(OutgoingMessage::json(subject, Some(task.id()), &task), target.traceparent)).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_core::Rung;
    use tessera_media::VideoCodec;

    fn video(codec: VideoCodec, height: u32) -> RenditionSpec {
        RenditionSpec::Video { rung: Rung::new(codec, height, 1000) }
    }

    #[test]
    fn the_first_rendition_is_the_lowest_h264_rung_of_360_lines_or_more() {
        let audio = RenditionSpec::Audio { bitrate_kbps: 128, priming: 0, track: AudioTrack::default() };
        let ladder: Vec<RenditionSpec> =
            [720, 480, 360, 240].map(|h| video(VideoCodec::H264, h)).into_iter().chain([audio.clone()]).collect();
        assert_eq!(first_rendition(&ladder).as_deref(), Some("h264-360p"));
        // A small source: its tallest rung.
        let small = [video(VideoCodec::Av1, 180), video(VideoCodec::H264, 180), audio.clone()];
        assert_eq!(first_rendition(&small).as_deref(), Some("h264-180p"));
        // AV1 only: the same rule among AV1 rungs.
        let av1 = [video(VideoCodec::Av1, 720), video(VideoCodec::Av1, 480), audio];
        assert_eq!(first_rendition(&av1).as_deref(), Some("av1-480p"));
        assert_eq!(first_rendition(&[]), None);
    }

    #[test]
    fn the_first_rendition_and_the_audio_go_out_first() {
        let ladder = [video(VideoCodec::H264, 720), video(VideoCodec::H264, 360)];
        let target = SegmentTarget {
            job: "j",
            class: WorkerClass::Cpu,
            output_prefix: "",
            renditions: &ladder,
            frame_rate: 30.0,
            traceparent: None,
            part_secs: None,
            first: Some("h264-360p"),
            trick_play: true,
        };
        assert_eq!(target.priority(&ladder[0]), TaskPriority::Rest);
        assert_eq!(target.priority(&ladder[1]), TaskPriority::First);
        assert_eq!(
            target.priority(&RenditionSpec::Audio { bitrate_kbps: 128, priming: 0, track: AudioTrack::default() }),
            TaskPriority::First
        );
        let live = SegmentTarget { first: None, ..target };
        assert_eq!(live.priority(&ladder[1]), TaskPriority::Rest);
    }
}

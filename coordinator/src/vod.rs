//! A VOD job from the coordinator's side: open the source, plan its segments
//! and renditions, publish the plan, then write each source segment to the
//! store and publish its tasks, one segment at a time so workers start while
//! the rest is still being cut. The source is read on a blocking thread;
//! store writes and publishes are async.

use std::io::{Read, Seek};
use std::time::Duration;

use bytes::Bytes;
use tessera_core::bus::{Bus, OutgoingMessage};
use tessera_core::wire::{
    output_key, source_segment_key, task_subject, validate_id, JobEvent, JobEventKind, JobPlan, RenditionSpec,
    SourceInfo, Task, WorkerClass, TRACEPARENT, WIRE_VERSION,
};
use tessera_core::{Ladder, Store};
use tessera_media::{AudioTrack, Limits, Mp4Source, SpeedPreset};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::error::CoordinatorError;
use crate::ingest::{cut_segment, plan_source};

/// What to do with one source.
#[derive(Debug, Clone)]
pub struct VodJobSpec {
    /// Job id (1-64 of `[A-Za-z0-9_-]`).
    pub job: String,
    /// The ladder before fitting it to the source.
    pub ladder: Ladder,
    /// Target segment duration (cuts at the first IDR at or after it).
    pub segment_duration: Duration,
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
}

/// The average bitrate of an AAC track, rounded to kbit/s (names the rendition).
fn audio_bitrate_kbps(audio: &AudioTrack) -> u32 {
    let bytes: u64 = audio.samples.iter().map(|s| u64::from(s.size)).sum();
    let ticks: u64 = audio.samples.iter().map(|s| u64::from(s.duration)).sum();
    if ticks == 0 {
        return 0;
    }
    let kbps = bytes as f64 * 8.0 * f64::from(audio.timescale) / ticks as f64 / 1000.0;
    kbps.round() as u32
}

/// The renditions of a job on this source: fitting video rungs, then the
/// source's AAC track if it has one and it reaches into every segment
/// (`audio_in_every_segment`); audio that ends (or starts) more than a segment
/// away from the video is left out with a warning rather than failing the job.
pub fn plan_renditions(
    source: &Mp4Source,
    spec: &VodJobSpec,
    audio_in_every_segment: bool,
) -> Result<Vec<RenditionSpec>, CoordinatorError> {
    let mut renditions: Vec<RenditionSpec> = spec
        .ladder
        .for_source(source.video.height)?
        .into_iter()
        .map(|mut rung| {
            rung.speed = Some(rung.speed.unwrap_or(spec.speed));
            RenditionSpec::Video { rung }
        })
        .collect();
    if let (Some(_), false) = (&source.audio, audio_in_every_segment) {
        tracing::warn!(job = %spec.job, "the audio track does not cover every segment: no audio rendition");
    }
    if let Some(audio) = source.audio.as_ref().filter(|_| audio_in_every_segment) {
        let priming = u64::try_from(audio.decode_offset).unwrap_or(0);
        renditions.push(RenditionSpec::Audio { bitrate_kbps: audio_bitrate_kbps(audio), priming });
    }
    Ok(renditions)
}

/// Runs a VOD job's coordinator side to the last published task and returns
/// the plan. On bad input a `failed` event is published with the reason;
/// other errors are returned for the caller to retry or give up on; when
/// `cancel` fires it stops between segments with [`CoordinatorError::Cancelled`]
/// (the API publishes the cancellation). Running it again on the same input
/// is harmless: segments are cut identically and the plan, tasks and events
/// carry dedupe ids.
pub async fn run_vod_job<R>(
    bus: &dyn Bus,
    sources: &Store,
    spec: &VodJobSpec,
    reader: R,
    cancel: &CancellationToken,
) -> Result<JobPlan, CoordinatorError>
where
    R: Read + Seek + Send + 'static,
{
    let result = publish_job(bus, sources, spec, reader, cancel).await;
    if let Some(e) = result.as_ref().err().filter(|e| e.is_bad_input()) {
        let event = JobEvent::new(&spec.job, JobEventKind::Failed { reason: e.to_string(), bad_input: true });
        if let Err(publish_error) = bus.publish(with_trace(event.to_message(), spec)).await {
            tracing::error!(job = %spec.job, error = %publish_error, "could not publish the job's failure");
        }
    }
    result
}

async fn publish_job<R>(
    bus: &dyn Bus,
    sources: &Store,
    spec: &VodJobSpec,
    reader: R,
    cancel: &CancellationToken,
) -> Result<JobPlan, CoordinatorError>
where
    R: Read + Seek + Send + 'static,
{
    validate_id("job id", &spec.job)?;
    tessera_core::topology::ensure_streams(bus).await?;
    let (tx, mut rx) = mpsc::channel::<Result<(u32, Vec<u8>), CoordinatorError>>(2);
    let (plan_tx, plan_rx) = tokio::sync::oneshot::channel::<Result<(Mp4Source, usize, bool), CoordinatorError>>();
    let target = spec.segment_duration;
    let limits = spec.limits;
    // The reader is synchronous: demux and cut on a blocking thread, one
    // segment in flight at a time (the channel bounds memory).
    let cutter = tokio::task::spawn_blocking(move || {
        let mut reader = reader;
        let (source, plans) = match plan_source(&mut reader, target, &limits) {
            Ok(x) => x,
            Err(e) => {
                let _ = plan_tx.send(Err(e.into()));
                return;
            }
        };
        let audio_everywhere = plans.iter().all(|p| !p.audio.is_empty());
        let _ = plan_tx.send(Ok((source.clone(), plans.len(), audio_everywhere)));
        for plan in &plans {
            let cut = cut_segment(&mut reader, &source, plan).map(|s| (s.seq, s.bytes));
            if tx.blocking_send(cut.map_err(CoordinatorError::from)).is_err() {
                return;
            }
        }
    });
    let (source, segments, audio_everywhere) =
        plan_rx.await.map_err(|_| CoordinatorError::Internal("the demux thread stopped".into()))??;
    let segments = u32::try_from(segments).map_err(|_| CoordinatorError::Internal("too many segments".into()))?;
    let renditions = plan_renditions(&source, spec, audio_everywhere)?;
    let plan = JobPlan {
        segments,
        renditions: renditions.clone(),
        source: SourceInfo {
            width: source.video.width,
            height: source.video.height,
            frame_rate: source.video.frame_rate(),
            duration_secs: source.duration_secs(),
            frames: source.video.samples.len() as u64,
        },
        output_prefix: spec.output_prefix.clone(),
    };
    let planned = JobEvent::new(&spec.job, JobEventKind::Planned(plan.clone()));
    bus.publish(with_trace(planned.to_message(), spec)).await?;

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
        };
        publish_segment(bus, sources, &target, seq, bytes).await?;
    }
    cutter.await.map_err(|e| CoordinatorError::Internal(format!("the demux thread failed: {e}")))?;
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
            output_key: output_key(target.output_prefix, &format!("{}/{seq:06}.m4s", rendition.name())),
            rendition: rendition.clone(),
            source_key: source_key.clone(),
            frame_rate: target.frame_rate,
            published_at_ms: Some(tessera_core::jobs::now_ms()),
        };
        let subject = task_subject(target.class, rendition.codec());
        bus.publish(traced(OutgoingMessage::json(subject, Some(task.id()), &task), target.traceparent)).await?;
    }
    Ok(())
}

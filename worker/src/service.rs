//! The worker service: pulls tasks for its class and codecs, runs each on a
//! blocking thread (one encoder thread per task, `slots` tasks at a time),
//! keeps the task alive with in-progress acks, writes the fragment to its
//! final key, then reports a `segment_done` event and acks. Bad input is
//! reported as a permanent failure and acked; a store or bus outage is
//! waited out in place (the task kept alive, no delivery spent) for up to the
//! outage window; anything else is nak'ed with back-off and retried until the
//! bus dead-letters it.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use opentelemetry::KeyValue;
use tessera_core::backoff::{Backoff, DEFAULT_OUTAGE_WINDOW};
use tessera_core::bus::{Bus, Consumer, Delivery};
use tessera_core::jobs::{now_ms, JobBook, JobState};
use tessera_core::roster::Roster;
use tessera_core::telemetry::{self, PastSpan, TraceParent};
use tessera_core::topology::{task_consumer_config, TaskDelivery};
use tessera_core::wire::{
    key_frame_key, poster_key, JobEvent, JobEventKind, RenditionSpec, SegmentDone, SegmentFailed, Task, TaskCodec,
    TaskPriority, TrackConfig, WorkerClass, TRACEPARENT,
};
use tessera_core::{Rung, Store};
use tessera_media::{EncoderKind, SpeedPreset};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::audio::copy_audio_segment;
use crate::benchmark::fixed_time_stand_in;
use crate::encode_child::{encode_in_child, EncodeRequest, EncodedFigures};
use crate::error::WorkerError;
use crate::metrics;
use crate::parts::StreamedTask;
use crate::status::{Listing, RunningTasks};
use crate::thumbnails::thumbnail_segment;
use crate::transcode::{transcode_segment, RenditionSegment};
use tessera_media::pipeline::AudioRendition;

/// How a worker runs.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Which class of task subjects to serve.
    pub class: WorkerClass,
    /// Which codecs to take tasks for.
    pub codecs: Vec<TaskCodec>,
    /// Tasks run at once (each on one thread).
    pub slots: usize,
    /// The task consumers' delivery settings.
    pub delivery: TaskDelivery,
    /// Encoder speed for rungs that name none.
    pub default_speed: SpeedPreset,
    /// After shutdown, how long tasks in hand may run before they are
    /// nak'ed for another worker.
    pub drain_timeout: Duration,
    /// How long a task retries store and bus errors in place before it gives
    /// up its delivery (an outage shorter than this costs no attempt).
    pub outage_window: Duration,
    /// The program to run `encode-child` with for SVT-AV1 tasks, one child
    /// per task ([`crate::encode_child`]); `None`: in this process, one SVT-AV1
    /// task at a time is then the caller's business (tests, library use).
    pub encode_child: Option<std::path::PathBuf>,
    /// Benchmarks only: replace decoding and encoding with a stand-in that
    /// takes exactly this long per task (see [`fixed_time_stand_in`]), to
    /// measure the dispatch path without the codecs. The output is not the video.
    pub benchmark_task_time: Option<Duration>,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            class: WorkerClass::Cpu,
            codecs: TaskCodec::ALL.to_vec(),
            slots: std::thread::available_parallelism().map_or(1, usize::from),
            delivery: TaskDelivery::default(),
            default_speed: SpeedPreset::default(),
            drain_timeout: Duration::from_secs(60),
            outage_window: DEFAULT_OUTAGE_WINDOW,
            encode_child: None,
            benchmark_task_time: None,
        }
    }
}

/// Where a worker reads sources and writes outputs (the same store in the
/// cluster; a scratch folder and the destination in `tessera transcode`).
#[derive(Debug, Clone)]
pub struct WorkerStores {
    /// Holds `sources/{job}/{seq}.mp4`.
    pub sources: Store,
    /// Receives the fragments.
    pub outputs: Store,
}

/// The cluster's records a worker uses when it has them (none in `tessera transcode`).
#[derive(Clone, Default)]
pub struct WorkerBooks {
    /// Job records: tasks of cancelled jobs are dropped.
    pub jobs: Option<JobBook>,
    /// The worker roster: this worker's status is written there.
    pub roster: Option<Roster>,
}

struct Shared {
    bus: Arc<dyn Bus>,
    stores: WorkerStores,
    config: WorkerConfig,
    jobs: Option<JobBook>,
    /// Tasks running now (for the roster).
    running: Arc<RunningTasks>,
    /// Fired when the drain timeout is over: tasks in hand are nak'ed.
    abandon: CancellationToken,
}

/// How often a running task's job is checked for a cancellation.
const CANCEL_POLL: Duration = Duration::from_secs(1);

/// Runs a worker until `shutdown` is cancelled. It then stops taking tasks
/// and gives those in hand `drain_timeout` to finish; the rest are nak'ed so
/// another worker takes them at once. With job records, tasks of cancelled
/// jobs are dropped, and a running one stops before writing; with a roster,
/// the worker's status is kept there while it runs.
pub async fn run(
    bus: Arc<dyn Bus>,
    stores: WorkerStores,
    config: WorkerConfig,
    books: WorkerBooks,
    shutdown: CancellationToken,
) -> Result<(), WorkerError> {
    tessera_core::topology::ensure_streams(bus.as_ref()).await?;
    let mut consumers = Vec::new();
    for (codec, priority) in polling_order(&config.codecs) {
        let consumer_config = task_consumer_config(config.class, codec, priority, config.delivery);
        consumers.push(bus.consumer(tessera_core::wire::TASKS_STREAM, &consumer_config).await?);
    }
    let abandon = CancellationToken::new();
    let shared = Arc::new(Shared {
        bus,
        stores,
        config: config.clone(),
        jobs: books.jobs,
        running: Arc::default(),
        abandon: abandon.clone(),
    });
    let listed = books.roster.map(|roster| Listing::start(roster, &config, shared.running.clone()));
    schedule(shared, consumers, config.slots.max(1), shutdown, config.drain_timeout).await;
    if let Some(listed) = listed {
        listed.stop().await;
    }
    Ok(())
}

/// The queues in the order they are polled. First every
/// [`TaskPriority::First`] queue, so a job's first rendition plays within
/// seconds whatever else is queued: audio (stream copies of milliseconds,
/// and segment 0 of the audio is needed to play), the first video rendition,
/// then thumbnails (the poster and seek-bar pictures come right after).
/// Then the rest by codec, longest tasks first: AV1, then H.264, then
/// thumbnails, then AAC. Taking the long tasks first keeps every slot busy
/// to the end of a job (the classic longest-processing-time rule) instead
/// of leaving one AV1 task running alone.
fn polling_order(codecs: &[TaskCodec]) -> Vec<(TaskCodec, TaskPriority)> {
    let first = [TaskCodec::Aac, TaskCodec::H264, TaskCodec::Av1, TaskCodec::Image].map(|c| (c, TaskPriority::First));
    let rest = [TaskCodec::Av1, TaskCodec::H264, TaskCodec::Image, TaskCodec::Aac].map(|c| (c, TaskPriority::Rest));
    first.into_iter().chain(rest).filter(|(codec, _)| codecs.contains(codec)).collect()
}

/// Longest pause between polls when there is no work.
const IDLE_POLL: Duration = Duration::from_millis(250);

/// A queue found empty is not polled again for this long (an empty poll
/// costs a round trip, or the bus's no-wait expiry), so a busy queue is not
/// slowed by polling an idle one before every task.
const EMPTY_QUEUE_REST: Duration = Duration::from_millis(200);

/// Whenever a slot is free, takes one task from the first consumer (in
/// [`polling_order`]) that has one, and runs it in the background.
/// A slot is never held while waiting for work, so one codec's empty queue
/// cannot starve another's.
async fn schedule(
    shared: Arc<Shared>,
    consumers: Vec<Box<dyn Consumer>>,
    slots: usize,
    shutdown: CancellationToken,
    drain_timeout: Duration,
) {
    let slots = Arc::new(Semaphore::new(slots));
    let mut running = tokio::task::JoinSet::new();
    let mut idle = Duration::from_millis(10);
    let mut rest_until = vec![tokio::time::Instant::now(); consumers.len()];
    'schedule: loop {
        while running.try_join_next().is_some() {}
        let permit = tokio::select! {
            _ = shutdown.cancelled() => break,
            permit = slots.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        for (consumer, rest_until) in consumers.iter().zip(rest_until.iter_mut()) {
            if tokio::time::Instant::now() < *rest_until {
                continue;
            }
            match consumer.fetch(1, Duration::ZERO).await {
                Ok(mut deliveries) => {
                    let Some(delivery) = deliveries.pop() else {
                        *rest_until = tokio::time::Instant::now() + EMPTY_QUEUE_REST;
                        continue;
                    };
                    let shared = shared.clone();
                    running.spawn(async move {
                        handle(&shared, delivery).await;
                        drop(permit);
                    });
                    idle = Duration::from_millis(10);
                    continue 'schedule;
                }
                Err(e) => tracing::warn!(error = %e, "fetching tasks failed; retrying"),
            }
        }
        drop(permit);
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(idle) => {}
        }
        idle = (idle * 2).min(IDLE_POLL);
    }
    if !running.is_empty() {
        tracing::info!(tasks = running.len(), timeout = ?drain_timeout, "draining: finishing the tasks in hand");
    }
    let drained = tokio::time::timeout(drain_timeout, async { while running.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!(tasks = running.len(), "drain timeout: handing the remaining tasks back");
        shared.abandon.cancel();
        while running.join_next().await.is_some() {}
    }
}

/// Whether the job was cancelled (false without job records or when they cannot be read).
async fn job_cancelled(shared: &Shared, job: &str) -> bool {
    let Some(jobs) = &shared.jobs else { return false };
    matches!(jobs.get(job).await, Ok(Some((record, _))) if record.state == JobState::Cancelled)
}

/// Returns once the job is cancelled (never without job records).
async fn until_cancelled(shared: &Shared, job: &str) {
    if shared.jobs.is_none() {
        return std::future::pending().await;
    }
    loop {
        tokio::time::sleep(CANCEL_POLL).await;
        if job_cancelled(shared, job).await {
            return;
        }
    }
}

/// Runs one delivered task to its ack or nak, in a `task.run` span that is a
/// child of the job's trace (from the task's `traceparent`); its time in the
/// queue is recorded as a `task.queue_wait` span beside it.
async fn handle(shared: &Shared, delivery: Delivery) {
    let received_ms = now_ms();
    let task: Task = match serde_json::from_slice(&delivery.payload) {
        Ok(task) => task,
        Err(e) => {
            // Nothing here can ever run it: fail its job (if it names one) rather
            // than retry, so the job ends instead of waiting for this segment.
            tracing::error!(error = %e, subject = %delivery.subject, "undecodable task");
            fail_unreadable(shared, &delivery, &e).await;
            let _ = delivery.ack().await;
            return;
        }
    };
    let traceparent = delivery.header(TRACEPARENT).and_then(TraceParent::parse);
    let span = tracing::info_span!(
        "task.run",
        job = %task.job,
        segment = task.seq,
        rendition = %task.rendition.name(),
        delivered = delivery.delivered,
        trace_id = traceparent.map(|t| t.trace_hex()).unwrap_or_default(),
    );
    telemetry::adopt(&span, delivery.header(TRACEPARENT));
    if let (Some(parent), Some(published)) = (traceparent, task.published_at_ms) {
        telemetry::record_span(PastSpan {
            name: "task.queue_wait",
            id: None,
            parent: Some(parent),
            start_ms: published,
            end_ms: received_ms,
            attributes: vec![
                KeyValue::new("job", task.job.clone()),
                KeyValue::new("segment", i64::from(task.seq)),
                KeyValue::new("rendition", task.rendition.name()),
                KeyValue::new("delivered", i64::from(delivery.delivered)),
            ],
            error: None,
        });
    }
    run_task(shared, delivery, task).instrument(span).await;
}

/// The body of [`handle`], inside the task's span.
async fn run_task(shared: &Shared, delivery: Delivery, task: Task) {
    tracing::debug!(task = %task.id(), delivered = delivery.delivered, "task started");
    let codec = task.rendition.codec().as_str();
    let count = |outcome: &'static str| metrics::task_settled(codec, outcome);
    if job_cancelled(shared, &task.job).await {
        tracing::info!(task = %task.id(), "job cancelled: task dropped");
        count("cancelled");
        let _ = delivery.ack().await;
        return;
    }
    let _running = metrics::InFlight::start();
    let _listed = shared.running.add(&task);
    let started = std::time::Instant::now();
    let delivery = Arc::new(delivery);
    let heartbeat = {
        let delivery = delivery.clone();
        let every = shared.config.delivery.ack_wait / 3;
        tokio::spawn(async move {
            // Through a NATS outage too: the first beat after it keeps the task ours.
            loop {
                tokio::time::sleep(every).await;
                if let Err(e) = delivery.in_progress().await {
                    tracing::debug!(error = %e, "in-progress ack failed");
                }
            }
        })
    };
    let outcome = tokio::select! {
        outcome = execute_through_outages(shared, &task) => outcome,
        _ = until_cancelled(shared, &task.job) => {
            heartbeat.abort();
            tracing::info!(task = %task.id(), "job cancelled: task stopped");
            count("cancelled");
            let _ = delivery.ack().await;
            return;
        }
        _ = shared.abandon.cancelled() => {
            heartbeat.abort();
            tracing::info!(task = %task.id(), "shutting down: task handed back");
            count("handed_back");
            let _ = delivery.nak(None).await;
            return;
        }
    };
    heartbeat.abort();
    let name = task.rendition.name();
    let (event, settle) = match outcome {
        Ok(done) => {
            count("done");
            tracing::info!(task = %task.id(), bytes = done.bytes, cpu_secs = done.cpu_secs, "task done");
            let latency = done.finished_at_ms.zip(task.published_at_ms).map(|(f, p)| f.saturating_sub(p) as f64 / 1e3);
            metrics::task_finished(codec, started.elapsed().as_secs_f64(), latency);
            (JobEventKind::SegmentDone(done), Settle::Ack)
        }
        Err(e) if e.is_bad_input() => {
            count("failed");
            let reason = format!("segment {} of {}: {e}", task.seq, name);
            tracing::warn!(task = %task.id(), %reason, "task failed: bad input");
            (
                JobEventKind::SegmentFailed(SegmentFailed { rendition: name, seq: task.seq, reason, bad_input: true }),
                Settle::Ack,
            )
        }
        Err(e) => {
            count("retry");
            let reason = format!("segment {} of {}: {e}", task.seq, name);
            tracing::warn!(task = %task.id(), %reason, delivered = delivery.delivered, "task failed; will retry");
            let backoff = Duration::from_secs(u64::from(delivery.delivered.min(30)));
            (JobEventKind::TaskRetry { task: task.id(), reason }, Settle::Nak(backoff))
        }
    };
    let mut message = JobEvent::new(&task.job, event).to_message();
    // The job's trace continues in the worker's report.
    if let Some(traceparent) = delivery.header(TRACEPARENT) {
        message.headers.push((TRACEPARENT.to_string(), traceparent.to_string()));
    }
    let mut backoff = Backoff::new(shared.config.outage_window);
    let published = loop {
        match shared.bus.publish(message.clone()).await {
            Err(e) if e.is_transient() && backoff.wait().await => {
                tracing::warn!(error = %e, task = %task.id(), "cannot report the task yet; retrying");
                // Keep the task ours meanwhile (fails harmlessly while NATS itself is down).
                let _ = delivery.in_progress().await;
            }
            published => break published,
        }
    };
    let settled = match (published, settle) {
        (Ok(_), Settle::Ack) => delivery.ack().await,
        // The event did not go out: let the task run again.
        (Err(e), Settle::Ack) => {
            tracing::warn!(error = %e, task = %task.id(), "could not report the task; it will be retried");
            delivery.nak(Some(Duration::from_secs(1))).await
        }
        (_, Settle::Nak(backoff)) => delivery.nak(Some(backoff)).await,
    };
    if let Err(e) = settled {
        tracing::warn!(error = %e, task = %task.id(), "could not settle the task; the bus will redeliver it");
    }
}

/// Reports a task this worker cannot read (e.g. from a newer coordinator) as
/// a failed segment of the job it names.
async fn fail_unreadable(shared: &Shared, delivery: &Delivery, error: &serde_json::Error) {
    let value: serde_json::Value = serde_json::from_slice(&delivery.payload).unwrap_or_default();
    let Some(job) = value["job"].as_str() else { return };
    let seq = value["seq"].as_u64().and_then(|s| u32::try_from(s).ok()).unwrap_or(0);
    let failed = SegmentFailed {
        rendition: "unknown".into(),
        seq,
        reason: format!("segment {seq}: this worker cannot read the task ({error}); is it older than the coordinator?"),
        bad_input: false,
    };
    let event = JobEvent::new(job, JobEventKind::SegmentFailed(failed));
    if let Err(e) = shared.bus.publish(event.to_message()).await {
        tracing::warn!(error = %e, %job, "could not report an unreadable task");
    }
}

enum Settle {
    Ack,
    Nak(Duration),
}

/// [`execute`], tried again after store and bus errors with capped
/// exponential back-off until the outage window is spent. Trying again is
/// harmless: the output is the same bytes at the same key.
async fn execute_through_outages(shared: &Shared, task: &Task) -> Result<SegmentDone, WorkerError> {
    let mut backoff = Backoff::new(shared.config.outage_window);
    loop {
        match execute(shared, task).await {
            Err(e) if e.is_transient() => {
                if !backoff.wait().await {
                    return Err(e);
                }
                tracing::warn!(task = %task.id(), error = %e, "store or bus unavailable; trying the task again");
            }
            outcome => return outcome,
        }
    }
}

/// Reads the source segment, produces the rendition segment, writes it.
async fn execute(shared: &Shared, task: &Task) -> Result<SegmentDone, WorkerError> {
    let seq = task.seq;
    let started_at_ms = Some(now_ms());
    let began = tokio::time::Instant::now();
    let spec = task.rendition.clone();
    let streamed = task.part_secs.filter(|_| shared.config.benchmark_task_time.is_none());
    let streamed_task = StreamedTask {
        bus: shared.bus.as_ref(),
        sources: &shared.stores.sources,
        outputs: &shared.stores.outputs,
        default_speed: shared.config.default_speed,
    };
    // A low-latency live segment: source chunks in, parts out as they are coded.
    let (fragment, done) = if let Some(part_secs) = streamed {
        streamed_task.run(task, part_secs, task.frame_rate).await?
    } else {
        match (&task.rendition, shared.config.benchmark_task_time) {
            (RenditionSpec::Video { rung }, None) if in_child(rung) && shared.config.encode_child.is_some() => {
                let source = shared.stores.sources.get(&task.source_key).await?;
                let program = shared.config.encode_child.clone().unwrap_or_default();
                let mut rung = rung.clone();
                rung.speed = Some(rung.speed.unwrap_or(shared.config.default_speed));
                let request = EncodeRequest { seq, rung, frame_rate: task.frame_rate };
                let encode =
                    tracing::info_span!("encode", codec = request.rung.codec.as_str(), height = request.rung.height);
                let began = std::time::Instant::now();
                let (figures, fragment) = encode_in_child(&program, &request, &source).instrument(encode).await?;
                metrics::encoded(
                    request.rung.codec.as_str(),
                    spec.name(),
                    u64::from(figures.frames),
                    began.elapsed().as_secs_f64(),
                );
                (fragment, figures_done(figures, &spec, seq))
            }
            (RenditionSpec::Video { rung }, None) => {
                let source = shared.stores.sources.get(&task.source_key).await?;
                let (rung, speed, frame_rate) = (rung.clone(), shared.config.default_speed, task.frame_rate);
                // Decoding streams into scaling and encoding: one span covers the three.
                let encode = tracing::info_span!("encode", codec = rung.codec.as_str(), height = rung.height);
                let encoded = on_cpu(move || {
                    let _entered = encode.enter();
                    let began = std::time::Instant::now();
                    let out = transcode_segment(&source, seq, &rung, speed, frame_rate)?;
                    metrics::encoded(
                        rung.codec.as_str(),
                        spec.name(),
                        out.frames as u64,
                        began.elapsed().as_secs_f64(),
                    );
                    Ok(video_done(out, &spec, seq))
                });
                encoded.await?
            }
            (RenditionSpec::Video { rung }, Some(_)) => {
                let source = shared.stores.sources.get(&task.source_key).await?;
                let rung = rung.clone();
                on_cpu(move || Ok(video_done(fixed_time_stand_in(&source, seq, &rung)?, &spec, seq))).await?
            }
            (RenditionSpec::Audio { track, .. }, _) => {
                let source = shared.stores.sources.get(&task.source_key).await?;
                let track = track.index;
                on_cpu(move || {
                    let out = copy_audio_segment(&source, seq, track)?;
                    let done = audio_done(&out, &spec, seq);
                    Ok((out.fragment, done))
                })
                .await?
            }
            (RenditionSpec::Thumbnails(thumbnails), _) => {
                let source = shared.stores.sources.get(&task.source_key).await?;
                let thumbnails = *thumbnails;
                let ((sprite, poster), done) = on_cpu(move || {
                    let out = thumbnail_segment(&source, seq, &thumbnails)?;
                    let done = SegmentDone {
                        start: out.start,
                        duration: out.duration,
                        timescale: out.timescale,
                        frames: out.count,
                        width: out.tile.0,
                        height: out.tile.1,
                        codec_string: "jpeg".into(),
                        config: TrackConfig::Jpeg,
                        ..unfinished(&spec, seq)
                    };
                    Ok(((out.sprite, out.poster), done))
                })
                .await?;
                // The poster is stored before the sprite, whose report says both are there.
                if let Some(poster) = poster {
                    shared.stores.outputs.put(&poster_key(&task.output_key), Bytes::from(poster)).await?;
                }
                (sprite, done)
            }
        }
    };
    if let Some(fixed) = shared.config.benchmark_task_time {
        // The benchmark's stand-in encoder takes exactly this long.
        tokio::time::sleep(fixed.saturating_sub(began.elapsed())).await;
    }
    let done = SegmentDone { queued_at_ms: task.published_at_ms, started_at_ms, ..done };
    let key_frame_bytes = match task.rendition {
        RenditionSpec::Video { .. } => tessera_media::cmaf::leading_sync_sample_end(&fragment),
        RenditionSpec::Audio { .. } | RenditionSpec::Thumbnails(_) => None,
    };
    let done = SegmentDone { key: task.output_key.clone(), bytes: fragment.len() as u64, key_frame_bytes, ..done };
    // The keyframe alone (DASH trick mode), stored before the fragment whose report says both are there.
    let key_frame_alone = match task.rendition {
        RenditionSpec::Video { .. } if task.key_frame_fragment => tessera_media::cmaf::key_frame_fragment(&fragment),
        _ => None,
    };
    let done = SegmentDone { key_frame_fragment_bytes: key_frame_alone.as_ref().map(|f| f.len() as u64), ..done };
    if let Some(alone) = key_frame_alone {
        shared.stores.outputs.put(&key_frame_key(&task.output_key), Bytes::from(alone)).await?;
    }
    // Only the tasks asked to report captions carry them in their event.
    let done = if task.report_captions { done } else { SegmentDone { caption_frames: Vec::new(), ..done } };
    // A segment no thumbnail time falls in has no sprite.
    if !fragment.is_empty() {
        shared.stores.outputs.put(&task.output_key, Bytes::from(fragment)).await?;
    }
    Ok(SegmentDone { finished_at_ms: Some(now_ms()), ..done })
}

/// Whether a rung's tasks run in an encode child: SVT-AV1's (see [`crate::encode_child`]).
fn in_child(rung: &Rung) -> bool {
    rung.encoder_kind() == EncoderKind::SvtAv1
}

/// The report of an encoded video segment.
fn video_done(out: RenditionSegment, spec: &RenditionSpec, seq: u32) -> (Vec<u8>, SegmentDone) {
    let done = figures_done(EncodedFigures::of(&out, 0.0), spec, seq);
    (out.fragment, done)
}

/// The report of an encoded video segment from its figures (in this process or an encode child).
pub(crate) fn figures_done(figures: EncodedFigures, spec: &RenditionSpec, seq: u32) -> SegmentDone {
    SegmentDone {
        start: figures.start,
        duration: figures.duration,
        timescale: figures.timescale,
        frames: figures.frames,
        width: figures.width,
        height: figures.height,
        codec_string: figures.codec_string,
        config: figures.config,
        psnr: Some(figures.quality[0]),
        psnr_y: Some(figures.quality[1]),
        ssim: Some(figures.quality[2]),
        cpu_secs: figures.cpu_secs,
        closed_captions: figures.closed_captions,
        caption_frames: figures.caption_frames,
        ..unfinished(spec, seq)
    }
}

/// The report of an audio segment.
pub(crate) fn audio_done(out: &AudioRendition, spec: &RenditionSpec, seq: u32) -> SegmentDone {
    SegmentDone {
        start: out.start,
        duration: out.duration,
        timescale: out.timescale,
        frames: u32::try_from(out.frames).unwrap_or(u32::MAX),
        codec_string: out.config.codec_string(),
        config: TrackConfig::from_aac(&out.config),
        ..unfinished(spec, seq)
    }
}

/// Runs the CPU part of a task on a blocking thread and records its CPU time
/// (scaling and encoding; a shared decode is not counted).
async fn on_cpu<T: Send + 'static>(
    work: impl FnOnce() -> Result<(T, SegmentDone), WorkerError> + Send + 'static,
) -> Result<(T, SegmentDone), WorkerError> {
    tokio::task::spawn_blocking(move || {
        let cpu = cpu_time::ThreadTime::try_now().ok();
        let (fragment, done) = work()?;
        let cpu_secs = cpu.map_or(0.0, |t| t.elapsed().as_secs_f64());
        Ok((fragment, SegmentDone { cpu_secs, ..done }))
    })
    .await
    .map_err(|e| WorkerError::Internal(format!("task thread failed: {e}")))?
}

/// A segment report with the rendition's name and no figures yet.
pub(crate) fn unfinished(rendition: &RenditionSpec, seq: u32) -> SegmentDone {
    SegmentDone::new(&rendition.name(), seq)
}

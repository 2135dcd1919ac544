//! One task, from delivery to settlement: decode it, drop it when its job is
//! cancelled, run it (encode, copy audio or draw thumbnails; SVT-AV1 in an
//! encode child; a low-latency segment in parts), write the fragment to its
//! final key, report a `segment_done` event and ack. Bad input is reported
//! as a permanent failure and acked; a store or bus outage is waited out in
//! place (the task kept alive, no delivery spent) for up to the outage
//! window; anything else is retried with back-off until the bus
//! dead-letters it. A cancel stops a running task at once.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use opentelemetry::KeyValue;
use tessera_core::backoff::Backoff;
use tessera_core::bus::{Delivery, Handler, Settle};
use tessera_core::clock::now_ms;
use tessera_core::telemetry::{self, PastSpan, TraceParent};
use tessera_core::wire::{
    key_frame_key, poster_key, JobEvent, JobEventKind, RenditionSpec, SegmentDone, SegmentFailed, Task, TrackConfig,
    TRACEPARENT,
};
use tessera_core::Rung;
use tessera_media::EncoderKind;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::audio::copy_audio_segment;
use crate::benchmark::fixed_time_stand_in;
use crate::encode_child::{encode_in_child, EncodeRequest};
use crate::error::WorkerError;
use crate::metrics;
use crate::parts::StreamedTask;
use crate::report::{audio_done, figures_done, unfinished, video_done};
use crate::service::Shared;
use crate::thumbnails::thumbnail_segment;
use crate::transcode::transcode_segment;

/// Runs tasks: the [`Handler`] of the task consumers, polled in
/// the service's polling order, `slots` at a time (a slot is never held while waiting
/// for work, so one codec's empty queue cannot starve another's).
pub(crate) struct TaskRunner(pub(crate) Arc<Shared>);

#[async_trait]
impl Handler for TaskRunner {
    async fn handle(&self, delivery: &Delivery, abandon: &CancellationToken) -> Settle {
        handle(&self.0, delivery, abandon).await
    }
}

/// Whether the job is known to be cancelled (never without cancellations).
fn job_cancelled(shared: &Shared, job: &str) -> bool {
    shared.cancels.as_ref().is_some_and(|c| c.is_cancelled(job))
}

/// Returns once the job is cancelled (never without cancellations).
async fn until_cancelled(shared: &Shared, job: &str) {
    match &shared.cancels {
        Some(cancels) => cancels.cancelled(job).await,
        None => std::future::pending().await,
    }
}

/// Runs one delivered task to its ack or nak, in a `task.run` span that is a
/// child of the job's trace (from the task's `traceparent`); its time in the
/// queue is recorded as a `task.queue_wait` span beside it.
async fn handle(shared: &Shared, delivery: &Delivery, abandon: &CancellationToken) -> Settle {
    let received_ms = now_ms();
    let task: Task = match serde_json::from_slice(&delivery.payload) {
        Ok(task) => task,
        Err(e) => {
            // Nothing here can ever run it: fail its job (if it names one) rather
            // than retry, so the job ends instead of waiting for this segment.
            tracing::error!(error = %e, subject = %delivery.subject, "undecodable task");
            fail_unreadable(shared, delivery, &e).await;
            return Settle::Ack;
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
    run_task(shared, delivery, task, abandon).instrument(span).await
}

/// The body of [`handle`], inside the task's span.
async fn run_task(shared: &Shared, delivery: &Delivery, task: Task, abandon: &CancellationToken) -> Settle {
    tracing::debug!(task = %task.id(), delivered = delivery.delivered, "task started");
    let codec = task.rendition.codec().as_str();
    let count = |outcome: &'static str| metrics::task_settled(codec, outcome);
    if job_cancelled(shared, &task.job) {
        tracing::info!(task = %task.id(), "job cancelled: task dropped");
        count("cancelled");
        return Settle::Ack;
    }
    let _running = metrics::InFlight::start();
    let _listed = shared.running.add(&task);
    let started = std::time::Instant::now();
    let outcome = tokio::select! {
        outcome = execute_through_outages(shared, &task) => outcome,
        _ = until_cancelled(shared, &task.job) => {
            tracing::info!(task = %task.id(), "job cancelled: task stopped");
            count("cancelled");
            return Settle::Ack;
        }
        _ = abandon.cancelled() => {
            tracing::info!(task = %task.id(), "shutting down: task handed back");
            count("handed_back");
            return Settle::HandBack;
        }
    };
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
            (JobEventKind::TaskRetry { task: task.id(), reason: reason.clone() }, Settle::Retry(reason))
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
            }
            published => break published,
        }
    };
    match (published, settle) {
        // The event did not go out: let the task run again.
        (Err(e), Settle::Ack) => {
            tracing::warn!(error = %e, task = %task.id(), "could not report the task; it will be retried");
            Settle::RetryAfter(Duration::from_secs(1))
        }
        (_, settle) => settle,
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
    let streamed_task =
        StreamedTask { bus: shared.bus.as_ref(), sources: &shared.stores.sources, outputs: &shared.stores.outputs };
    // A low-latency live segment: source chunks in, parts out as they are coded.
    let (fragment, done) = if let Some(part_secs) = streamed {
        streamed_task.run(task, part_secs, task.frame_rate).await?
    } else {
        match (&task.rendition, shared.config.benchmark_task_time) {
            (RenditionSpec::Video { rung }, None) if in_child(rung) && shared.config.encode_child.is_some() => {
                let source = shared.stores.sources.get(&task.source_key).await?;
                let program = shared.config.encode_child.clone().unwrap_or_default();
                let request = EncodeRequest { seq, rung: rung.clone(), frame_rate: task.frame_rate };
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
                let (rung, frame_rate) = (rung.clone(), task.frame_rate);
                // Decoding streams into scaling and encoding: one span covers the three.
                let encode = tracing::info_span!("encode", codec = rung.codec.as_str(), height = rung.height);
                let encoded = on_cpu(move || {
                    let _entered = encode.enter();
                    let began = std::time::Instant::now();
                    let out = transcode_segment(&source, seq, &rung, frame_rate)?;
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
    rung.encoder_kind(&tessera_media::BuildEncoders) == EncoderKind::SvtAv1
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

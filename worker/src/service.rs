//! The worker service: pulls tasks for its class and codecs, runs each on a
//! blocking thread (one encoder thread per task, `slots` tasks at a time),
//! keeps the task alive with in-progress acks, writes the fragment to its
//! final key, then reports a `segment_done` event and acks. Bad input is
//! reported as a permanent failure and acked; anything else is nak'ed with
//! back-off and retried until the bus dead-letters it.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tessera_core::bus::{Bus, Consumer, Delivery, OutgoingMessage};
use tessera_core::topology::{task_consumer_config, TaskDelivery};
use tessera_core::wire::{
    job_events_subject, JobEvent, JobEventKind, RenditionSpec, SegmentDone, SegmentFailed, Task, TaskCodec,
    TrackConfig, WorkerClass,
};
use tessera_core::Store;
use tessera_media::SpeedPreset;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::audio::copy_audio_segment;
use crate::error::WorkerError;
use crate::transcode::transcode_segment;

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
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            class: WorkerClass::Cpu,
            codecs: TaskCodec::ALL.to_vec(),
            slots: std::thread::available_parallelism().map_or(1, usize::from),
            delivery: TaskDelivery::default(),
            default_speed: SpeedPreset::default(),
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

struct Shared {
    bus: Arc<dyn Bus>,
    stores: WorkerStores,
    config: WorkerConfig,
}

/// Runs a worker until `shutdown` is cancelled; tasks in hand are finished first.
pub async fn run(
    bus: Arc<dyn Bus>,
    stores: WorkerStores,
    config: WorkerConfig,
    shutdown: CancellationToken,
) -> Result<(), WorkerError> {
    tessera_core::topology::ensure_streams(bus.as_ref()).await?;
    let slots = Arc::new(Semaphore::new(config.slots.max(1)));
    let mut pullers = tokio::task::JoinSet::new();
    let shared = Arc::new(Shared { bus: bus.clone(), stores, config: config.clone() });
    for &codec in &config.codecs {
        let consumer = bus
            .consumer(tessera_core::wire::TASKS_STREAM, &task_consumer_config(config.class, codec, config.delivery))
            .await?;
        pullers.spawn(pull(shared.clone(), consumer, slots.clone(), shutdown.clone()));
    }
    while let Some(result) = pullers.join_next().await {
        if let Ok(Err(e)) = result {
            shutdown.cancel();
            return Err(e);
        }
    }
    Ok(())
}

/// One consumer's loop: take a slot, fetch one task, run it in the background.
async fn pull(
    shared: Arc<Shared>,
    consumer: Box<dyn Consumer>,
    slots: Arc<Semaphore>,
    shutdown: CancellationToken,
) -> Result<(), WorkerError> {
    let mut running = tokio::task::JoinSet::new();
    loop {
        let permit = tokio::select! {
            _ = shutdown.cancelled() => break,
            permit = slots.clone().acquire_owned() => permit.map_err(|_| WorkerError::Internal("slots closed".into()))?,
        };
        let fetched = tokio::select! {
            _ = shutdown.cancelled() => break,
            fetched = consumer.fetch(1, Duration::from_millis(500)) => fetched,
        };
        match fetched {
            Ok(mut deliveries) => {
                if let Some(delivery) = deliveries.pop() {
                    let shared = shared.clone();
                    running.spawn(async move {
                        handle(&shared, delivery).await;
                        drop(permit);
                    });
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "fetching tasks failed; retrying");
                drop(permit);
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
        while running.try_join_next().is_some() {}
    }
    while running.join_next().await.is_some() {}
    Ok(())
}

/// Runs one delivered task to its ack or nak.
async fn handle(shared: &Shared, delivery: Delivery) {
    let task: Task = match serde_json::from_slice(&delivery.payload) {
        Ok(task) => task,
        Err(e) => {
            // Nothing can ever run it: drop it rather than retry.
            tracing::error!(error = %e, subject = %delivery.subject, "undecodable task dropped");
            let _ = delivery.ack().await;
            return;
        }
    };
    let delivery = Arc::new(delivery);
    let heartbeat = {
        let delivery = delivery.clone();
        let every = shared.config.delivery.ack_wait / 3;
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                if delivery.in_progress().await.is_err() {
                    break;
                }
            }
        })
    };
    let outcome = execute(shared, &task).await;
    heartbeat.abort();
    let name = task.rendition.name();
    let (event, settle) = match outcome {
        Ok(done) => (JobEventKind::SegmentDone(done), Settle::Ack),
        Err(e) if e.is_bad_input() => {
            let reason = format!("segment {} of {}: {e}", task.seq, name);
            tracing::warn!(task = %task.id(), %reason, "task failed: bad input");
            (
                JobEventKind::SegmentFailed(SegmentFailed { rendition: name, seq: task.seq, reason, bad_input: true }),
                Settle::Ack,
            )
        }
        Err(e) => {
            let reason = format!("segment {} of {}: {e}", task.seq, name);
            tracing::warn!(task = %task.id(), %reason, delivered = delivery.delivered, "task failed; will retry");
            let backoff = Duration::from_secs(u64::from(delivery.delivered.min(30)));
            (JobEventKind::TaskRetry { task: task.id(), reason }, Settle::Nak(backoff))
        }
    };
    let event = JobEvent::new(&task.job, event);
    let published =
        shared.bus.publish(OutgoingMessage::json(job_events_subject(&task.job), event.message_id(), &event)).await;
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

enum Settle {
    Ack,
    Nak(Duration),
}

/// Reads the source segment, produces the rendition segment, writes it.
async fn execute(shared: &Shared, task: &Task) -> Result<SegmentDone, WorkerError> {
    let source = shared.stores.sources.get(&task.source_key).await?;
    let rendition = task.rendition.clone();
    let seq = task.seq;
    let default_speed = shared.config.default_speed;
    let (fragment, mut done) = tokio::task::spawn_blocking(move || produce(&source, seq, &rendition, default_speed))
        .await
        .map_err(|e| WorkerError::Internal(format!("task thread failed: {e}")))??;
    done.key = task.output_key.clone();
    shared.stores.outputs.put(&task.output_key, Bytes::from(fragment)).await?;
    Ok(done)
}

/// The CPU part of a task (runs on a blocking thread).
fn produce(
    source: &[u8],
    seq: u32,
    rendition: &RenditionSpec,
    default_speed: SpeedPreset,
) -> Result<(Vec<u8>, SegmentDone), WorkerError> {
    let cpu = cpu_time::ThreadTime::try_now().ok();
    let cpu_secs = || cpu.map_or(0.0, |t| t.elapsed().as_secs_f64());
    let name = rendition.name();
    match rendition {
        RenditionSpec::Video { rung } => {
            let out = transcode_segment(source, seq, rung, default_speed)?;
            let done = SegmentDone {
                rendition: name,
                seq,
                key: String::new(),
                start: out.start,
                duration: out.duration,
                timescale: out.timescale,
                bytes: out.fragment.len() as u64,
                frames: u32::try_from(out.frames).unwrap_or(u32::MAX),
                width: out.width,
                height: out.height,
                codec_string: out.codec_string,
                config: TrackConfig::from_video(&out.config),
                psnr: Some(out.psnr),
                cpu_secs: cpu_secs(),
            };
            Ok((out.fragment, done))
        }
        RenditionSpec::Audio { .. } => {
            let out = copy_audio_segment(source, seq)?;
            let done = SegmentDone {
                rendition: name,
                seq,
                key: String::new(),
                start: out.start,
                duration: out.duration,
                timescale: out.timescale,
                bytes: out.fragment.len() as u64,
                frames: u32::try_from(out.frames).unwrap_or(u32::MAX),
                width: 0,
                height: 0,
                codec_string: out.config.codec_string(),
                config: TrackConfig::from_aac(&out.config),
                psnr: None,
                cpu_secs: cpu_secs(),
            };
            Ok((out.fragment, done))
        }
    }
}

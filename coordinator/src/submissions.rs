//! The coordinator's side of submitted jobs: coordinators share one durable
//! consumer of job submissions; the one that takes a submission copies the
//! source to a local scratch file, segments it and publishes its tasks
//! ([`run_vod_job`]), keeping the submission alive with in-progress acks and
//! acking it at the end. If that coordinator dies (or is stopped), the
//! submission is delivered again and the job is segmented again from the
//! start: segments come out identical and every task, plan and event carries
//! a dedupe id, so nothing is done twice within the bus's dedupe window.

use std::sync::Arc;
use std::time::Duration;

use tessera_core::backoff::Backoff;
use tessera_core::bus::{Bus, DeadLetter, Delivery};
use tessera_core::jobs::{JobBook, JobState, JobSubmission};
use tessera_core::topology::{ingest_consumer_config, ingest_dead_letter_consumer_config};
use tessera_core::wire::{JobEvent, JobEventKind, EVENTS_STREAM, JOBS_STREAM};
use tessera_core::Store;
use tessera_media::Limits;
use tokio_util::sync::CancellationToken;

use crate::error::CoordinatorError;
use crate::vod::{run_vod_job, VodJobSpec};
use tessera_core::telemetry::{self, TraceParent};
use tracing::Instrument;

/// How often a running job's record is checked for a cancellation.
const CANCEL_POLL: Duration = Duration::from_secs(1);

/// What segmenting jobs needs.
#[derive(Clone)]
pub struct Segmenting {
    /// The bus.
    pub bus: Arc<dyn Bus>,
    /// Holds uploads, sources and outputs.
    pub store: Store,
    /// Job records.
    pub jobs: JobBook,
    /// Input limits.
    pub limits: Limits,
    /// Jobs segmented at once by this coordinator.
    pub slots: usize,
    /// Where uploads are cut.
    pub cutter: crate::cutting::Cutter,
    /// How long segmenting rides out a store or bus outage in place.
    pub outage_window: std::time::Duration,
    /// Counters.
    pub metrics: crate::metrics::Metrics,
}

/// Takes job submissions and segments them until `shutdown`; on shutdown the
/// submissions in hand are nak'ed so another coordinator takes them at once.
pub async fn run(segmenting: Segmenting, shutdown: CancellationToken) -> Result<(), CoordinatorError> {
    let config = ingest_consumer_config();
    let Some(consumer) = crate::service::open_consumer(segmenting.bus.as_ref(), JOBS_STREAM, &config, &shutdown).await
    else {
        return Ok(());
    };
    let dead = tokio::spawn(fail_dead_letters(segmenting.bus.clone(), shutdown.clone()));
    let slots = Arc::new(tokio::sync::Semaphore::new(segmenting.slots.max(1)));
    let mut running = tokio::task::JoinSet::new();
    loop {
        while running.try_join_next().is_some() {}
        let permit = tokio::select! {
            _ = shutdown.cancelled() => break,
            permit = slots.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let fetched = tokio::select! {
            _ = shutdown.cancelled() => break,
            fetched = consumer.fetch(1, Duration::from_secs(1)) => fetched,
        };
        match fetched {
            Ok(mut deliveries) => {
                if let Some(delivery) = deliveries.pop() {
                    let (segmenting, shutdown) = (segmenting.clone(), shutdown.clone());
                    running.spawn(async move {
                        segment(&segmenting, delivery, &shutdown).await;
                        drop(permit);
                    });
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "fetching job submissions failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
    while running.join_next().await.is_some() {}
    dead.await.map_err(|e| CoordinatorError::Internal(format!("dead-letter task: {e}")))?
}

/// Segments one submitted job and settles its submission.
async fn segment(segmenting: &Segmenting, delivery: Delivery, shutdown: &CancellationToken) {
    let submission: JobSubmission = match serde_json::from_slice(&delivery.payload) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "unreadable job submission dropped");
            let _ = delivery.ack().await;
            return;
        }
    };
    let job = submission.job.clone();
    match segmenting.jobs.get(&job).await {
        Ok(Some((record, _))) if record.state.is_terminal() => {
            tracing::info!(%job, state = record.state.as_str(), "submission of an ended job dropped");
            let _ = delivery.ack().await;
            return;
        }
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(%job, error = %e, "cannot read the job record; will retry");
            let _ = delivery.nak(Some(Duration::from_secs(2))).await;
            return;
        }
    }
    tracing::info!(%job, attempt = delivery.delivered, "segmenting");
    let delivery = Arc::new(delivery);
    let cancel = CancellationToken::new();
    let watch = tokio::spawn(keep_alive(segmenting.jobs.clone(), job.clone(), delivery.clone(), cancel.clone()));
    let counted = segmenting.metrics.segmenting();
    let span = tracing::info_span!(
        "job.segment",
        %job,
        attempt = delivery.delivered,
        trace_id = TraceParent::trace_hex_of(submission.traceparent.as_deref()),
    );
    telemetry::adopt(&span, submission.traceparent.as_deref());
    let outcome = tokio::select! {
        outcome = run_submission(segmenting, &submission, &cancel).instrument(span) => Some(outcome),
        _ = shutdown.cancelled() => None,
    };
    drop(counted);
    watch.abort();
    let settled = match outcome {
        None => {
            tracing::info!(%job, "stopping: the job goes back to the queue");
            delivery.nak(None).await
        }
        Some(Ok(())) => {
            tracing::info!(%job, "every task published");
            delivery.ack().await
        }
        Some(Err(CoordinatorError::Cancelled)) => delivery.ack().await,
        // Bad input: `run_vod_job` published the failure; nothing to retry.
        Some(Err(e)) if e.is_bad_input() => delivery.ack().await,
        Some(Err(e)) if delivery.delivered >= ingest_consumer_config().max_deliver => {
            tracing::error!(%job, error = %e, "segmenting failed for the last time");
            let reason = format!("segmenting failed {} times; last error: {e}", delivery.delivered);
            match fail_job(segmenting.bus.as_ref(), &job, reason).await {
                Ok(()) => delivery.ack().await,
                Err(e) => Err(e),
            }
        }
        Some(Err(e)) => {
            tracing::warn!(%job, error = %e, "segmenting failed; will retry");
            delivery.nak(Some(Duration::from_secs(u64::from(delivery.delivered) * 2))).await
        }
    };
    if let Err(e) = settled {
        tracing::warn!(%job, error = %e, "could not settle the submission; it will be delivered again");
    }
}

/// Publishes a job's `failed` event (not bad input: the environment failed).
async fn fail_job(bus: &dyn Bus, job: &str, reason: String) -> Result<(), tessera_core::bus::BusError> {
    bus.publish(JobEvent::new(job, JobEventKind::Failed { reason, bad_input: false }).to_message()).await?;
    Ok(())
}

/// Fails the jobs whose submissions ran out of deliveries (their
/// coordinators kept dying or stopping while segmenting them), so no job
/// waits for ever in `queued` or `running`.
async fn fail_dead_letters(bus: Arc<dyn Bus>, shutdown: CancellationToken) -> Result<(), CoordinatorError> {
    let config = ingest_dead_letter_consumer_config();
    let Some(consumer) = crate::service::open_consumer(bus.as_ref(), EVENTS_STREAM, &config, &shutdown).await else {
        return Ok(());
    };
    loop {
        let fetched = tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            fetched = consumer.fetch(16, Duration::from_secs(1)) => fetched,
        };
        let deliveries = match fetched {
            Ok(deliveries) => deliveries,
            Err(e) => {
                tracing::warn!(error = %e, "fetching dead submissions failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        for delivery in deliveries {
            let letter = serde_json::from_slice::<DeadLetter>(&delivery.payload).ok();
            let submission = letter.as_ref().and_then(|l| serde_json::from_str::<JobSubmission>(&l.payload).ok());
            let settled = match (letter, submission) {
                (Some(letter), Some(submission)) => {
                    let reason = format!(
                        "segmenting was started {} times and never finished (coordinators stopped or crashed)",
                        letter.deliveries
                    );
                    tracing::error!(job = %submission.job, %reason, "job failed");
                    match fail_job(bus.as_ref(), &submission.job, reason).await {
                        Ok(()) => delivery.ack().await,
                        Err(_) => delivery.nak(Some(Duration::from_secs(1))).await,
                    }
                }
                _ => delivery.ack().await,
            };
            if let Err(e) = settled {
                tracing::warn!(error = %e, "could not settle a dead submission");
            }
        }
    }
}

/// Sends in-progress acks and cancels `cancel` when the job's record says cancelled.
async fn keep_alive(jobs: JobBook, job: String, delivery: Arc<Delivery>, cancel: CancellationToken) {
    let every = ingest_consumer_config().ack_wait / 3;
    let mut last_ack = tokio::time::Instant::now();
    loop {
        tokio::time::sleep(CANCEL_POLL).await;
        if let Ok(Some((record, _))) = jobs.get(&job).await {
            if record.state == JobState::Cancelled {
                cancel.cancel();
                return;
            }
        }
        if last_ack.elapsed() >= every {
            let _ = delivery.in_progress().await;
            last_ack = tokio::time::Instant::now();
        }
    }
}

/// Copies the source to a scratch file and runs the job on it.
async fn run_submission(
    segmenting: &Segmenting,
    submission: &JobSubmission,
    cancel: &CancellationToken,
) -> Result<(), CoordinatorError> {
    let spec = VodJobSpec {
        job: submission.job.clone(),
        ladder: submission.ladder.clone(),
        segment_duration: submission.segment_duration,
        speed: submission.speed,
        output_prefix: submission.output_prefix.clone(),
        class: submission.class,
        limits: segmenting.limits,
        traceparent: submission.traceparent.clone(),
        cutter: segmenting.cutter.clone(),
        outage_window: segmenting.outage_window,
        submitted_at_ms: submission.submitted_at_ms,
        thumbnail_interval_secs: submission.thumbnail_interval_secs,
        audio_languages: submission.audio_languages.clone(),
        subtitles: submission.subtitles.clone(),
    };
    let scratch = tempfile::NamedTempFile::new()
        .map_err(|e| CoordinatorError::Internal(format!("cannot create a scratch file: {e}")))?;
    let mut backoff = Backoff::new(segmenting.outage_window);
    let copied = loop {
        match segmenting.store.get_to_file(&submission.source_key, scratch.path()).await {
            Err(e) if e.is_transient() && backoff.wait().await => {
                tracing::warn!(job = %submission.job, error = %e, "cannot read the upload yet; retrying");
            }
            copied => break copied,
        }
    };
    if let Err(e) = copied {
        let e = CoordinatorError::Store(e);
        if e.is_bad_input() {
            let reason = format!("source: {e}");
            let event = JobEvent::new(&submission.job, JobEventKind::Failed { reason, bad_input: true });
            segmenting.bus.publish(event.to_message()).await?;
        }
        return Err(e);
    }
    // The scratch file lives (and is deleted) here, after the job's cutting ends.
    run_vod_job(segmenting.bus.as_ref(), &segmenting.store, &spec, scratch.path().to_path_buf(), cancel).await?;
    Ok(())
}

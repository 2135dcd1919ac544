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

use crate::records::jobs::JobBook;
use async_trait::async_trait;
use tessera_core::backoff::Backoff;
use tessera_core::bus::{serve, Bus, DeadLetter, Delivery, Handler, Serve, Settle};
use tessera_core::cancel::Cancellations;
use tessera_core::topology::{submissions_consumer_config, submissions_dead_letter_consumer_config};
use tessera_core::wire::JobSubmission;
use tessera_core::wire::{JobEvent, JobEventKind, EVENTS_STREAM, JOBS_STREAM};
use tessera_core::Store;
use tessera_media::Limits;
use tokio_util::sync::CancellationToken;

use crate::error::CoordinatorError;
use crate::vod::{run_vod_job, VodJobSpec};
use tessera_core::telemetry::{self, TraceParent};
use tracing::Instrument;

/// What segmenting jobs needs.
#[derive(Clone)]
pub struct Segmenting {
    /// The bus.
    pub bus: Arc<dyn Bus>,
    /// Holds uploads, sources and outputs.
    pub store: Store,
    /// Job records.
    pub jobs: JobBook,
    /// Cancelled jobs: segmenting stops at a cancel.
    pub cancels: Cancellations,
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
/// submissions in hand are handed back so another coordinator takes them at once.
pub async fn run(segmenting: Segmenting, shutdown: CancellationToken) -> Result<(), CoordinatorError> {
    let bus = segmenting.bus.clone();
    let dead = {
        let (bus, shutdown, failer) = (bus.clone(), shutdown.clone(), Arc::new(DeadSubmissions(bus.clone())));
        tokio::spawn(async move {
            let config = submissions_dead_letter_consumer_config();
            serve(bus.as_ref(), EVENTS_STREAM, &[config], Serve::in_order(16), &shutdown, failer).await
        })
    };
    let slots = segmenting.slots.max(1);
    let segmenter = Arc::new(Segmenter(segmenting));
    let config = submissions_consumer_config();
    serve(bus.as_ref(), JOBS_STREAM, &[config], Serve::concurrent(slots, Duration::ZERO), &shutdown, segmenter).await?;
    Ok(dead.await.map_err(|e| CoordinatorError::Internal(format!("dead-letter task: {e}")))??)
}

/// Segments submitted jobs: the [`Handler`] of the submissions consumer.
struct Segmenter(Segmenting);

#[async_trait]
impl Handler for Segmenter {
    async fn handle(&self, delivery: &Delivery, abandon: &CancellationToken) -> Settle {
        segment(&self.0, delivery, abandon).await
    }

    /// Segmenting failed on its last delivery: the job fails (its coordinator is not to blame).
    async fn gave_up(&self, delivery: &Delivery, reason: &str) -> Settle {
        let Ok(submission) = serde_json::from_slice::<JobSubmission>(&delivery.payload) else { return Settle::Ack };
        let reason = format!("segmenting failed {} times; last error: {reason}", delivery.delivered);
        match fail_job(self.0.bus.as_ref(), &submission.job, reason).await {
            Ok(()) => Settle::Ack,
            // The bus dead-letters it, and the dead-letter consumer fails the job.
            Err(e) => Settle::Retry(format!("could not fail the job: {e}")),
        }
    }
}

/// Segments one submitted job.
async fn segment(segmenting: &Segmenting, delivery: &Delivery, abandon: &CancellationToken) -> Settle {
    let submission: JobSubmission = match serde_json::from_slice(&delivery.payload) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "unreadable job submission dropped");
            return Settle::Ack;
        }
    };
    let job = submission.job.clone();
    match segmenting.jobs.get(&job).await {
        Ok(Some((record, _))) if record.state.is_terminal() => {
            tracing::info!(%job, state = record.state.as_str(), "submission of an ended job dropped");
            return Settle::Ack;
        }
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(%job, error = %e, "cannot read the job record; will retry");
            return Settle::RetryAfter(Duration::from_secs(2));
        }
    }
    tracing::info!(%job, attempt = delivery.delivered, "segmenting");
    let cancel = CancellationToken::new();
    let watch = {
        let (cancels, job, cancel) = (segmenting.cancels.clone(), job.clone(), cancel.clone());
        tokio::spawn(async move {
            cancels.cancelled(&job).await;
            cancel.cancel();
        })
    };
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
        _ = abandon.cancelled() => None,
    };
    drop(counted);
    watch.abort();
    match outcome {
        None => {
            tracing::info!(%job, "stopping: the job goes back to the queue");
            Settle::HandBack
        }
        Some(Ok(())) => {
            tracing::info!(%job, "every task published");
            Settle::Ack
        }
        Some(Err(CoordinatorError::Cancelled)) => Settle::Ack,
        // Bad input: `run_vod_job` published the failure; nothing to retry.
        Some(Err(e)) if e.is_bad_input() => Settle::Ack,
        Some(Err(e)) => Settle::Retry(format!("segmenting job {job} failed: {e}")),
    }
}

/// Publishes a job's `failed` event (not bad input: the environment failed).
async fn fail_job(bus: &dyn Bus, job: &str, reason: String) -> Result<(), tessera_core::bus::BusError> {
    bus.publish(JobEvent::new(job, JobEventKind::Failed { reason, bad_input: false }).to_message()).await?;
    Ok(())
}

/// Fails the jobs whose submissions ran out of deliveries (their
/// coordinators kept dying or stopping while segmenting them), so no job
/// waits for ever in `queued` or `running`: the [`Handler`] of the
/// submissions' dead letters.
struct DeadSubmissions(Arc<dyn Bus>);

#[async_trait]
impl Handler for DeadSubmissions {
    async fn handle(&self, delivery: &Delivery, _abandon: &CancellationToken) -> Settle {
        let letter = serde_json::from_slice::<DeadLetter>(&delivery.payload).ok();
        let Some((letter, submission)) = letter.and_then(|l| l.message::<JobSubmission>().ok().map(|s| (l, s))) else {
            return Settle::Ack;
        };
        let reason = format!(
            "segmenting was started {} times and never finished (coordinators stopped or crashed)",
            letter.deliveries
        );
        tracing::error!(job = %submission.job, %reason, "job failed");
        match fail_job(self.0.as_ref(), &submission.job, reason).await {
            Ok(()) => Settle::Ack,
            Err(_) => Settle::RetryAfter(Duration::from_secs(1)),
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

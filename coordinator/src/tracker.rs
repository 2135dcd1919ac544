//! Job records follow job events: coordinators share one durable consumer of
//! every job's events and fold each into its job's record (revision-checked,
//! idempotent, so any number of coordinators and any redelivery are safe).
//! When a record reaches an end state its webhook is sent.

use std::sync::Arc;
use std::time::Duration;

use crate::records::jobs::{JobBook, JobRecord, JobState, WebhookDelivery};
use async_trait::async_trait;
use opentelemetry::KeyValue;
use tessera_core::backoff::Backoff;
use tessera_core::bus::{serve, Bus, Delivery, Handler, Serve, Settle};
use tessera_core::cancel::Cancellations;
use tessera_core::kv::KvError;
use tessera_core::kv::RecordError;
use tessera_core::telemetry::{self, PastSpan, TraceParent};
use tessera_core::topology::tracker_consumer_config;
use tessera_core::wire::{JobEvent, JobEventKind, EVENTS_STREAM};
use tessera_core::Store;
use tokio_util::sync::CancellationToken;

use crate::error::CoordinatorError;
use crate::metrics::Metrics;
use crate::webhook;

/// What following events needs.
#[derive(Clone)]
pub struct Tracking {
    /// The bus.
    pub bus: Arc<dyn Bus>,
    /// Job records.
    pub jobs: JobBook,
    /// Cancelled jobs: every `cancelled` event is signalled there too (a
    /// cancel whose signal did not get through, or sent by an older coordinator).
    pub cancels: Cancellations,
    /// HTTP client for webhooks.
    pub http: reqwest::Client,
    /// Webhook signing secret.
    pub webhook_secret: Arc<Vec<u8>>,
    /// Where webhooks may go (checked again before each delivery).
    pub webhook_policy: Arc<crate::webhook_policy::WebhookPolicy>,
    /// How long cleaning up an ended job's source segments rides out a store outage.
    pub outage_window: Duration,
    /// Counters.
    pub metrics: Metrics,
    /// The store (source segments of ended jobs are removed).
    pub store: Store,
}

/// Folds events into job records until `shutdown`.
pub async fn run(tracking: Tracking, shutdown: CancellationToken) -> Result<(), CoordinatorError> {
    resend_pending_webhooks(&tracking).await;
    let bus = tracking.bus.clone();
    let tracker = Arc::new(Tracker(tracking));
    Ok(serve(bus.as_ref(), EVENTS_STREAM, &[tracker_consumer_config()], Serve::in_order(256), &shutdown, tracker)
        .await?)
}

/// The tracker's [`Handler`]: one event into its job's record.
struct Tracker(Tracking);

#[async_trait]
impl Handler for Tracker {
    async fn handle(&self, delivery: &Delivery, _abandon: &CancellationToken) -> Settle {
        track(&self.0, delivery).await
    }
}

async fn track(tracking: &Tracking, delivery: &Delivery) -> Settle {
    let Ok(event) = serde_json::from_slice::<JobEvent>(&delivery.payload) else {
        tracing::warn!(subject = %delivery.subject, "undecodable job event ignored");
        return Settle::Ack;
    };
    // Parts of low-latency segments change nothing in a job record (their
    // segments do): no record read for the several a second a broadcast sends.
    if matches!(event.kind, JobEventKind::PartDone(_)) {
        return Settle::Ack;
    }
    if matches!(event.kind, JobEventKind::Cancelled { .. }) {
        if let Err(e) = tracking.cancels.cancel(&event.job).await {
            return Settle::Retry(format!("could not signal the cancel of job {}: {e}", event.job));
        }
    }
    let mut ended = false;
    // The bucket may be electing a leader or restarting: wait it out in place
    // rather than spend the event's deliveries (a lost event is a job whose
    // progress never completes).
    let mut backoff = Backoff::new(tracking.outage_window);
    let updated = loop {
        let updated = tracking
            .jobs
            .update(&event.job, |record| {
                let changed = record.apply(&event.kind);
                ended = changed && record.state.is_terminal();
                changed
            })
            .await;
        match updated {
            Err(RecordError::Kv(KvError::Connection(e))) if backoff.wait().await => {
                tracing::warn!(job = %event.job, error = %e, "job records unavailable; retrying");
            }
            updated => break updated,
        }
    };
    // The end event itself (not any late event) triggers the webhook; a
    // cancellation is written by the API before its event arrives here.
    let ending_event = matches!(
        event.kind,
        JobEventKind::Packaged { .. } | JobEventKind::Failed { .. } | JobEventKind::Cancelled { .. }
    );
    match updated {
        // A segment report that overtook its plan (redelivered plan, several
        // coordinators): wait for the plan so that it is counted.
        Ok(record)
            if matches!(event.kind, JobEventKind::SegmentDone(_))
                && record.renditions.is_empty()
                && !record.state.is_terminal() =>
        {
            Settle::RetryAfter(Duration::from_millis(500))
        }
        Ok(record) => {
            if ended {
                tracing::info!(job = %event.job, state = record.state.as_str(), "job ended");
                tracking.metrics.job_ended(record.state.as_str());
            }
            // The event that ended the job records its span; a cancel is written
            // by the API first, so its event records it (again for a repeated DELETE).
            let cancel = matches!(event.kind, JobEventKind::Cancelled { .. }) && record.state == JobState::Cancelled;
            if ended || cancel {
                record_job_span(&record);
            }
            if ending_event && record.state.is_terminal() {
                // Source segments are scratch: nothing reads them once the job ended.
                let (store, job, window) = (tracking.store.clone(), event.job.clone(), tracking.outage_window);
                tokio::spawn(async move { remove_sources(&store, &job, window).await });
            }
            let pending = record.webhook.as_ref().is_some_and(|h| h.delivery == WebhookDelivery::Pending);
            if ending_event && record.state.is_terminal() && pending {
                send_webhook(tracking, record);
            }
            Settle::Ack
        }
        // Jobs not submitted through the API (e.g. `tessera transcode` on a shared bus) have no record.
        Err(RecordError::NotFound(_)) => Settle::Ack,
        Err(e) => Settle::Retry(format!("could not update the record of job {}: {e}", event.job)),
    }
}

/// Records the job's own span, from submission to its end, with the span id
/// every other span of the job names as its parent.
fn record_job_span(record: &JobRecord) {
    let Some(job) = record.submission.traceparent.as_deref().and_then(TraceParent::parse) else { return };
    let (done, total) = record.progress();
    telemetry::record_span(PastSpan {
        name: "job",
        id: Some(job),
        parent: record.submission.request_traceparent.as_deref().and_then(TraceParent::parse),
        start_ms: record.created_at_ms,
        end_ms: record.updated_at_ms,
        attributes: vec![
            KeyValue::new("job", record.id().to_string()),
            KeyValue::new("state", record.state.as_str()),
            KeyValue::new("tasks.done", i64::try_from(done).unwrap_or(i64::MAX)),
            KeyValue::new("tasks.total", i64::try_from(total).unwrap_or(i64::MAX)),
            KeyValue::new("renditions", i64::try_from(record.renditions.len()).unwrap_or(i64::MAX)),
        ],
        error: record.error.as_ref().map(|e| e.reason.as_str()),
    });
}

/// Deletes an ended job's source segments (`sources/{job}/`), waiting out a
/// store outage (whatever the job's outcome, nothing of it is left behind).
async fn remove_sources(store: &Store, job: &str, outage_window: Duration) {
    let mut backoff = Backoff::new(outage_window);
    loop {
        match delete_sources(store, job).await {
            Ok(removed) => {
                tracing::debug!(%job, segments = removed, "source segments removed");
                return;
            }
            Err(e) if e.is_transient() && backoff.wait().await => {
                tracing::warn!(%job, error = %e, "cannot remove the job's source segments yet; retrying");
            }
            Err(e) => {
                tracing::warn!(%job, error = %e, "source segments left behind");
                return;
            }
        }
    }
}

async fn delete_sources(store: &Store, job: &str) -> Result<usize, tessera_core::StoreError> {
    let keys = store.list(&format!("sources/{job}")).await?;
    for key in &keys {
        store.delete(key).await?;
    }
    Ok(keys.len())
}

/// Delivers an ended job's webhook in the background.
fn send_webhook(tracking: &Tracking, record: JobRecord) {
    let tracking = tracking.clone();
    tokio::spawn(async move {
        let Tracking { http, webhook_policy, jobs, webhook_secret, .. } = &tracking;
        webhook::deliver(http, webhook_policy, jobs, webhook_secret, &record).await;
    });
}

/// Sends webhooks of jobs that ended while no coordinator could send them.
async fn resend_pending_webhooks(tracking: &Tracking) {
    let ids = match tracking.jobs.ids().await {
        Ok(ids) => ids,
        Err(e) => {
            tracing::warn!(error = %e, "cannot list jobs to resend webhooks");
            return;
        }
    };
    for id in ids {
        let Ok(Some((record, _))) = tracking.jobs.get(&id).await else { continue };
        let pending = record.webhook.as_ref().is_some_and(|h| h.delivery == WebhookDelivery::Pending);
        if record.state.is_terminal() && pending {
            send_webhook(tracking, record);
        }
    }
}

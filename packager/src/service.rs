//! The packager service: consumes every job event, keeps a [`JobAssembly`]
//! per running job, clears stale manifests when a job is planned, writes
//! the package when the last task is done and publishes `packaged`, or
//! publishes `failed` with the first failing segment's reason. Tasks that
//! ran out of deliveries arrive as dead letters and fail their job.
//!
//! A job first seen by an event other than its plan (after a restart, when
//! its state is gone) is rebuilt from the events stream's history of that
//! job and the dead letters, so events acked before a restart are not lost.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use tessera_core::backoff::Backoff;
use tessera_core::bus::{serve, Bus, DeadLetter, Delivery, Handler, Serve, Settle};
use tessera_core::clock::now_ms;
use tessera_core::telemetry::{self, TraceParent};
use tessera_core::topology::{ensure_streams, packager_consumer_config};
use tessera_core::wire::{
    is_dead_letter_subject, job_events_subject, output_key, JobEvent, JobEventKind, Playable, Task,
    DEAD_LETTER_SUBJECTS, EVENTS_STREAM, TRACEPARENT,
};
use tessera_core::Store;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::error::PackagerError;
use crate::init::init_of;
use crate::job::{JobAssembly, Step};
use crate::live::LiveJob;
use crate::progressive::Progressive;
use crate::vod::{clear_manifests, package_vod};

/// Ended jobs remembered (to ignore their late events) before the oldest are forgotten.
const ENDED_MEMORY: usize = 100_000;

/// A job being followed: VOD (with what of it already plays), or a live broadcast.
enum Tracked {
    Vod(Box<(JobAssembly, Progressive)>),
    Live(Box<LiveJob>),
}

impl Tracked {
    /// The job's first event decides what it is.
    fn first(kind: &JobEventKind) -> Self {
        match kind {
            JobEventKind::LivePlanned(plan) => Tracked::Live(Box::new(LiveJob::new(plan.clone()))),
            _ => Tracked::vod(),
        }
    }

    fn vod() -> Self {
        Tracked::Vod(Box::new((JobAssembly::new(), Progressive::new())))
    }

    fn apply(&mut self, kind: &JobEventKind) -> Step {
        match self {
            Tracked::Vod(vod) => vod.0.apply(kind),
            Tracked::Live(live) => live.apply(kind),
        }
    }

    fn assembly(&self) -> &JobAssembly {
        match self {
            Tracked::Vod(vod) => &vod.0,
            Tracked::Live(live) => live.assembly(),
        }
    }

    fn assembly_mut(&mut self) -> &mut JobAssembly {
        match self {
            Tracked::Vod(vod) => &mut vod.0,
            Tracked::Live(live) => live.assembly_mut(),
        }
    }
}

struct Packager {
    bus: Arc<dyn Bus>,
    outputs: Store,
    jobs: HashMap<String, Tracked>,
    ended: HashSet<String>,
    ended_order: VecDeque<String>,
}

/// Runs the packager until `shutdown` is cancelled.
/// A store or bus error is retried in place, with back-off, for up to
/// `outage_window` before the event counts as failed once.
pub async fn run(
    bus: Arc<dyn Bus>,
    outputs: Store,
    outage_window: Duration,
    shutdown: CancellationToken,
) -> Result<(), PackagerError> {
    ensure_streams(bus.as_ref()).await?;
    let packager = Packager {
        bus: bus.clone(),
        outputs,
        jobs: HashMap::new(),
        ended: HashSet::new(),
        ended_order: VecDeque::new(),
    };
    let handler = Arc::new(Packaging { packager: tokio::sync::Mutex::new(packager), outage_window });
    Ok(serve(bus.as_ref(), EVENTS_STREAM, &[packager_consumer_config()], Serve::in_order(64), &shutdown, handler)
        .await?)
}

/// The packager as the [`Handler`] of its events consumer (one event at a
/// time, in order: the lock is never contended).
struct Packaging {
    packager: tokio::sync::Mutex<Packager>,
    outage_window: Duration,
}

#[async_trait]
impl Handler for Packaging {
    async fn handle(&self, delivery: &Delivery, _abandon: &CancellationToken) -> Settle {
        crate::metrics::event();
        let mut packager = self.packager.lock().await;
        let mut backoff = Backoff::new(self.outage_window);
        loop {
            match packager.handle(delivery).await {
                Err(e) if e.is_transient() && backoff.wait().await => {
                    tracing::warn!(error = %e, subject = %delivery.subject, "store or bus unavailable; retrying");
                }
                Ok(()) => return Settle::Ack,
                Err(e) => return Settle::Retry(format!("packaging {}: {e}", delivery.subject)),
            }
        }
    }

    /// Out of retries: the job must end, not wait for an event that will not come again.
    async fn gave_up(&self, delivery: &Delivery, reason: &str) -> Settle {
        self.packager.lock().await.give_up(delivery, reason).await;
        Settle::Ack
    }
}

impl Packager {
    async fn handle(&mut self, delivery: &Delivery) -> Result<(), PackagerError> {
        if is_dead_letter_subject(&delivery.subject) {
            let Ok(letter) = serde_json::from_slice::<DeadLetter>(&delivery.payload) else { return Ok(()) };
            let Ok(task) = letter.message::<Task>() else { return Ok(()) };
            if self.ended.contains(&task.job) {
                return Ok(());
            }
            self.rebuild_if_unknown(&task.job).await?;
            let tracked = self.jobs.entry(task.job.clone()).or_insert_with(Tracked::vod);
            let step = tracked.assembly_mut().dead_letter(&task, letter.deliveries);
            return self.act(&task.job, step, delivery.header(TRACEPARENT)).await;
        }
        let Ok(event) = serde_json::from_slice::<JobEvent>(&delivery.payload) else {
            tracing::warn!(subject = %delivery.subject, "undecodable event ignored");
            return Ok(());
        };
        if self.ended.contains(&event.job) {
            return Ok(());
        }
        if !matches!(event.kind, JobEventKind::Planned(_) | JobEventKind::LivePlanned(_)) {
            // Seen first mid-job: this packager restarted (a new job starts with its plan).
            self.rebuild_if_unknown(&event.job).await?;
        }
        let tracked = self.jobs.entry(event.job.clone()).or_insert_with(|| Tracked::first(&event.kind));
        let step = tracked.apply(&event.kind);
        match (&event.kind, &step, tracked) {
            (JobEventKind::Planned(plan), Step::Wait, _) => clear_manifests(&self.outputs, plan).await?,
            (JobEventKind::LivePlanned(_), Step::Wait, Tracked::Live(live)) => {
                clear_manifests(&self.outputs, &live.vod_plan(0)).await?;
            }
            (_, Step::Wait, Tracked::Live(live)) => {
                let span = manifest_span(&event.job, "live", delivery.header(TRACEPARENT));
                live.update(&self.outputs, now_ms()).instrument(span).await?;
            }
            (JobEventKind::SegmentDone(_), Step::Wait, Tracked::Vod(vod)) => {
                let (job, progressive) = &mut **vod;
                let span = manifest_span(&event.job, "progressive", delivery.header(TRACEPARENT));
                let published = publish_progress(&self.outputs, job, progressive).instrument(span).await?;
                if let Some(renditions) = published.filter(|_| job.playable().is_none()) {
                    let playable = Playable { renditions, at_ms: now_ms() };
                    tracing::info!(job = %event.job, renditions = ?playable.renditions, "first rendition playable");
                    let event = JobEvent::new(&event.job, JobEventKind::Playable(playable));
                    self.bus.publish(event.to_message()).await?;
                }
            }
            _ => {}
        }
        self.act(&event.job, step, delivery.header(TRACEPARENT)).await
    }

    /// Rebuilds a job not seen before from its stored events and dead
    /// letters (events are applied idempotently, so the ones delivered
    /// afterwards change nothing twice).
    async fn rebuild_if_unknown(&mut self, job_id: &str) -> Result<(), PackagerError> {
        if self.jobs.contains_key(job_id) {
            return Ok(());
        }
        let mut job: Option<Tracked> = None;
        let history = self.bus.history(EVENTS_STREAM, &job_events_subject(job_id)).await?;
        tracing::info!(job = %job_id, events = history.len(), "rebuilt a job from its event history");
        for stored in history {
            if let Ok(event) = serde_json::from_slice::<JobEvent>(&stored.message.payload) {
                job.get_or_insert_with(|| Tracked::first(&event.kind)).apply(&event.kind);
            }
        }
        let mut job = job.unwrap_or_else(Tracked::vod);
        for stored in self.bus.history(EVENTS_STREAM, DEAD_LETTER_SUBJECTS).await? {
            let letter = serde_json::from_slice::<DeadLetter>(&stored.message.payload).ok();
            let task = letter.as_ref().and_then(|l| l.message::<Task>().ok());
            if let (Some(letter), Some(task)) = (letter, task) {
                if task.job == job_id {
                    job.assembly_mut().dead_letter(&task, letter.deliveries);
                }
            }
        }
        self.jobs.insert(job_id.to_string(), job);
        Ok(())
    }

    /// Fails the job of an event that kept failing to package.
    async fn give_up(&mut self, delivery: &Delivery, error: &str) {
        let job = match serde_json::from_slice::<JobEvent>(&delivery.payload) {
            Ok(event) => event.job,
            Err(_) => return,
        };
        let reason = format!("packaging failed after {} attempts: {error}", delivery.delivered);
        let event = JobEvent::new(&job, JobEventKind::Failed { reason, bad_input: false });
        match self.bus.publish(event.to_message()).await {
            Ok(_) => self.forget(&job),
            Err(e) => tracing::error!(error = %e, %job, "could not publish the job's failure"),
        }
    }

    /// Carries out a step; `traceparent` is the job's trace context.
    async fn act(&mut self, job_id: &str, step: Step, traceparent: Option<&str>) -> Result<(), PackagerError> {
        let kind = match step {
            Step::Wait => return Ok(()),
            Step::Ended => {
                self.forget(job_id);
                return Ok(());
            }
            Step::Fail { reason, bad_input } => JobEventKind::Failed { reason, bad_input },
            Step::Package => match self.package(job_id).instrument(manifest_span(job_id, "vod", traceparent)).await {
                Ok(outputs) => JobEventKind::Packaged { outputs },
                Err(e) if e.is_permanent() => {
                    JobEventKind::Failed { reason: format!("packaging failed: {e}"), bad_input: false }
                }
                Err(e) => return Err(e),
            },
        };
        let outcome = if matches!(kind, JobEventKind::Packaged { .. }) { "packaged" } else { "failed" };
        let event = JobEvent::new(job_id, kind);
        self.bus.publish(event.to_message()).await?;
        crate::metrics::job_ended(outcome);
        self.forget(job_id);
        Ok(())
    }

    async fn package(&self, job_id: &str) -> Result<Vec<String>, PackagerError> {
        let tracked = self.jobs.get(job_id).ok_or_else(|| PackagerError::Incomplete(format!("job {job_id}")))?;
        let job = tracked.assembly();
        let plan = job.plan().cloned().ok_or_else(|| PackagerError::Incomplete("no plan".into()))?;
        let finished = job.renditions()?;
        let none = BTreeSet::new();
        let discontinuities = match tracked {
            Tracked::Live(live) => live.discontinuities(),
            Tracked::Vod(..) => &none,
        };
        let (_, outputs) =
            package_vod(&self.outputs, &plan, &finished, discontinuities, job.playable().map(|p| p.at_ms)).await?;
        Ok(outputs)
    }

    fn forget(&mut self, job_id: &str) {
        self.jobs.remove(job_id);
        if self.ended.insert(job_id.to_string()) {
            self.ended_order.push_back(job_id.to_string());
        }
        while self.ended_order.len() > ENDED_MEMORY {
            if let Some(oldest) = self.ended_order.pop_front() {
                self.ended.remove(&oldest);
            }
        }
    }
}

/// Writes what of an unfinished VOD job plays now ([`Progressive`]); the
/// renditions the master playlist lists when this wrote it. What was
/// written counts only once every write succeeded (a failed one is redone
/// when the event is delivered again).
async fn publish_progress(
    outputs: &Store,
    job: &JobAssembly,
    progressive: &mut Progressive,
) -> Result<Option<Vec<String>>, PackagerError> {
    let Some(plan) = job.plan() else { return Ok(None) };
    let mut next = progressive.clone();
    let update = next.update(job, init_of)?;
    for write in update.writes {
        outputs.put(&output_key(&plan.output_prefix, &write.key), Bytes::from(write.bytes)).await?;
    }
    *progressive = next;
    Ok(update.master)
}

/// The `manifest.update` span of a job's manifest writes, a child of the job's trace.
fn manifest_span(job: &str, kind: &'static str, traceparent: Option<&str>) -> tracing::Span {
    let trace_id = TraceParent::trace_hex_of(traceparent);
    let span = tracing::info_span!("manifest.update", %job, kind, trace_id);
    telemetry::adopt(&span, traceparent);
    span
}

//! Job records: what the API reports about a job, kept in the
//! [`JOBS_BUCKET`](tessera_core::wire::JOBS_BUCKET) key-value bucket. A record is
//! created when a job is submitted and then folded forward from the job's
//! events ([`JobRecord::apply`], idempotent, so a redelivered event changes
//! nothing); every write is revision-checked ([`JobBook::update`]) so any
//! number of coordinators can share the bucket.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use tessera_core::clock::now_ms;
use tessera_core::kv::records::{encode_json, get_json, update_json, RecordError};
use tessera_core::kv::KeyValue;
use tessera_core::wire::{JobEventKind, JobSubmission, SourceInfo};

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Submitted; no coordinator has planned it yet.
    Queued,
    /// Planned: segments are being cut and encoded.
    Running,
    /// Every manifest is written.
    Completed,
    /// It failed; see the error.
    Failed,
    /// Cancelled through the API.
    Cancelled,
}

impl JobState {
    /// True for completed, failed and cancelled.
    pub fn is_terminal(self) -> bool {
        matches!(self, JobState::Completed | JobState::Failed | JobState::Cancelled)
    }

    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Completed => "completed",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }
}

/// One rendition's progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenditionProgress {
    /// Rendition name (`h264-720p`, `aac-128k`).
    pub name: String,
    /// Segments it will have.
    pub total: u32,
    /// Segments done (a set, so a repeated event counts once).
    pub done: BTreeSet<u32>,
}

/// Why a job failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobError {
    /// The first failing segment, rendition and reason.
    pub reason: String,
    /// True when the input is at fault.
    pub bad_input: bool,
}

/// Where a completion webhook is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookDelivery {
    /// Not sent yet (or being sent).
    Pending,
    /// The receiver answered 2xx.
    Delivered,
    /// Every attempt failed.
    Failed,
}

/// A job's completion webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Webhook {
    /// Where it is POSTed.
    pub url: String,
    /// Delivery state.
    pub delivery: WebhookDelivery,
    /// Attempts made.
    pub attempts: u32,
    /// The last attempt's error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// Everything known about a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRecord {
    /// The submission.
    pub submission: JobSubmission,
    /// State.
    pub state: JobState,
    /// Milliseconds since the Unix epoch at submission.
    pub created_at_ms: u64,
    /// Milliseconds since the Unix epoch at the last change.
    pub updated_at_ms: u64,
    /// The source, once planned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<SourceInfo>,
    /// Per-rendition progress, once planned.
    #[serde(default)]
    pub renditions: Vec<RenditionProgress>,
    /// The latest transient task failure (retried).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_retry: Option<String>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<JobError>,
    /// When the first rendition became playable while the rest was still
    /// being encoded (ms since the Unix epoch; see [`tessera_core::wire::Playable`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub playable_at_ms: Option<u64>,
    /// Manifest and report keys, once completed.
    #[serde(default)]
    pub outputs: Vec<String>,
    /// Completion webhook, if one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<Webhook>,
}

impl JobRecord {
    /// A queued job.
    pub fn queued(submission: JobSubmission, webhook_url: Option<String>) -> Self {
        let now = now_ms();
        Self {
            submission,
            state: JobState::Queued,
            created_at_ms: now,
            updated_at_ms: now,
            source: None,
            renditions: Vec::new(),
            last_retry: None,
            error: None,
            playable_at_ms: None,
            outputs: Vec::new(),
            webhook: webhook_url.map(|url| Webhook {
                url,
                delivery: WebhookDelivery::Pending,
                attempts: 0,
                last_error: None,
            }),
        }
    }

    /// Job id.
    pub fn id(&self) -> &str {
        &self.submission.job
    }

    /// (tasks done, tasks in all); the total is 0 until the job is planned.
    pub fn progress(&self) -> (u64, u64) {
        self.renditions.iter().fold((0, 0), |(done, total), r| (done + r.done.len() as u64, total + u64::from(r.total)))
    }

    /// Folds one event into the record; returns whether anything changed.
    /// A terminal state never changes again.
    pub fn apply(&mut self, event: &JobEventKind) -> bool {
        if self.state.is_terminal() {
            return false;
        }
        let changed = match event {
            JobEventKind::Planned(plan) => {
                let first = self.state == JobState::Queued || self.source.is_none();
                if first {
                    self.state = JobState::Running;
                    self.source = Some(plan.source.clone());
                    self.renditions = plan
                        .renditions
                        .iter()
                        .map(|r| RenditionProgress { name: r.name(), total: plan.segments, done: BTreeSet::new() })
                        .collect();
                }
                first
            }
            JobEventKind::SegmentDone(done) => {
                self.renditions.iter_mut().find(|r| r.name == done.rendition).is_some_and(|r| r.done.insert(done.seq))
            }
            JobEventKind::Playable(playable) => {
                let first = self.playable_at_ms.is_none();
                self.playable_at_ms.get_or_insert(playable.at_ms);
                first
            }
            JobEventKind::TaskRetry { reason, .. } => {
                let changed = self.last_retry.as_deref() != Some(reason.as_str());
                self.last_retry = Some(reason.clone());
                changed
            }
            JobEventKind::Packaged { outputs } => {
                self.state = JobState::Completed;
                self.outputs = outputs.clone();
                true
            }
            JobEventKind::Failed { reason, bad_input } => {
                self.state = JobState::Failed;
                self.error = Some(JobError { reason: reason.clone(), bad_input: *bad_input });
                true
            }
            JobEventKind::Cancelled { .. } => {
                self.state = JobState::Cancelled;
                true
            }
            JobEventKind::LivePlanned(plan) => {
                let first = self.renditions.is_empty();
                if first {
                    self.state = JobState::Running;
                    self.source = Some(plan.source.clone());
                    self.renditions = plan
                        .renditions
                        .iter()
                        .map(|r| RenditionProgress { name: r.name(), total: 0, done: BTreeSet::new() })
                        .collect();
                }
                first
            }
            // A live job's total grows with every segment cut.
            JobEventKind::LiveSegment(cut) => {
                let mut changed = false;
                for r in &mut self.renditions {
                    if r.total <= cut.seq {
                        r.total = cut.seq + 1;
                        changed = true;
                    }
                }
                changed
            }
            // The packager turns a failed segment into the job's `failed` event;
            // a live job completes when the packager finalizes it.
            JobEventKind::SegmentFailed(_)
            | JobEventKind::LiveEnded { .. }
            | JobEventKind::PartDone(_)
            | JobEventKind::Unknown => false,
        };
        if changed {
            self.updated_at_ms = now_ms();
        }
        changed
    }
}

/// Job records in a key-value bucket, keyed by job id.
#[derive(Clone)]
pub struct JobBook {
    kv: Arc<dyn KeyValue>,
}

impl JobBook {
    /// Records in `kv`.
    pub fn new(kv: Arc<dyn KeyValue>) -> Self {
        Self { kv }
    }

    /// Stores a new record; [`KvError::AlreadyExists`] if the id is taken.
    pub async fn create(&self, record: &JobRecord) -> Result<(), RecordError> {
        self.kv.create(record.id(), encode_json(record)).await?;
        Ok(())
    }

    /// A record and its revision.
    pub async fn get(&self, job: &str) -> Result<Option<(JobRecord, u64)>, RecordError> {
        get_json(self.kv.as_ref(), job).await
    }

    /// Applies `change` to the latest record and writes it back if it
    /// returned true, retrying on revision conflicts. Returns the record as it now stands.
    pub async fn update(
        &self,
        job: &str,
        change: impl FnMut(&mut JobRecord) -> bool + Send,
    ) -> Result<JobRecord, RecordError> {
        update_json(self.kv.as_ref(), job, change).await
    }

    /// Job ids, newest first for server-made ids (they are time-ordered).
    pub async fn ids(&self) -> Result<Vec<String>, RecordError> {
        let mut ids = self.kv.keys().await?;
        ids.sort_unstable_by(|a, b| b.cmp(a));
        Ok(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_core::kv::{KvError, MemoryKv};
    use tessera_core::wire::{AudioTrack, JobPlan, RenditionSpec, SegmentDone, TrackConfig};

    fn record() -> JobRecord {
        let ladder = tessera_core::Ladder::default_for(&[tessera_media::VideoCodec::H264]);
        JobRecord::queued(JobSubmission::new("j1", "uploads/u1", ladder, "outputs/j1"), None)
    }

    fn plan() -> JobPlan {
        JobPlan {
            segments: 2,
            renditions: vec![RenditionSpec::Audio { bitrate_kbps: 128, priming: 0, track: AudioTrack::default() }],
            source: SourceInfo { width: 320, height: 180, frame_rate: 30.0, duration_secs: 4.0, frames: 120 },
            output_prefix: "outputs/j1".into(),
            first: None,
            submitted_at_ms: None,
            subtitles: Vec::new(),
        }
    }

    fn done(seq: u32) -> JobEventKind {
        JobEventKind::SegmentDone(SegmentDone {
            timescale: 48_000,
            codec_string: "mp4a.40.2".into(),
            config: TrackConfig::Aac { asc: vec![0x11, 0x90], channels: 2 },
            ..SegmentDone::new("aac-128k", seq)
        })
    }

    #[test]
    fn events_fold_idempotently_and_terminal_states_stick() {
        let mut r = record();
        assert_eq!(r.progress(), (0, 0));
        assert!(r.apply(&JobEventKind::Planned(plan())));
        assert_eq!(r.state, JobState::Running);
        assert!(!r.apply(&JobEventKind::Planned(plan())), "a repeated plan changes nothing");
        assert!(r.apply(&done(0)));
        assert!(!r.apply(&done(0)), "a redelivered segment counts once");
        assert_eq!(r.progress(), (1, 2));
        assert!(r.apply(&JobEventKind::Cancelled { reason: "api".into() }));
        assert!(!r.apply(&done(1)));
        assert!(!r.apply(&JobEventKind::Packaged { outputs: vec![] }));
        assert_eq!(r.state, JobState::Cancelled);
        assert_eq!(r.progress(), (1, 2));
    }

    #[tokio::test]
    async fn updates_retry_on_conflict_and_ids_are_newest_first() {
        let book = JobBook::new(Arc::new(MemoryKv::new()));
        book.create(&record()).await.unwrap();
        assert!(matches!(book.create(&record()).await, Err(RecordError::Kv(KvError::AlreadyExists(_)))));
        // Two writers interleave: the loser re-reads and applies on top.
        let (_, stale) = book.get("j1").await.unwrap().unwrap();
        book.update("j1", |r| r.apply(&JobEventKind::Planned(plan()))).await.unwrap();
        let mut calls = 0;
        let after = book
            .update("j1", |r| {
                calls += 1;
                r.apply(&done(1))
            })
            .await
            .unwrap();
        assert_eq!(calls, 1);
        assert_eq!(after.progress(), (1, 2));
        assert!(book.get("j1").await.unwrap().unwrap().1 > stale);
        let mut second = record();
        second.submission.job = "j2".into();
        book.create(&second).await.unwrap();
        assert_eq!(book.ids().await.unwrap(), ["j2", "j1"]);
        assert!(matches!(book.update("nope", |_| true).await, Err(RecordError::NotFound(_))));
    }
}

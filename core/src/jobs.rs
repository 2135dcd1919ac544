//! Job records: what the API reports about a job, kept in the
//! [`JOBS_BUCKET`](crate::wire::JOBS_BUCKET) key-value bucket. A record is
//! created when a job is submitted and then folded forward from the job's
//! events ([`JobRecord::apply`], idempotent, so a redelivered event changes
//! nothing); every write is revision-checked ([`JobBook::update`]) so any
//! number of coordinators can share the bucket.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::kv::{KeyValue, KvError};
use crate::ladder::Ladder;
use crate::settings::SegmentDuration;
use crate::wire::{JobEventKind, SourceInfo, WorkerClass, WIRE_VERSION};
use tessera_media::SpeedPreset;

/// A job as submitted: everything a coordinator needs to segment it. It is
/// the body of the job-submission message and part of the job record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobSubmission {
    /// Wire version.
    pub version: u32,
    /// Job id.
    pub job: String,
    /// Key of the source MP4 in the store.
    pub source_key: String,
    /// The ladder (already limited to the requested codecs).
    pub ladder: Ladder,
    /// Target segment duration.
    #[serde(rename = "segment_duration_secs")]
    pub segment_duration: SegmentDuration,
    /// Encoder speed for rungs that name none.
    pub speed: SpeedPreset,
    /// Output prefix in the store (`outputs/{job}` unless given).
    pub output_prefix: String,
    /// Worker class that gets the tasks.
    pub class: WorkerClass,
    /// W3C `traceparent` of the job's span: the parent of every span of the
    /// job, on every task and event; the span itself is recorded when the job ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
    /// The `traceparent` the submitting request came with, if any: the job span's parent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_traceparent: Option<String>,
    /// When the upload was submitted (ms since the Unix epoch): the report
    /// counts the wait for the first playable rendition from here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submitted_at_ms: Option<u64>,
    /// Seconds between seek-bar thumbnails (0: no thumbnails or poster).
    #[serde(default = "default_thumbnail_interval")]
    pub thumbnail_interval_secs: f64,
    /// Audio languages to keep (empty: every audio track of the source).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audio_languages: Vec<String>,
    /// Subtitle files sent with the job, read into WebVTT at submission.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subtitles: Vec<crate::wire::SubtitleTrack>,
}

/// Seconds between thumbnails unless a job says otherwise.
pub const DEFAULT_THUMBNAIL_INTERVAL_SECS: f64 = 2.0;

fn default_thumbnail_interval() -> f64 {
    DEFAULT_THUMBNAIL_INTERVAL_SECS
}

impl JobSubmission {
    /// A current-version submission with default settings.
    pub fn new(job: &str, source_key: &str, ladder: Ladder, output_prefix: &str) -> Self {
        Self {
            version: WIRE_VERSION,
            job: job.to_string(),
            source_key: source_key.to_string(),
            ladder,
            segment_duration: SegmentDuration::default(),
            speed: SpeedPreset::default(),
            output_prefix: output_prefix.to_string(),
            class: WorkerClass::Cpu,
            traceparent: None,
            request_traceparent: None,
            submitted_at_ms: Some(now_ms()),
            thumbnail_interval_secs: DEFAULT_THUMBNAIL_INTERVAL_SECS,
            audio_languages: Vec::new(),
            subtitles: Vec::new(),
        }
    }
}

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
    /// being encoded (ms since the Unix epoch; see [`crate::wire::Playable`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub playable_at_ms: Option<u64>,
    /// Manifest and report keys, once completed.
    #[serde(default)]
    pub outputs: Vec<String>,
    /// Completion webhook, if one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<Webhook>,
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
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

/// Job-record failures.
#[derive(Debug, thiserror::Error)]
pub enum JobBookError {
    /// The bucket failed.
    #[error(transparent)]
    Kv(#[from] KvError),
    /// No such job.
    #[error("job '{0}' not found")]
    NotFound(String),
    /// A stored record cannot be read (written by an incompatible version).
    #[error("job record '{job}' is unreadable: {reason}")]
    Corrupt {
        /// Job id.
        job: String,
        /// The decoding error.
        reason: String,
    },
    /// Others kept changing the record: the update gave up.
    #[error("job '{0}' is changing too often to update")]
    Contended(String),
}

/// Job records in a key-value bucket, keyed by job id.
#[derive(Clone)]
pub struct JobBook {
    kv: Arc<dyn KeyValue>,
}

/// Attempts of a read-modify-write before [`JobBookError::Contended`].
const UPDATE_ATTEMPTS: usize = 50;

/// A record as stored: JSON.
pub(crate) fn encode_json<T: Serialize>(record: &T) -> Bytes {
    // Records are plain data: serializing them cannot fail.
    Bytes::from(serde_json::to_vec(record).unwrap_or_default())
}

/// A JSON record and its revision.
pub(crate) async fn get_json<T: DeserializeOwned>(
    kv: &dyn KeyValue,
    key: &str,
) -> Result<Option<(T, u64)>, JobBookError> {
    let Some(entry) = kv.get(key).await? else { return Ok(None) };
    let record = serde_json::from_slice(&entry.value)
        .map_err(|e| JobBookError::Corrupt { job: key.to_string(), reason: e.to_string() })?;
    Ok(Some((record, entry.revision)))
}

/// Applies `change` to the latest JSON record under `key` and writes it back
/// if it returned true, re-reading and retrying when someone else wrote in
/// between. Returns the record as it now stands. Job and channel records
/// share this.
pub(crate) async fn update_json<T: Serialize + DeserializeOwned>(
    kv: &dyn KeyValue,
    key: &str,
    mut change: impl FnMut(&mut T) -> bool + Send,
) -> Result<T, JobBookError> {
    for _ in 0..UPDATE_ATTEMPTS {
        let (mut record, revision) = get_json(kv, key).await?.ok_or_else(|| JobBookError::NotFound(key.into()))?;
        if !change(&mut record) {
            return Ok(record);
        }
        match kv.update(key, encode_json(&record), revision).await {
            Ok(_) => return Ok(record),
            Err(KvError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(JobBookError::Contended(key.to_string()))
}

impl JobBook {
    /// Records in `kv`.
    pub fn new(kv: Arc<dyn KeyValue>) -> Self {
        Self { kv }
    }

    /// Stores a new record; [`KvError::AlreadyExists`] if the id is taken.
    pub async fn create(&self, record: &JobRecord) -> Result<(), JobBookError> {
        self.kv.create(record.id(), encode_json(record)).await?;
        Ok(())
    }

    /// A record and its revision.
    pub async fn get(&self, job: &str) -> Result<Option<(JobRecord, u64)>, JobBookError> {
        get_json(self.kv.as_ref(), job).await
    }

    /// Applies `change` to the latest record and writes it back if it
    /// returned true, retrying on revision conflicts. Returns the record as it now stands.
    pub async fn update(
        &self,
        job: &str,
        change: impl FnMut(&mut JobRecord) -> bool + Send,
    ) -> Result<JobRecord, JobBookError> {
        update_json(self.kv.as_ref(), job, change).await
    }

    /// Job ids, newest first for server-made ids (they are time-ordered).
    pub async fn ids(&self) -> Result<Vec<String>, JobBookError> {
        let mut ids = self.kv.keys().await?;
        ids.sort_unstable_by(|a, b| b.cmp(a));
        Ok(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kv::MemoryKv;
    use crate::wire::{AudioTrack, JobPlan, RenditionSpec, SegmentDone, TrackConfig};

    fn record() -> JobRecord {
        let ladder = Ladder::default_for(&[tessera_media::VideoCodec::H264]);
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
        assert!(matches!(book.create(&record()).await, Err(JobBookError::Kv(KvError::AlreadyExists(_)))));
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
        assert!(matches!(book.update("nope", |_| true).await, Err(JobBookError::NotFound(_))));
    }
}

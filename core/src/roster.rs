//! The worker roster: every worker writes its status (class, codecs, slots,
//! the tasks it is running) to the `tessera_workers` bucket every few seconds;
//! coordinators read it for `GET /v1/cluster` and the dashboard. A worker that
//! stops cleanly removes its entry; one that dies drops out once its status is
//! older than [`STALE_AFTER`] (and the bucket forgets it after a minute).

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::kv::records::{encode_json, get_json, RecordError};
use crate::kv::{KeyValue, KvError};
use crate::wire::{TaskCodec, WorkerClass};

/// How often a worker writes its status.
pub const HEARTBEAT: Duration = Duration::from_secs(3);

/// A status older than this is a worker that is gone.
pub const STALE_AFTER: Duration = Duration::from_secs(15);

/// How long the bucket keeps a status nobody rewrites.
pub const BUCKET_MAX_AGE: Duration = Duration::from_secs(60);

/// One task a worker is running.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunningTask {
    /// Job id.
    pub job: String,
    /// Segment number.
    pub segment: u32,
    /// Rendition name, e.g. `h264-720p`.
    pub rendition: String,
    /// When the worker took it (ms since the Unix epoch).
    pub started_at_ms: u64,
}

/// What a worker says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerStatus {
    /// Unique per process (host name and a random suffix).
    pub id: String,
    /// Host (pod) name.
    pub host: String,
    /// The class of tasks it takes.
    pub class: WorkerClass,
    /// The codecs it takes tasks for.
    pub codecs: Vec<TaskCodec>,
    /// Tasks it runs at once.
    pub slots: u32,
    /// When it started (ms since the Unix epoch).
    pub started_at_ms: u64,
    /// When it wrote this status (ms since the Unix epoch).
    pub last_seen_ms: u64,
    /// What it is running now.
    pub tasks: Vec<RunningTask>,
}

/// Reads and writes worker statuses.
#[derive(Clone)]
pub struct Roster {
    kv: Arc<dyn KeyValue>,
}

impl Roster {
    /// A roster on a bucket (JetStream's `tessera_workers`, or in memory).
    pub fn new(kv: Arc<dyn KeyValue>) -> Self {
        Self { kv }
    }

    /// Writes a worker's status over whatever it wrote before and returns
    /// the new revision. `last` is the revision of this worker's previous
    /// write: with it a heartbeat is one round trip; without it (or when the
    /// entry expired meanwhile) the entry is read first.
    pub async fn announce(&self, status: &WorkerStatus, last: Option<u64>) -> Result<u64, RecordError> {
        let value = encode_json(status);
        if let Some(revision) = last {
            match self.kv.update(&status.id, value.clone(), revision).await {
                Ok(revision) => return Ok(revision),
                Err(KvError::Conflict(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        // Only its own worker writes a key: a conflict is a write of ours that raced a retry.
        for _ in 0..3 {
            let written = match self.kv.get(&status.id).await? {
                Some(entry) => self.kv.update(&status.id, value.clone(), entry.revision).await,
                None => self.kv.create(&status.id, value.clone()).await,
            };
            match written {
                Ok(revision) => return Ok(revision),
                Err(KvError::Conflict(_) | KvError::AlreadyExists(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(KvError::Conflict(status.id.clone()).into())
    }

    /// Removes a worker that is stopping.
    pub async fn remove(&self, id: &str) -> Result<(), RecordError> {
        Ok(self.kv.delete(id).await?)
    }

    /// Workers seen within [`STALE_AFTER`] of `now_ms`, by id. Unreadable
    /// entries (a newer worker's format) are skipped.
    pub async fn list(&self, now_ms: u64) -> Result<Vec<WorkerStatus>, RecordError> {
        let stale = u64::try_from(STALE_AFTER.as_millis()).unwrap_or(u64::MAX);
        let mut workers = Vec::new();
        for key in self.kv.keys().await? {
            match get_json::<WorkerStatus>(self.kv.as_ref(), &key).await {
                Ok(Some((status, _))) if status.last_seen_ms + stale >= now_ms => workers.push(status),
                Ok(_) => {}
                Err(RecordError::Corrupt { .. }) => tracing::debug!(%key, "unreadable worker status skipped"),
                Err(e) => return Err(e),
            }
        }
        workers.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(workers)
    }
}

/// A roster key for this process: the host name (characters a bucket key
/// cannot hold become `_`) and a random suffix.
pub fn worker_id(host: &str) -> String {
    let host: String = host
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '_' })
        .take(200)
        .collect();
    let suffix = &uuid::Uuid::new_v4().simple().to_string()[..8];
    format!("{host}-{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kv::MemoryKv;

    fn status(id: &str, last_seen_ms: u64) -> WorkerStatus {
        WorkerStatus {
            id: id.into(),
            host: "h".into(),
            class: WorkerClass::Cpu,
            codecs: vec![TaskCodec::H264],
            slots: 2,
            started_at_ms: 0,
            last_seen_ms,
            tasks: Vec::new(),
        }
    }

    #[tokio::test]
    async fn announces_lists_fresh_workers_and_removes() {
        let roster = Roster::new(Arc::new(MemoryKv::new()));
        let first = roster.announce(&status("a", 100_000), None).await.unwrap();
        let mut busy = status("a", 101_000);
        busy.tasks.push(RunningTask { job: "j".into(), segment: 3, rendition: "h264-360p".into(), started_at_ms: 1 });
        let second = roster.announce(&busy, Some(first)).await.unwrap();
        assert!(second > first);
        roster.announce(&status("b", 80_000), None).await.unwrap();
        assert_eq!(roster.list(101_000).await.unwrap(), [busy.clone()], "b is stale");
        // A stale revision (the entry was removed or rewritten) falls back to reading it.
        roster.announce(&busy, Some(first)).await.unwrap();
        assert_eq!(roster.list(101_000).await.unwrap(), [busy.clone()]);
        roster.remove("a").await.unwrap();
        assert!(roster.list(101_000).await.unwrap().is_empty());
        roster.announce(&busy, Some(second)).await.unwrap();
        assert_eq!(roster.list(101_000).await.unwrap(), [busy.clone()], "an expired entry is written again");
        roster.remove("a").await.unwrap();
    }

    #[test]
    fn worker_ids_are_valid_keys() {
        let id = worker_id("pod/with spaces:and*stars");
        assert!(crate::kv::validate_key(&id).is_ok(), "{id}");
        assert!(id.starts_with("pod_with_spaces_and_stars-"));
    }
}

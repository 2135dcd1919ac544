//! This worker's entry in the roster: what it is (host, class, codecs,
//! slots) and the tasks it is running, written every few seconds while it
//! runs and removed when it stops (see `tessera_core::roster`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tessera_core::clock::now_ms;
use tessera_core::roster::{worker_id, Roster, RunningTask, WorkerStatus, HEARTBEAT};
use tessera_core::wire::Task;
use tokio::task::JoinHandle;

use crate::service::WorkerConfig;

/// The tasks this worker runs now, by task id.
#[derive(Debug, Default)]
pub(crate) struct RunningTasks(Mutex<BTreeMap<String, RunningTask>>);

impl RunningTasks {
    /// Lists `task` until the returned guard is dropped.
    pub(crate) fn add(&self, task: &Task) -> Listed<'_> {
        let running = RunningTask {
            job: task.job.clone(),
            segment: task.seq,
            rendition: task.rendition.name(),
            started_at_ms: now_ms(),
        };
        let id = task.id();
        self.lock().insert(id.clone(), running);
        Listed { tasks: self, id }
    }

    fn snapshot(&self) -> Vec<RunningTask> {
        self.lock().values().cloned().collect()
    }

    /// A panic while holding the lock leaves plain data behind: keep using it.
    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, RunningTask>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A task listed as running while alive.
pub(crate) struct Listed<'a> {
    tasks: &'a RunningTasks,
    id: String,
}

impl Drop for Listed<'_> {
    fn drop(&mut self) {
        self.tasks.lock().remove(&self.id);
    }
}

/// The heartbeat keeping this worker's roster entry current.
pub(crate) struct Listing {
    roster: Roster,
    id: String,
    heartbeat: JoinHandle<()>,
}

impl Listing {
    /// Writes the entry now and every [`HEARTBEAT`].
    pub(crate) fn start(roster: Roster, config: &WorkerConfig, running: Arc<RunningTasks>) -> Self {
        let host = std::env::var("HOSTNAME")
            .ok()
            .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "worker".into());
        let mut status = WorkerStatus {
            id: worker_id(&host),
            host,
            class: config.class,
            codecs: config.codecs.clone(),
            slots: u32::try_from(config.slots).unwrap_or(u32::MAX),
            started_at_ms: now_ms(),
            last_seen_ms: 0,
            tasks: Vec::new(),
        };
        let id = status.id.clone();
        let writer = roster.clone();
        let heartbeat = tokio::spawn(async move {
            let mut written = None;
            loop {
                status.last_seen_ms = now_ms();
                status.tasks = running.snapshot();
                match writer.announce(&status, written).await {
                    Ok(revision) => written = Some(revision),
                    Err(e) => tracing::debug!(error = %e, "could not write this worker's status"),
                }
                tokio::time::sleep(HEARTBEAT).await;
            }
        });
        Self { roster, id, heartbeat }
    }

    /// Stops the heartbeat and removes the entry; a bus that is down does
    /// not hold up the exit (the entry then expires by itself).
    pub(crate) async fn stop(self) {
        self.heartbeat.abort();
        match tokio::time::timeout(Duration::from_secs(2), self.roster.remove(&self.id)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::debug!(error = %e, "could not remove this worker from the roster"),
            Err(_) => tracing::debug!("removing this worker from the roster timed out"),
        }
    }
}

#[cfg(test)]
mod tests {
    //! The roster's heartbeat and expiry on tokio's paused clock.

    use tessera_core::clock::follow_tokio_clock;
    use tessera_core::kv::MemoryKv;
    use tessera_core::roster::STALE_AFTER;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_listed_worker_stays_while_it_beats_and_a_vanished_one_expires() {
        follow_tokio_clock();
        let roster = Roster::new(Arc::new(MemoryKv::new()));
        let listed = |now| {
            let roster = roster.clone();
            async move { roster.list(now).await.unwrap().len() }
        };
        let config = WorkerConfig::default();
        let alive = Listing::start(roster.clone(), &config, Arc::default());
        let vanished = Listing::start(roster.clone(), &config, Arc::default());
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(listed(now_ms()).await, 2);
        // A worker killed without removing itself: its heartbeat stops.
        vanished.heartbeat.abort();
        tokio::time::sleep(STALE_AFTER - HEARTBEAT).await;
        assert_eq!(listed(now_ms()).await, 2, "within the stale time");
        tokio::time::sleep(HEARTBEAT * 2).await;
        assert_eq!(listed(now_ms()).await, 1, "the vanished one expired; the beating one stays");
        tokio::time::sleep(Duration::from_secs(3600)).await;
        assert_eq!(listed(now_ms()).await, 1);
        // A worker that stops removes itself at once.
        alive.stop().await;
        assert_eq!(listed(now_ms()).await, 0);
    }
}

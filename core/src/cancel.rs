//! Cancellation as a signal. The API marks a cancelled job with a small key
//! in the [`CANCELLED_BUCKET`](crate::wire::CANCELLED_BUCKET); every process
//! that runs a job's work (worker, segmenting coordinator) follows the bucket
//! with one watch and wakes that job's running tasks at once. Nothing reads
//! a job record to learn of a cancel, and nothing polls.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::watch;

use crate::kv::{KeyValue, KvError};

/// The cancelled jobs, as one process follows them.
#[derive(Clone)]
pub struct Cancellations {
    kv: Arc<dyn KeyValue>,
    seen: watch::Receiver<HashSet<String>>,
    _follower: Arc<Follower>,
}

/// Stops the bucket's watch when the last clone of [`Cancellations`] goes.
struct Follower(tokio::task::JoinHandle<()>);

impl Drop for Follower {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Cancellations {
    /// Follows the cancellations in `kv` from this process, watching it
    /// again a second after a lost watch (the keys already there come first,
    /// so none is missed across a reconnect).
    pub fn follow(kv: Arc<dyn KeyValue>) -> Self {
        let (tx, seen) = watch::channel(HashSet::new());
        let bucket = kv.clone();
        let follower = tokio::spawn(async move {
            loop {
                match bucket.watch_keys().await {
                    Ok(mut keys) => {
                        while let Some(job) = keys.next().await {
                            tx.send_if_modified(|jobs| jobs.insert(job));
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot follow cancellations yet; retrying"),
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        Self { kv, seen, _follower: Arc::new(Follower(follower)) }
    }

    /// Marks `job` cancelled (again is harmless).
    pub async fn cancel(&self, job: &str) -> Result<(), KvError> {
        match self.kv.create(job, Bytes::from_static(b"cancelled")).await {
            Ok(_) | Err(KvError::AlreadyExists(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Whether `job` is known here to be cancelled.
    pub fn is_cancelled(&self, job: &str) -> bool {
        self.seen.borrow().contains(job)
    }

    /// Returns once `job` is cancelled.
    pub async fn cancelled(&self, job: &str) {
        let mut seen = self.seen.clone();
        if seen.wait_for(|jobs| jobs.contains(job)).await.is_err() {
            // The follower is gone (never while a clone lives): no cancel will come.
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kv::MemoryKv;

    #[tokio::test(start_paused = true)]
    async fn a_cancel_wakes_the_jobs_waiters_and_no_other() {
        let kv: Arc<dyn KeyValue> = Arc::new(MemoryKv::new());
        let before = Cancellations::follow(kv.clone());
        before.cancel("early").await.unwrap();
        let cancels = Cancellations::follow(kv);
        let waiting = {
            let cancels = cancels.clone();
            tokio::spawn(async move { cancels.cancelled("j1").await })
        };
        let other = {
            let cancels = cancels.clone();
            tokio::spawn(async move { cancels.cancelled("j2").await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(cancels.is_cancelled("early"), "a cancel made before following is seen");
        assert!(!waiting.is_finished() && !cancels.is_cancelled("j1"));
        before.cancel("j1").await.unwrap();
        before.cancel("j1").await.unwrap();
        tokio::time::timeout(Duration::from_millis(10), waiting).await.expect("woken at once").unwrap();
        assert!(cancels.is_cancelled("j1"));
        assert!(!other.is_finished());
    }
}

//! The in-process key-value bucket.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt};
use tokio::sync::broadcast;

use super::{validate_key, KeyValue, KvEntry, KvError};

/// A bucket in memory (embedded mode and unit tests).
#[derive(Debug)]
pub struct MemoryKv {
    state: Mutex<State>,
    /// Every key written, for [`KeyValue::watch_keys`].
    written: broadcast::Sender<String>,
}

impl Default for MemoryKv {
    fn default() -> Self {
        Self { state: Mutex::default(), written: broadcast::channel(1024).0 }
    }
}

#[derive(Debug, Default)]
struct State {
    entries: HashMap<String, KvEntry>,
    last_revision: u64,
}

impl MemoryKv {
    /// An empty bucket.
    pub fn new() -> Self {
        Self::default()
    }

    fn write(&self, key: &str, value: Bytes, expect: Option<u64>) -> Result<u64, KvError> {
        validate_key(key)?;
        let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let current = state.entries.get(key).map(|e| e.revision);
        match (expect, current) {
            (None, Some(_)) => return Err(KvError::AlreadyExists(key.to_string())),
            (Some(expected), current) if current != Some(expected) => return Err(KvError::Conflict(key.to_string())),
            _ => {}
        }
        state.last_revision += 1;
        let revision = state.last_revision;
        state.entries.insert(key.to_string(), KvEntry { value, revision });
        // No watcher is no error.
        let _ = self.written.send(key.to_string());
        Ok(revision)
    }
}

#[async_trait]
impl KeyValue for MemoryKv {
    async fn get(&self, key: &str) -> Result<Option<KvEntry>, KvError> {
        validate_key(key)?;
        let state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        Ok(state.entries.get(key).cloned())
    }

    async fn create(&self, key: &str, value: Bytes) -> Result<u64, KvError> {
        self.write(key, value, None)
    }

    async fn update(&self, key: &str, value: Bytes, revision: u64) -> Result<u64, KvError> {
        self.write(key, value, Some(revision))
    }

    async fn delete(&self, key: &str) -> Result<(), KvError> {
        validate_key(key)?;
        let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        state.entries.remove(key);
        Ok(())
    }

    async fn keys(&self) -> Result<Vec<String>, KvError> {
        let state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        Ok(state.entries.keys().cloned().collect())
    }

    async fn watch_keys(&self) -> Result<BoxStream<'static, String>, KvError> {
        // Subscribed before the keys are listed, so none written in between is missed.
        let written = self.written.subscribe();
        let now = self.keys().await?;
        // A watcher that fell behind has missed keys: its stream ends and it watches again.
        let later = futures::stream::unfold(written, |mut written| async move {
            written.recv().await.ok().map(|key| (key, written))
        });
        Ok(futures::stream::iter(now).chain(later).boxed())
    }
}

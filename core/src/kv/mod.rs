//! A key-value bucket with revision checks, modelled on JetStream KV: the job
//! records live here so that any coordinator can answer for any job and a
//! restarted one resumes from it. [`MemoryKv`] serves the embedded mode and
//! unit tests; [`JetStreamKv`] the cluster. Both pass the same contract
//! cases (`tessera_testkit::kv_contract`).

pub mod jetstream;
pub mod memory;
pub mod records;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;

pub use jetstream::JetStreamKv;
pub use memory::MemoryKv;
pub use records::RecordError;

/// Key-value failures.
#[derive(Debug, thiserror::Error)]
pub enum KvError {
    /// `create` found the key already there.
    #[error("key '{0}' already exists")]
    AlreadyExists(String),
    /// `update` was given a revision that is no longer the latest.
    #[error("key '{0}' changed since it was read")]
    Conflict(String),
    /// The key has characters a bucket cannot hold.
    #[error("invalid key '{0}'")]
    InvalidKey(String),
    /// The bucket could not be reached or created (transient).
    #[error("key-value bucket: {0}")]
    Connection(String),
}

/// A value and the revision it was written at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvEntry {
    /// The value.
    pub value: Bytes,
    /// Its revision (strictly increasing per bucket).
    pub revision: u64,
}

/// A bucket of keys with optimistic concurrency.
#[async_trait]
pub trait KeyValue: Send + Sync {
    /// The current value of `key`, if any.
    async fn get(&self, key: &str) -> Result<Option<KvEntry>, KvError>;
    /// Writes `key` only if it does not exist; returns the new revision.
    async fn create(&self, key: &str, value: Bytes) -> Result<u64, KvError>;
    /// Writes `key` only if its latest revision is still `revision`.
    async fn update(&self, key: &str, value: Bytes, revision: u64) -> Result<u64, KvError>;
    /// Every key (in no particular order).
    async fn keys(&self) -> Result<Vec<String>, KvError>;
    /// Removes `key` (a missing key is not an error); it can be created again.
    async fn delete(&self, key: &str) -> Result<(), KvError>;
    /// The keys there now, then every key written (created or updated) from
    /// then on, as it is written. The stream ends when the bucket cannot be
    /// followed any more (the connection is lost): watch again.
    async fn watch_keys(&self) -> Result<BoxStream<'static, String>, KvError>;
}

/// Checks a key: 1-256 of `[A-Za-z0-9_=.-]` (what JetStream KV accepts, less `/`).
pub fn validate_key(key: &str) -> Result<(), KvError> {
    let ok = !key.is_empty()
        && key.len() <= 256
        && !key.starts_with('.')
        && !key.ends_with('.')
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'=' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(KvError::InvalidKey(key.to_string()))
    }
}

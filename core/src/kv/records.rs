//! Records kept in a bucket as JSON, one per key, changed by revision-checked
//! read-modify-write: job records, channels and the worker roster share these.

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{KeyValue, KvError};

/// Failures of records kept in a bucket (jobs, channels, the worker roster).
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The bucket failed.
    #[error(transparent)]
    Kv(#[from] KvError),
    /// No record under this key.
    #[error("'{0}' not found")]
    NotFound(String),
    /// A stored record cannot be read (written by an incompatible version).
    #[error("record '{key}' is unreadable: {reason}")]
    Corrupt {
        /// Its key.
        key: String,
        /// The decoding error.
        reason: String,
    },
    /// Others kept changing the record: the update gave up.
    #[error("'{0}' is changing too often to update")]
    Contended(String),
}

/// Attempts of a read-modify-write before [`RecordError::Contended`].
const UPDATE_ATTEMPTS: usize = 50;

/// A record as stored: JSON.
pub fn encode_json<T: Serialize>(record: &T) -> Bytes {
    // Records are plain data: serializing them cannot fail.
    Bytes::from(serde_json::to_vec(record).unwrap_or_default())
}

/// A JSON record and its revision.
pub async fn get_json<T: DeserializeOwned>(kv: &dyn KeyValue, key: &str) -> Result<Option<(T, u64)>, RecordError> {
    let Some(entry) = kv.get(key).await? else { return Ok(None) };
    let record = serde_json::from_slice(&entry.value)
        .map_err(|e| RecordError::Corrupt { key: key.to_string(), reason: e.to_string() })?;
    Ok(Some((record, entry.revision)))
}

/// Applies `change` to the latest JSON record under `key` and writes it back
/// if it returned true, re-reading and retrying when someone else wrote in
/// between. Returns the record as it now stands.
pub async fn update_json<T: Serialize + DeserializeOwned>(
    kv: &dyn KeyValue,
    key: &str,
    mut change: impl FnMut(&mut T) -> bool + Send,
) -> Result<T, RecordError> {
    for _ in 0..UPDATE_ATTEMPTS {
        let (mut record, revision) = get_json(kv, key).await?.ok_or_else(|| RecordError::NotFound(key.into()))?;
        if !change(&mut record) {
            return Ok(record);
        }
        match kv.update(key, encode_json(&record), revision).await {
            Ok(_) => return Ok(record),
            Err(KvError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(RecordError::Contended(key.to_string()))
}

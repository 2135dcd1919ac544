//! Decoded source segments shared by the tasks of one worker: every video
//! rung of a segment needs the same decoded frames, and the coordinator
//! publishes a segment's tasks together, so a worker usually runs several of
//! them. The first task to ask decodes (on a blocking thread); tasks asking
//! meanwhile wait for that decode instead of repeating it. A few segments
//! are kept (memory: frames x width x height x 1.5 bytes each).

use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::OnceCell;

use crate::error::WorkerError;
use crate::transcode::{decode_source_segment, DecodedSegment};

type Slot = Arc<OnceCell<Arc<DecodedSegment>>>;

/// A small cache of decoded segments keyed by source segment key.
pub struct DecodedCache {
    capacity: usize,
    entries: Mutex<VecDeque<(String, Slot)>>,
}

impl DecodedCache {
    /// Keeps up to `capacity` decoded segments.
    pub fn new(capacity: usize) -> Self {
        Self { capacity: capacity.max(1), entries: Mutex::new(VecDeque::new()) }
    }

    fn slot(&self, key: &str) -> Slot {
        // The lock guards only list updates, never a decode; a poisoned list is still consistent.
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, slot)) = entries.iter().find(|(k, _)| k == key) {
            return slot.clone();
        }
        let slot = Slot::default();
        entries.push_back((key.to_string(), slot.clone()));
        while entries.len() > self.capacity {
            entries.pop_front();
        }
        slot
    }

    /// The decoded segment for `key`: loads and decodes it unless another
    /// task already did (or is doing) it. A failed load or decode is not kept.
    pub async fn get_or_decode(
        &self,
        key: &str,
        seq: u32,
        load: impl Future<Output = Result<Bytes, WorkerError>>,
    ) -> Result<Arc<DecodedSegment>, WorkerError> {
        let slot = self.slot(key);
        let decoded = slot
            .get_or_try_init(|| async {
                let bytes = load.await?;
                tokio::task::spawn_blocking(move || decode_source_segment(&bytes, seq).map(Arc::new))
                    .await
                    .map_err(|e| WorkerError::Internal(format!("decode thread failed: {e}")))?
            })
            .await?;
        Ok(decoded.clone())
    }
}

//! Errors of the worker: the media pipeline's and the services'.

/// Why a task could not be completed.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The media itself is at fault (bad input: fail, do not retry).
    #[error(transparent)]
    Media(#[from] tessera_media::MediaError),
    /// The source segment is not what the segmenter writes.
    #[error("source segment {seq}: {reason}")]
    BadSourceSegment {
        /// Segment number.
        seq: u32,
        /// What is wrong.
        reason: String,
    },
    /// Reading the source or writing the output failed (retried).
    #[error(transparent)]
    Store(#[from] tessera_core::StoreError),
    /// The bus failed.
    #[error(transparent)]
    Bus(#[from] tessera_core::bus::BusError),
    /// Something inside the worker failed (retried).
    #[error("internal error: {0}")]
    Internal(String),
}

impl WorkerError {
    /// True when the input is at fault (fail the job, do not retry).
    pub fn is_bad_input(&self) -> bool {
        match self {
            WorkerError::Media(e) => e.is_bad_input(),
            WorkerError::BadSourceSegment { .. } => true,
            // A key that can never be written will not become valid on retry.
            WorkerError::Store(tessera_core::StoreError::InvalidKey(_)) => true,
            WorkerError::Store(_) | WorkerError::Bus(_) | WorkerError::Internal(_) => false,
        }
    }

    /// True when the store or the bus did not answer: worth trying again in
    /// place (an outage), without spending one of the task's deliveries.
    pub fn is_transient(&self) -> bool {
        match self {
            WorkerError::Store(e) => e.is_transient(),
            WorkerError::Bus(e) => e.is_transient(),
            _ => false,
        }
    }
}

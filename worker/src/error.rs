//! Errors of the worker pipeline.

/// Why a segment could not be transcoded.
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
}

impl WorkerError {
    /// True when the input is at fault (fail the job, do not retry).
    pub fn is_bad_input(&self) -> bool {
        match self {
            WorkerError::Media(e) => e.is_bad_input(),
            WorkerError::BadSourceSegment { .. } => true,
        }
    }
}

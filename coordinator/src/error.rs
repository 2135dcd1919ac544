//! Errors of the coordinator.

/// Why a job could not be started or segmented.
#[derive(Debug, thiserror::Error)]
pub enum CoordinatorError {
    /// The source is not usable (bad input).
    #[error(transparent)]
    Media(#[from] tessera_media::MediaError),
    /// The job's settings are not usable (bad input).
    #[error(transparent)]
    Core(#[from] tessera_core::CoreError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] tessera_core::StoreError),
    /// The bus failed.
    #[error(transparent)]
    Bus(#[from] tessera_core::bus::BusError),
    /// A record (job, channel, worker roster) could not be read or written.
    #[error(transparent)]
    Records(#[from] tessera_core::kv::RecordError),
    /// The source is not usable, as a cutting child process reported it (or
    /// its crash: "the source crashed the parser").
    #[error("{0}")]
    BadSource(String),
    /// The job was cancelled while it was being segmented.
    #[error("cancelled")]
    Cancelled,
    /// Something inside the coordinator failed.
    #[error("internal error: {0}")]
    Internal(String),
}

impl CoordinatorError {
    /// True when the store or the bus did not answer (an outage to wait out).
    pub fn is_transient(&self) -> bool {
        match self {
            CoordinatorError::Store(e) => e.is_transient(),
            CoordinatorError::Bus(e) => e.is_transient(),
            _ => false,
        }
    }

    /// True when the input or the job's settings are at fault.
    pub fn is_bad_input(&self) -> bool {
        match self {
            CoordinatorError::Media(e) => e.is_bad_input(),
            CoordinatorError::BadSource(_) => true,
            CoordinatorError::Core(tessera_core::CoreError::Codec(e)) => e.is_bad_input(),
            CoordinatorError::Core(tessera_core::CoreError::Bus(_) | tessera_core::CoreError::Store(_)) => false,
            CoordinatorError::Core(_) => true,
            // A source that is not there will not appear by retrying.
            CoordinatorError::Store(
                tessera_core::StoreError::NotFound(_) | tessera_core::StoreError::InvalidKey(_),
            ) => true,
            CoordinatorError::Store(_)
            | CoordinatorError::Bus(_)
            | CoordinatorError::Records(_)
            | CoordinatorError::Cancelled
            | CoordinatorError::Internal(_) => false,
        }
    }
}

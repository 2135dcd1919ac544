//! Errors of the packager.

/// Packaging failures.
#[derive(Debug, thiserror::Error)]
pub enum PackagerError {
    /// Two segments of one rendition disagree on the decoder configuration.
    #[error("rendition {rendition}: segment {seq} reports a different codec configuration than segment 0")]
    ConfigMismatch {
        /// Rendition name.
        rendition: String,
        /// The disagreeing segment.
        seq: u32,
    },
    /// A rendition is missing segments.
    #[error("incomplete rendition: {0}")]
    Incomplete(String),
    /// Box writing failed.
    #[error(transparent)]
    Media(#[from] tessera_media::MediaError),
    /// A configuration from the wire is invalid.
    #[error(transparent)]
    Core(#[from] tessera_core::CoreError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] tessera_core::StoreError),
    /// The bus failed.
    #[error(transparent)]
    Bus(#[from] tessera_core::bus::BusError),
}

impl PackagerError {
    /// True when retrying cannot help (the job's own data is at fault).
    pub fn is_permanent(&self) -> bool {
        match self {
            PackagerError::ConfigMismatch { .. }
            | PackagerError::Incomplete(_)
            | PackagerError::Media(_)
            | PackagerError::Core(_)
            | PackagerError::Store(tessera_core::StoreError::InvalidKey(_)) => true,
            PackagerError::Store(_) | PackagerError::Bus(_) => false,
        }
    }

    /// True when the store or the bus did not answer (an outage to wait out).
    pub fn is_transient(&self) -> bool {
        match self {
            PackagerError::Store(e) => e.is_transient(),
            PackagerError::Bus(e) => e.is_transient(),
            _ => false,
        }
    }
}

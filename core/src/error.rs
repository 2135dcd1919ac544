//! Errors of the shared contract crate.

/// A ladder (or other shared configuration) that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// The ladder file is not valid JSON of the expected shape.
    #[error("invalid ladder: {0}")]
    LadderSyntax(#[from] serde_json::Error),
    /// The ladder file is not valid TOML of the expected shape.
    #[error("invalid ladder: {0}")]
    LadderToml(#[from] toml::de::Error),
    /// A rung has an impossible value.
    #[error("invalid rung {rung}: {reason}")]
    InvalidRung {
        /// Rendition name of the rung.
        rung: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A value (id, codec name, setting) that cannot be used.
    #[error("{0}")]
    InvalidValue(String),
    /// A decoder configuration received on the wire cannot be read.
    #[error(transparent)]
    Codec(#[from] tessera_codec::CodecError),
    /// The message bus failed.
    #[error(transparent)]
    Bus(#[from] crate::bus::BusError),
    /// The object store failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The ladder has no rung for the requested codecs.
    #[error("the ladder has no rung for {0}")]
    Empty(String),
}

//! Errors of the shared contract crate.

/// A ladder (or other shared configuration) that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// The ladder file is not valid JSON of the expected shape.
    #[error("invalid ladder: {0}")]
    LadderSyntax(#[from] serde_json::Error),
    /// A rung has an impossible value.
    #[error("invalid rung {rung}: {reason}")]
    InvalidRung {
        /// Rendition name of the rung.
        rung: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The ladder has no rung for the requested codecs.
    #[error("the ladder has no rung for {0}")]
    Empty(String),
}

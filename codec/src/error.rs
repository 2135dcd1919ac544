//! The codec crate's error: a decoder configuration or bitstream that
//! cannot be read.

/// Result alias for the codec crate.
pub type Result<T, E = CodecError> = std::result::Result<T, E>;

/// A decoder configuration or bitstream that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// Invalid H.264 bitstream or parameter sets.
    #[error("invalid H.264 bitstream: {0}")]
    InvalidH264(String),

    /// H.264 with a pixel format other than 8-bit 4:2:0.
    #[error("unsupported H.264 format: {profile} profile, {chroma}, {bit_depth}-bit: only 8-bit 4:2:0 is supported")]
    UnsupportedH264Format {
        /// Profile name (e.g. "High 10").
        profile: String,
        /// Chroma format (e.g. "4:2:2").
        chroma: &'static str,
        /// Luma bit depth.
        bit_depth: u8,
    },

    /// A structure is present but its content could not be parsed.
    #[error("malformed '{kind}' at offset {offset}: {reason}")]
    Malformed {
        /// What was being read.
        kind: String,
        /// Byte offset of it.
        offset: u64,
        /// What the parser found wrong.
        reason: String,
    },

    /// An encoder's own output could not be read (its OBUs, its sequence header).
    #[error("{codec} encoder: {reason}")]
    Encode {
        /// "h264" or "av1".
        codec: &'static str,
        /// What failed.
        reason: String,
    },
}

impl CodecError {
    /// True when the input is at fault (an encoder's output is not).
    pub fn is_bad_input(&self) -> bool {
        !matches!(self, CodecError::Encode { .. })
    }
}

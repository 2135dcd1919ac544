//! The media crate's error type: every variant carries the facts a user needs
//! (which box, at which offset, which codec was found, which limit was hit).

use std::fmt;

/// Result alias for the media crate.
pub type Result<T, E = MediaError> = std::result::Result<T, E>;

/// Everything that can go wrong reading, decoding, encoding or muxing media.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// The input has no bytes at all.
    #[error("the file is empty (0 bytes)")]
    Empty,

    /// The input does not start like an ISO-BMFF (MP4/MOV) file.
    #[error("not an MP4/MOV file: it starts with {0}")]
    NotMp4(FirstBytes),

    /// A box claims more bytes than the file holds.
    #[error(
        "truncated file: the '{kind}' box at offset {offset} declares {declared} bytes but only {available} remain"
    )]
    Truncated {
        /// Four-character code of the box.
        kind: String,
        /// Byte offset of the box header.
        offset: u64,
        /// Size the header declares (bytes, header included).
        declared: u64,
        /// Bytes actually present from the box start to the end of the file.
        available: u64,
    },

    /// A required box is absent.
    #[error("no '{kind}' box found{hint}")]
    MissingBox {
        /// Four-character code of the missing box.
        kind: &'static str,
        /// Extra context, e.g. that the file may be truncated.
        hint: &'static str,
    },

    /// A box is present but its content could not be parsed.
    #[error("malformed '{kind}' box at offset {offset}: {reason}")]
    Malformed {
        /// Four-character code of the box.
        kind: String,
        /// Byte offset of the box header.
        offset: u64,
        /// What the parser found wrong.
        reason: String,
    },

    /// The file has no video track.
    #[error("no video track: found {found}")]
    NoVideoTrack {
        /// Description of the tracks that were found.
        found: String,
    },

    /// The video track uses a codec other than H.264.
    #[error("unsupported video codec {codec} (fourcc '{fourcc}'): only H.264 (avc1/avc3) input is supported")]
    UnsupportedVideoCodec {
        /// Human name: hevc, vp9, av1, mpeg4, ...
        codec: &'static str,
        /// The sample entry's four-character code.
        fourcc: String,
    },

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

    /// A valid file in a form Tessera does not read yet.
    #[error("unsupported input: {0}")]
    Unsupported(String),

    /// A value is beyond a configured limit.
    #[error("{what} {value} exceeds the limit of {limit}")]
    LimitExceeded {
        /// What was measured (e.g. "video width").
        what: &'static str,
        /// The value found.
        value: u64,
        /// The configured maximum.
        limit: u64,
    },

    /// A sample's bytes lie outside the file.
    #[error("sample {index} of track {track} at offset {offset} (+{size} bytes) lies beyond the end of the file ({file_len} bytes): truncated file")]
    SampleOutOfRange {
        /// Track id.
        track: u32,
        /// Sample index in decode order.
        index: usize,
        /// Byte offset of the sample.
        offset: u64,
        /// Sample size.
        size: u32,
        /// Length of the file.
        file_len: u64,
    },

    /// Invalid H.264 bitstream or parameter sets.
    #[error("invalid H.264 bitstream: {0}")]
    InvalidH264(String),

    /// A decoder failed on a sample.
    #[error("decode failed at sample {index} (pts {pts}): {reason}")]
    Decode {
        /// Sample index within the decoded run.
        index: usize,
        /// Presentation timestamp of the sample.
        pts: i64,
        /// Decoder message.
        reason: String,
    },

    /// An encoder was misconfigured or failed.
    #[error("{codec} encoder: {reason}")]
    Encode {
        /// "h264" or "av1".
        codec: &'static str,
        /// What failed.
        reason: String,
    },

    /// Frames handed to a scaler or encoder do not have the expected shape.
    #[error("frame geometry: {0}")]
    Geometry(String),

    /// The box writer could not serialize a box.
    #[error("writing '{kind}' failed: {reason}")]
    Mux {
        /// Box being written.
        kind: &'static str,
        /// Underlying error.
        reason: String,
    },

    /// Reading the input failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

impl MediaError {
    /// True when the error is caused by the input media (fail the job, do not
    /// retry) rather than by the environment.
    pub fn is_bad_input(&self) -> bool {
        // An encoder fault is ours (or the machine's), not the input's: retry it.
        !matches!(self, MediaError::Io(_) | MediaError::Mux { .. } | MediaError::Encode { .. })
    }
}

/// The first bytes of a file, shown as hex and printable ASCII in errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirstBytes(pub Vec<u8>);

impl fmt::Display for FirstBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hex: Vec<String> = self.0.iter().map(|b| format!("{b:02x}")).collect();
        let ascii: String =
            self.0.iter().map(|&b| if b.is_ascii_graphic() || b == b' ' { b as char } else { '.' }).collect();
        write!(f, "{} (\"{}\")", hex.join(" "), ascii)
    }
}

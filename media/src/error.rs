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

    /// No container libavformat knows.
    #[error("not a media file: no container libavformat recognises; it starts with {0}")]
    Unrecognised(FirstBytes),

    /// A structure is present but its content could not be parsed.
    #[error("malformed '{kind}' at offset {offset}: {reason}")]
    Malformed {
        /// What was being read (a box's four-character code, an FLV tag).
        kind: String,
        /// Byte offset of it.
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

    /// libavformat cannot read the input.
    #[error("cannot read the input: {0}")]
    Container(String),

    /// No decoder for the stream's codec in this build.
    #[error("unsupported {kind} codec '{codec}': this build of FFmpeg has no decoder for it")]
    UnsupportedCodec {
        /// "video", "audio" or "source".
        kind: &'static str,
        /// libavcodec's name for the codec ("none" when the container's codec is unknown).
        codec: String,
    },

    /// The container declares more frames than the file holds.
    #[error("truncated file: the container declares {declared} video frames but only {read} are present")]
    IncompleteStream {
        /// Frames the container declares.
        declared: u64,
        /// Frames present.
        read: u64,
    },

    /// A source segment is malformed (it came from our own coordinator: a bug or a damaged store).
    #[error("malformed source segment: {0}")]
    BadSegment(String),

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

    /// A decoder configuration or bitstream that cannot be read (`tessera-codec`).
    #[error(transparent)]
    Codec(#[from] tessera_codec::CodecError),

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

    /// Encoder settings were refused before an encoder was built.
    #[error("{codec} encoder settings: {error}")]
    Settings {
        /// "h264" or "av1".
        codec: &'static str,
        /// What was wrong.
        error: crate::encode::SettingsError,
    },

    /// An encoder failed.
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
        match self {
            MediaError::Codec(e) => e.is_bad_input(),
            e => !matches!(e, MediaError::Io(_) | MediaError::Mux { .. } | MediaError::Encode { .. }),
        }
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

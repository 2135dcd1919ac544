//! A rendition's `init.mp4`, built from the configuration its first segment
//! reports; later segments must report the same configuration.

use tessera_media::cmaf::{init_segment, SampleEntry, TrackSpec};
use tessera_media::CodecConfig;

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
    /// Box writing failed.
    #[error(transparent)]
    Media(#[from] tessera_media::MediaError),
}

/// The init segment of a single-track video rendition (track id 1, as the
/// workers' fragments use).
pub fn rendition_init(config: &CodecConfig, timescale: u32, width: u32, height: u32) -> Result<Vec<u8>, PackagerError> {
    let entry = match config {
        CodecConfig::Avc(c) => SampleEntry::Avc(c.clone()),
        CodecConfig::Av1(c) => SampleEntry::Av1(c.clone()),
    };
    Ok(init_segment(&[TrackSpec { track_id: 1, timescale, width, height, entry }])?)
}

/// Checks that a later segment's configuration matches the first one's.
pub fn check_same_config(
    rendition: &str,
    first: &CodecConfig,
    seq: u32,
    later: &CodecConfig,
) -> Result<(), PackagerError> {
    if first != later {
        return Err(PackagerError::ConfigMismatch { rendition: rendition.to_string(), seq });
    }
    Ok(())
}

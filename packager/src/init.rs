//! A rendition's `init.mp4`, built from the configuration its segments report.

use tessera_core::wire::TrackConfig;
use tessera_media::cmaf::{init_segment, InitTrack};
use tessera_media::DecoderConfig;

use crate::error::PackagerError;

/// The init segment of a single-track rendition (track id 1, as the
/// workers' fragments use); `media_start` skips encoder priming (an edit
/// list), 0 for none.
pub fn rendition_init(
    config: &DecoderConfig,
    timescale: u32,
    (width, height): (u32, u32),
    media_start: u64,
) -> Result<Vec<u8>, PackagerError> {
    let (width, height) = if config.is_video() { (width, height) } else { (0, 0) };
    let track = InitTrack { track_id: 1, timescale, width, height, config: config.clone(), media_start };
    Ok(init_segment(&[track])?)
}

/// The init segment of any rendition from its wire configuration.
pub fn init_from_wire(
    config: &TrackConfig,
    timescale: u32,
    size: (u32, u32),
    media_start: u64,
) -> Result<Vec<u8>, PackagerError> {
    rendition_init(&config.decoder_config()?, timescale, size, media_start)
}

/// Checks that a later segment's configuration matches the first one's.
pub fn check_same_config(
    rendition: &str,
    first: &DecoderConfig,
    seq: u32,
    later: &DecoderConfig,
) -> Result<(), PackagerError> {
    if first != later {
        return Err(PackagerError::ConfigMismatch { rendition: rendition.to_string(), seq });
    }
    Ok(())
}

/// A rendition's init segment (an audio one with its priming as the edit list).
pub fn init_of(r: &crate::rendition::Rendition) -> Result<Vec<u8>, PackagerError> {
    let media_start = match r.spec {
        tessera_core::wire::RenditionSpec::Audio { priming, .. } => priming,
        tessera_core::wire::RenditionSpec::Video { .. } | tessera_core::wire::RenditionSpec::Thumbnails(_) => 0,
    };
    init_from_wire(r.config(), r.timescale(), r.size(), media_start)
}

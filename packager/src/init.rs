//! A rendition's `init.mp4`, built from the configuration its segments report.

use tessera_core::wire::{MediaConfig, TrackConfig};
use tessera_media::cmaf::{init_segment, SampleEntry, TrackSpec};
use tessera_media::CodecConfig;

use crate::error::PackagerError;

/// The init segment of a single-track video rendition (track id 1, as the
/// workers' fragments use).
pub fn rendition_init(config: &CodecConfig, timescale: u32, width: u32, height: u32) -> Result<Vec<u8>, PackagerError> {
    let entry = match config {
        CodecConfig::Avc(c) => SampleEntry::Avc(c.clone()),
        CodecConfig::Av1(c) => SampleEntry::Av1(c.clone()),
    };
    Ok(init_segment(&[TrackSpec { track_id: 1, timescale, width, height, entry, media_start: 0 }])?)
}

/// The init segment of any rendition from its wire configuration;
/// `media_start` skips encoder priming (an edit list), 0 for none.
pub fn init_from_wire(
    config: &TrackConfig,
    timescale: u32,
    (width, height): (u32, u32),
    media_start: u64,
) -> Result<Vec<u8>, PackagerError> {
    match config.to_media()? {
        MediaConfig::Video(c) => rendition_init(&c, timescale, width, height),
        MediaConfig::Aac(c) => {
            let spec =
                TrackSpec { track_id: 1, timescale, width: 0, height: 0, entry: SampleEntry::Aac(c), media_start };
            Ok(init_segment(&[spec])?)
        }
    }
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

/// A rendition's init segment (an audio one with its priming as the edit list).
pub fn init_of(r: &crate::rendition::Rendition) -> Result<Vec<u8>, PackagerError> {
    let media_start = match r.spec {
        tessera_core::wire::RenditionSpec::Audio { priming, .. } => priming,
        tessera_core::wire::RenditionSpec::Video { .. } | tessera_core::wire::RenditionSpec::Thumbnails(_) => 0,
    };
    init_from_wire(r.config(), r.timescale(), r.size(), media_start)
}

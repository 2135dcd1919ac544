//! Audio tasks: the source segment's AAC-LC frames (copied or encoded once by
//! the coordinator) into the audio rendition's CMAF fragment.

use tessera_media::pipeline::copy_audio;

pub use tessera_media::pipeline::AudioRendition as AudioSegment;

use crate::error::WorkerError;
use crate::transcode::parse_source_segment;

/// Copies audio track `track`'s AAC frames of one source segment into a fragment numbered `seq + 1`.
pub fn copy_audio_segment(source_segment: &[u8], seq: u32, track: u8) -> Result<AudioSegment, WorkerError> {
    let segment = parse_source_segment(source_segment, seq)?;
    Ok(copy_audio(&segment, track)?)
}

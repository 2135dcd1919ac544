//! Thumbnail tasks: a source segment's seek-bar thumbnails as one JPEG
//! sprite, and the poster when the segment holds the poster's time.

use tessera_core::wire::ThumbnailSpec;
use tessera_media::thumbnails::{segment_thumbnails, SegmentThumbnails, ThumbnailTarget};

use crate::error::WorkerError;
use crate::transcode::parse_source_segment;

/// The thumbnails of one source segment.
pub fn thumbnail_segment(
    source_segment: &[u8],
    seq: u32,
    spec: &ThumbnailSpec,
) -> Result<SegmentThumbnails, WorkerError> {
    let segment = parse_source_segment(source_segment, seq)?;
    let target = ThumbnailTarget {
        interval_secs: spec.interval_secs,
        long_side: spec.long_side,
        poster_at_secs: spec.poster_at_secs,
        poster_long_side: spec.poster_long_side,
    };
    Ok(segment_thumbnails(&segment, &target)?)
}
